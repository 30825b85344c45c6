"""Fine-tuning from the official 16-px snapshot (`train.transfer`).

The fast tests resolve `experiments/auto.py:res=16` against the snapshot
(settings from the source, explicit values that disagree are errors, data
that does not fit is an error) and check that the initialised state's
G_ema, G and D reproduce the official outputs stored beside the snapshot
(to the README's float32 tolerance, 1e-5 x max |ref|), with p = 0.2 from its
augment pipe. The slow test runs `python -m stylegan_jax.main` on a 16-px
folder of three classes.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from stylegan_jax import checkpoint
from stylegan_jax import configs
from stylegan_jax import images as images_lib
from stylegan_jax import sharding
from stylegan_jax.errors import ConfigError
from stylegan_jax.train import setup as setup_lib
from stylegan_jax.train import transfer
from tests import reference

ROOT = pathlib.Path(__file__).resolve().parents[2]
RTOL = 1e-5  # The snapshot README's float32 tolerance (x max |ref|).
FROM_SOURCE = {"model.z_dim": 32, "model.w_dim": 32,
               "model.mapping_layers": 2, "model.channel_base": 256,
               "model.channel_max": 32, "model.conv_clamp": 256.0,
               "model.g_architecture": "skip",
               "model.d_architecture": "resnet",
               "model.mbstd_group_size": 2, "model.mbstd_num_channels": 1,
               "model.mapping_lr_multiplier": 0.01, "data.conditional": True}


@pytest.fixture(scope="module")
def fixture():
  ref = reference.require()
  return (str(reference.require(ref / "sg2ada_snapshot_16.pkl")),
          np.load(reference.require(ref /
                                    "sg2ada_snapshot_16_expected.npz")))


def _auto(pkl, arg="res=16,data=/data/paintings"):
  spec = importlib.util.spec_from_file_location(
      "auto", ROOT / "experiments" / "auto.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config(arg)
  config.train.resume_from = pkl
  return config


def _close(actual, expected):
  err = np.max(np.abs(np.asarray(actual) - expected))
  assert err <= RTOL * np.max(np.abs(expected)), err


def test_network_settings_come_from_the_source(fixture, tmp_path):
  pkl, _ = fixture
  experiment = _auto(pkl)
  before = experiment.to_json()
  config, source = transfer.resolve_config(experiment, tmp_path)
  assert {k: transfer._get(config, k) for k in FROM_SOURCE} == FROM_SOURCE  # pylint: disable=protected-access
  assert experiment.to_json() == before  # The caller's config is untouched.
  assert config.optim.g_lr == experiment.optim.g_lr  # Not a network key.
  assert source.augment_p == pytest.approx(0.2) and source.G.c_dim == 3
  # An explicit value that agrees is fine; a free one wins.
  experiment.model.z_dim = 32
  experiment.model.mbstd_group_size = 4
  config, _ = transfer.resolve_config(
      experiment, tmp_path, explicit={"model.z_dim",
                                      "model.mbstd_group_size"})
  assert (config.model.z_dim, config.model.mbstd_group_size) == (32, 4)


def test_explicit_disagreement_names_both_values(fixture, tmp_path):
  pkl, _ = fixture
  with pytest.raises(ConfigError, match=r"model\.channel_base=16384 "
                     r"disagrees with .*sg2ada_snapshot_16\.pkl \(it has 256"
                     r"\)"):
    transfer.resolve_config(_auto(pkl), tmp_path,
                            explicit={"model.channel_base"})


def test_data_that_does_not_fit_is_an_error(fixture, tmp_path):
  pkl, _ = fixture
  with pytest.raises(ConfigError, match=r"data\.resolution=32 but .* makes "
                     r"16x16 images"):
    transfer.resolve_config(_auto(pkl, "res=32,data=/d"), tmp_path)
  _, source = transfer.resolve_config(_auto(pkl), tmp_path)
  transfer.check_labels(source, 3)
  with pytest.raises(ConfigError, match="conditional on 3 classes but the "
                     "data has 5"):
    transfer.check_labels(source, 5)
  with pytest.raises(ConfigError, match="conditional on 3 classes but the "
                     "data has 0"):
    transfer.check_labels(source, 0)


def test_networks_the_config_cannot_express_are_an_error(fixture, tmp_path):
  pkl, _ = fixture
  config, source = transfer.resolve_config(_auto(pkl), tmp_path)
  odd = transfer.Source(spec="odd.pkl", G=source.G, g_variables={},
                        ema_variables={}, D=source.D.clone(cmap_dim=7),
                        d_variables={})
  with pytest.raises(ConfigError, match=r"its D\.cmap_dim=7 cannot be set"):
    transfer._check_networks(config, odd)  # pylint: disable=protected-access


def test_a_started_run_resumes_with_its_stored_settings(fixture, tmp_path):
  pkl, _ = fixture
  stored = _auto(pkl)
  stored.model.channel_base = 512  # What the first run trained with.
  manager = checkpoint.create_manager(tmp_path)
  checkpoint.save(manager, 4, {"x": np.zeros(2, np.float32)},
                  {"config": json.loads(stored.to_json_best_effort()),
                   "c_dim": 3, "class_names": ["a", "b", "c"]}, wait=True)
  config, source = transfer.resolve_config(_auto(pkl), tmp_path)
  assert source is None and config.model.channel_base == 512


def test_initial_state_reproduces_the_snapshot(fixture, tmp_path):
  pkl, expected = fixture
  config, source = transfer.resolve_config(_auto(pkl), tmp_path)
  setup = setup_lib.build(config, 3, sharding.create_mesh(4))
  # A placeholder state with the real shapes and shardings (no compiling).
  state = jax.device_put(
      jax.tree.map(lambda a: np.zeros(a.shape, a.dtype),
                   setup.abstract_state), setup.state_shardings)
  state = transfer.initialise(state, source, setup.state_shardings,
                              use_augment_p=True)
  assert float(state.augment["p"]) == np.float32(0.2)
  assert all(not np.any(x) for x in jax.tree.leaves(state.d_opt_state))
  G, D = setup.G, setup.D
  z, c = expected["in/z"], expected["in/c"]
  psi = float(expected["in/truncation_psi"])
  render = jax.jit(lambda p, b: G.apply({"params": p, "buffers": b}, z, c,
                                        psi, noise_mode="const"))
  ema = render(state.ema_params, state.ema_buffers)
  _close(np.transpose(ema, (0, 3, 1, 2)), expected["out/G_ema_img_const"])
  _close(np.transpose(render(state.g_params, state.g_buffers), (0, 3, 1, 2)),
         expected["out/G_img_const"])
  logits = jax.jit(lambda p, img: D.apply({"params": p}, img, c))(
      state.d_params, ema)
  _close(logits, expected["out/D_logits"])
  # Outside mode 'ada' p keeps the config's value.
  fixed = transfer.initialise(state.replace(augment={
      **state.augment, "p": jnp.float32(0.5)}), source,
                              setup.state_shardings, use_augment_p=False)
  assert float(fixed.augment["p"]) == np.float32(0.5)


def _folder(root: pathlib.Path) -> pathlib.Path:
  rng = np.random.RandomState(0)
  for name in ("cubes", "rings", "waves"):
    (root / name).mkdir(parents=True)
    for i in range(4):
      Image.fromarray(rng.randint(0, 256, (16, 16, 3), np.uint8)).save(
          root / name / f"{i}.png")
  return root


def _main(args, cwd):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
             PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get(
                 "PYTHONPATH", ""))
  return subprocess.run([sys.executable, "-m", "stylegan_jax.main", *args],
                        cwd=cwd, env=env, capture_output=True, text=True,
                        timeout=1800, check=False)


@pytest.mark.slow
def test_fine_tuning_from_the_command_line(fixture, tmp_path):
  pkl, _ = fixture
  data = _folder(tmp_path / "paintings")
  workdir = tmp_path / "run"
  common = ["--config", f"{ROOT}/experiments/auto.py:data={data},res=16",
            f"--config.train.resume_from={pkl}", f"--workdir={workdir}"]
  # An explicit network value that disagrees: one line, exit 2.
  bad = _main(common + ["--config.model.channel_base=512"], tmp_path)
  assert bad.returncode == 2, bad.stderr[-3000:]
  assert "model.channel_base=512 disagrees" in bad.stderr
  assert "(it has 256)" in bad.stderr

  done = _main(common + ["--config.train.total_kimg=0.064",
                         "--config.evals.metrics="], tmp_path)
  assert done.returncode == 0, done.stderr[-3000:]
  manager = checkpoint.create_manager(workdir, read_only=True)
  assert checkpoint.steps(manager) == [2]
  stored = checkpoint.read_config(manager, 2)
  assert stored["config"]["model"]["channel_base"] == 256
  assert stored["c_dim"] == 3
  # p started at the snapshot's 0.2; two iterations: no adjustment yet.
  p_abstract = jax.ShapeDtypeStruct((), jnp.float32)
  restored = checkpoint.restore_variables(manager, 2, {"augment": {
      "p": p_abstract, "sign_sum": p_abstract, "count": p_abstract}})
  assert float(restored["augment"]["p"]) == np.float32(0.2)

  # The step-0 grid is the snapshot's G_ema (before any update) on the
  # loop's fixed grid latents, one row per class.
  config, source = transfer.resolve_config(_auto(pkl), tmp_path / "new")
  alg = setup_lib.build(config, 3, sharding.create_mesh(1)).algorithm
  inputs = alg.grid_inputs(jax.random.key(config.train.seed + 1), 3,
                           config.train.grid_size, True)
  want = images_lib.make_grid(np.asarray(alg.render(
      source.ema_variables["params"], source.ema_variables["buffers"],
      inputs)), config.train.grid_size)
  got = np.asarray(Image.open(workdir / "samples" / "fakes000000000.png"))
  assert got.shape == want.shape
  assert np.max(np.abs(got.astype(int) - want.astype(int))) <= 1
  assert (workdir / "samples" / "augmented000000000.png").is_file()


def test_validate_checks_that_the_source_exists(fixture, tmp_path):
  pkl, _ = fixture
  config = _auto(pkl, f"res=16,data={tmp_path}")
  (tmp_path / "a.png").write_bytes(b"")
  configs.validate(config)
  config.train.resume_from = str(tmp_path) + "@1200"  # workdir@step
  configs.validate(config)
  config.train.resume_from = str(tmp_path / "missing.pkl")
  with pytest.raises(ConfigError, match=r"train\.resume_from=.*missing\.pkl"
                     r"' does not exist"):
    configs.validate(config)
