"""Inception metrics end to end with the fixture's ternary Inception.

A demo-like workdir (the tiny conditional 8 px config on the embedded set,
one checkpoint, `evals` naming the fixture's ternary Inception) is scored by
`python -m stylegan_jax.metrics --model WORKDIR` with 4 generated and 4
real images per metric: the values are meaningless, the plumbing is not.
The real statistics are cached, their key printed, and reused by a second
run. Slow tests: FID and KID against the same images embedded without the
sharded batching (one plain `features.inception.features` call) and the
NumPy metric maths (`test_vgg_metrics.py` checks the same batching cheaply
with a tiny VGG16); and a training run whose logged snapshot metrics the
tool reproduces on the same checkpoint.
"""

import json

import numpy as np
import pytest

from stylegan_jax import checkpoint
from stylegan_jax import evaluators
from stylegan_jax import model_io
from stylegan_jax import sharding
from stylegan_jax.data import embedded
from stylegan_jax.evaluators import context as context_lib
from stylegan_jax.features import inception
from stylegan_jax.features import weights
from stylegan_jax.metrics import evaluate
from stylegan_jax.metrics import fid
from stylegan_jax.metrics import kid
from stylegan_jax.tools import metrics as metrics_tool
from stylegan_jax.train import loop
from stylegan_jax.train import setup
from tests import reference
from tests.tools import user_error
from tests.train import test_loop
from tests.train.test_loop import tiny_config

CLASS_PROBS = [0.4, 0.3, 0.1, 0.1, 0.1]


def _inception_file():
  return reference.require(reference.reference_dir()
                           / "fid_inception_ternary_zip.pth.xz")


def _config(cache_dir, steps=1):
  config = tiny_config(steps)
  e = config.evals
  e.metrics = "fid50k_full,kid50k_full,swd"
  e.inception = str(_inception_file())
  e.cache_dir = str(cache_dir)
  e.max_images = 4  # One batch of 4 (a row per fake device) per image set.
  e.batch_size = 4
  e.swd_num_images = 8
  e.swd_directions = 16
  return config


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  """A workdir with one checkpoint of a fresh tiny conditional generator."""
  root = tmp_path_factory.mktemp("demo")
  config = _config(root / "cache")
  built = setup.build(config, 5, sharding.create_mesh(1))
  manager = checkpoint.create_manager(root / "run")
  checkpoint.save(manager, 0, built.init(), {
      "config": json.loads(config.to_json_best_effort()), "c_dim": 5,
      "class_names": list(embedded.STYLE_NAMES),
      "class_probs": CLASS_PROBS}, wait=True)
  return root / "run", root / "cache"


@pytest.fixture(scope="module")
def cli(workdir, tmp_path_factory):
  """The metrics tool on the workdir alone: every setting is the stored one."""
  out = tmp_path_factory.mktemp("out") / "m.json"
  lines, log = [], []
  args = metrics_tool.build_parser().parse_args(
      ["--model", str(workdir[0]), "--json_out", str(out)])
  record = metrics_tool.run(args, print_fn=lines.append, log=log.append)
  return record, lines, log, json.loads(out.read_text())


def test_fid_kid_swd_from_the_workdir(cli, workdir):
  record, lines, log, saved = cli
  values = record["metrics"]
  assert list(values) == ["fid50k_full", "kid50k_full", "swd/8", "swd/avg"]
  assert all(np.isfinite(v) for v in values.values())
  assert values["fid50k_full"] > 0
  assert record["counts"] == {
      "fid50k_full/generated": 4, "fid50k_full/real": 4,
      "kid50k_full/generated": 4, "kid50k_full/real": 4,
      "swd/generated": 4, "swd/real": 4}  # max_images caps swd too.
  assert lines[0] == f"fid50k_full {values['fid50k_full']:.4f}"
  assert saved["metrics"] == pytest.approx(values)
  assert saved["evals"]["inception"] == str(_inception_file())
  # The real statistics: computed once for both metrics, key printed.
  [computed] = [l for l in log if "computing real-image statistics" in l]
  assert '"count": 4' in computed and '"source": "embedded"' in computed
  assert '"resize": "pytorch-fid"' in computed
  caches = list((workdir[1] / "metrics").glob("reals-inception-8px-4-*.npz"))
  assert len(caches) == 1 and str(caches[0]) in computed
  assert any("Inception features of 4 generated images" in l for l in log)


@pytest.mark.slow  # ~20 s of Inception on 2 cores; PR covers the batching.
def test_values_match_plain_feature_extraction(cli, workdir):
  """Sharded, padded batches and the cache change nothing."""
  record, _, _, _ = cli
  params = weights.load("inception", _inception_file(),
                        cache_dir=workdir[1])
  # The same images: the evaluators' definition (tests/evaluators/
  # test_definitions.py checks it against the generate tool).
  model = model_io.load_model(str(workdir[0]))
  settings = evaluate.evals_settings(evaluate.stored_meta(workdir[0]), {})
  ctx = context_lib.Context(
      settings, reals=evaluators.RealImages("embedded", num_images=64),
      class_probs=CLASS_PROBS, mesh=sharding.create_mesh(), log=print)
  ctx.start(model.G, model.variables)
  fake = ctx.generated_images(4)
  real = embedded.make_dataset(64, 8, 0)[0][:4]
  feats = inception.features(params, np.concatenate([fake, real]))["pool3"]
  feats = np.asarray(feats, np.float64)
  # Float32 features from differently batched programs: ~1e-6 relative;
  # the distance of two 4-point sets amplifies that little.
  np.testing.assert_allclose(
      record["metrics"]["fid50k_full"],
      fid.frechet_distance_low_rank(feats[4:], feats[:4]), rtol=1e-4)
  np.testing.assert_allclose(
      record["metrics"]["kid50k_full"],
      kid.kid(feats[4:], feats[:4], num_subsets=100, max_subset_size=1000,
              seed=0), rtol=1e-4)


def test_second_run_reads_the_cache(cli, workdir):
  record, _, _, _ = cli
  log = []
  again = evaluate.evaluate(["fid50k_full"], model=str(workdir[0]),
                            data="embedded", log=log.append)
  assert any("real-image statistics from the cache" in l for l in log)
  assert not any("computing real-image statistics" in l for l in log)
  assert again["metrics"]["fid50k_full"] == record["metrics"]["fid50k_full"]


def test_missing_inception_is_one_line(workdir, capsys):
  line = user_error(metrics_tool.main, [
      "--model", str(workdir[0]), "--metrics", "fid10k", "--inception", ""],
                    capsys)
  assert "pt_inception-2015-12-05-6726825d.pth" in line
  assert "--inception" in line


@pytest.mark.slow
def test_training_and_the_tool_agree(tmp_path):
  """What training logs at its last snapshot is what the tool computes."""
  config = _config(tmp_path / "cache", steps=2)
  state = loop.train_and_evaluate(config, str(tmp_path / "run"))
  lines = evaluators.evaluation.read_jsonl(tmp_path / "run" / "metrics.jsonl")
  # Snapshots at the start and at the end, three metrics each.
  assert [(l["metric"], l["nimg"]) for l in lines] == [
      (m, n) for n in (0, int(state.nimg))
      for m in ("fid50k_full", "kid50k_full", "swd")]
  logged = {k: v for l in lines[3:] for k, v in l["results"].items()}
  record = evaluate.evaluate(["fid50k_full", "kid50k_full", "swd"],
                             model=str(tmp_path / "run"), log=lambda _: None)
  # Same programs on the same devices: the same numbers.
  for k, v in logged.items():
    assert record["metrics"][k] == pytest.approx(v, rel=1e-6), k
  tags = test_loop._logged_scalars(tmp_path / "run")  # pylint: disable=protected-access
  assert {"metric/fid50k_full", "metric/kid50k_full", "metric/swd/avg"} <= tags
