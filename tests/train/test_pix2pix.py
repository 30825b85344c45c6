"""pix2pix training: the losses by hand, the phases' order and shared
dropout, config checks, a bit-identical resume, and (slow) a short training
that lowers the held-out L1."""

import importlib.util
import math
import pathlib

import jax
import numpy as np
import pytest
from PIL import Image

from stylegan_jax import configs
from stylegan_jax import images
from stylegan_jax import model_io
from stylegan_jax import sharding
from stylegan_jax import translation
from stylegan_jax.data import paired
from stylegan_jax.data import pipeline
from stylegan_jax.errors import ConfigError
from stylegan_jax.train import loop
from stylegan_jax.train import pix2pix
from stylegan_jax.train import setup

BATCH = 4
RES = 16
EXPERIMENT = (pathlib.Path(__file__).resolve().parents[2] / "experiments" /
              "pix2pix.py")


def tiny_config(steps: int, num_devices: int = -1):
  """A 16 px pix2pix with a few channels on 32 embedded pairs."""
  c = configs.base_config()
  c.data.source = "embedded_paired"
  c.data.resolution = RES
  c.data.embedded_num_images = 32
  c.data.shuffle_buffer = 32
  c.data.paired_eval_images = 4
  c.model.arch = "pix2pix"
  c.model.pix2pix_g_channels = c.model.pix2pix_d_channels = 4
  c.model.pix2pix_channel_max = 16
  c.model.pix2pix_d_layers = 2  # 16 / 4 - 2 = 2 x 2 patches.
  c.model.mbstd_group_size = 1
  c.loss.r1_gamma = c.loss.pl_weight = 0.0
  c.loss.pl_batch_shrink = 1
  c.optim.g_lr = c.optim.d_lr = 2e-4
  c.optim.betas = (0.5, 0.999)
  c.train.batch_size = BATCH
  c.train.total_kimg = steps * BATCH / 1000
  c.train.ema_kimg = 0.0
  c.train.ema_rampup = None
  c.train.log_every_kimg = 2 * BATCH / 1000
  c.train.snapshot_kimg = 1000.0
  c.train.checkpoint_kimg = 1000.0
  c.train.grid_size = 3
  c.evals.metrics = ""
  c.mesh.num_devices = num_devices
  return c


def leaves(tree):
  return [np.asarray(x) for x in jax.tree.leaves(tree)]


# ------------------------------------------------------------------ losses --


def test_losses_by_hand():
  ln3 = math.log(3.0)
  # BCE(x, 1) = log(1 + e^-x), BCE(x, 0) = log(1 + e^x):
  # real logits (0, ln 3) -> (ln 2, ln 4/3); fake (0, -ln 3) -> the same.
  real = np.array([0.0, ln3], np.float32).reshape(1, 1, 2, 1)
  fake = np.array([0.0, -ln3], np.float32).reshape(1, 1, 2, 1)
  loss, metrics = pix2pix.d_loss(real, fake)
  each = (math.log(2.0) + math.log(4 / 3)) / 2
  np.testing.assert_allclose(float(metrics["loss/D_real"]), each, rtol=1e-6)
  np.testing.assert_allclose(float(metrics["loss/D_fake"]), each, rtol=1e-6)
  np.testing.assert_allclose(float(loss), 0.5 * (each + each), rtol=1e-6)
  np.testing.assert_allclose(float(metrics["scores/real"]), ln3 / 2,
                             rtol=1e-6)
  # G: BCE(ln 3, 1) = ln 4/3; L1 of (0.5, -0.5) against (1, 0) is 0.5.
  fake_logits = np.full((1, 1, 1, 1), ln3, np.float32)
  g_fake = np.array([0.5, -0.5], np.float32).reshape(1, 1, 2, 1)
  target = np.array([1.0, 0.0], np.float32).reshape(1, 1, 2, 1)
  loss, metrics = pix2pix.g_loss(fake_logits, g_fake, target, 100.0)
  np.testing.assert_allclose(float(metrics["loss/G_gan"]), math.log(4 / 3),
                             rtol=1e-6)
  np.testing.assert_allclose(float(metrics["loss/G_l1"]), 0.5, rtol=1e-6)
  np.testing.assert_allclose(float(loss), math.log(4 / 3) + 50.0, rtol=1e-6)
  # Stable for confident logits: BCE(-100, 1) = 100, BCE(100, 0) = 100.
  big = np.full((1, 1, 1, 1), 100.0, np.float32)
  np.testing.assert_allclose(float(pix2pix.d_loss(-big, big)[0]), 100.0,
                             rtol=1e-6)


# ------------------------------------------------------------------ phases --


@pytest.fixture(scope="module")
def built():
  config = tiny_config(1)
  s = setup.build(config, 0, sharding.create_mesh(1))
  src, tgt = paired.make_pairs(BATCH, RES)
  raw = {"source": images.to_float(src), "image": images.to_float(tgt),
         "label": np.zeros(BATCH, np.int32)}
  return s, s.global_batch(raw)


@pytest.mark.slow  # Compiles both phases and a hand-written step.
def test_d_then_g_share_dropout_and_g_sees_the_updated_d(built):
  s, batch = built
  alg = s.algorithm
  assert alg.phases(0) == alg.phases(7) == ["d_main", "g_main"]
  source, real = batch["source"], batch["image"]

  @jax.jit
  def expected_d(state):
    """D's loss with this step's dropout key, and with another key."""
    key = alg.dropout_key(state)
    d_fn = alg.d_fn(state.d_params)
    out = []
    for k in (key, jax.random.fold_in(key, 1)):
      fake = alg.translate_training(state.g_params, source, k)
      out.append(pix2pix.d_loss(d_fn(source, real), d_fn(source, fake))[0])
    return out

  @jax.jit
  def expected_g(state, d_params_before):
    """G's loss with the state's (updated) D, and with D before d_main."""
    fake = alg.translate_training(state.g_params, source,
                                  alg.dropout_key(state))
    return [pix2pix.g_loss(alg.d_fn(d)(source, fake), fake, real,
                           alg.l1_weight)[0]
            for d in (state.d_params, d_params_before)]

  state = s.init()
  want_d, other_key_d = expected_d(state)
  d_params0 = jax.tree.map(np.asarray, state.d_params)
  state, d_metrics = s.steps["d_main"](state, batch)
  # Same computation, one program vs another: float32 re-association only.
  np.testing.assert_allclose(d_metrics["loss/D_main"], want_d, rtol=1e-5)
  assert abs(float(other_key_d) - float(want_d)) > 1e-3  # The mask matters.
  assert any(not np.array_equal(a, b) for a, b in
             zip(leaves(d_params0), leaves(state.d_params)))

  want_g, stale_g = expected_g(state, d_params0)
  state, g_metrics = s.steps["g_main"](state, batch)
  np.testing.assert_allclose(g_metrics["loss/G_main"], want_g, rtol=1e-5)
  assert abs(float(stale_g) - float(want_g)) > 1e-4  # D's update counts.
  for name in ("norm/D_grad", "norm/G_grad", "scores/real", "loss/G_l1"):
    assert name in d_metrics or name in g_metrics


def test_grid_rows_are_source_generated_target(built):
  s, _ = built
  alg = s.algorithm
  inputs = alg.grid_inputs(jax.random.key(0), 7, 3, False)  # 2 groups.
  assert inputs["source"].shape == (2, 3, RES, RES, 3)
  held = pipeline.paired_eval_set(pipeline.DataConfig.from_config(
      tiny_config(1).data))
  index = np.arange(6) % 4  # 4 held-out pairs, repeated to fill the grid.
  np.testing.assert_array_equal(inputs["target"].reshape(6, RES, RES, 3),
                                held["image"][index])
  state = s.init()

  @jax.jit
  def render_and_translate(params):
    fake = alg.G.apply({"params": params},
                       inputs["source"].reshape(6, RES, RES, 3))
    return alg.render(params, {}, inputs), fake

  out, fake = map(np.asarray, render_and_translate(state.ema_params))
  assert out.shape == (18, RES, RES, 3)
  rows = out.reshape(2, 3, 3, RES, RES, 3)
  np.testing.assert_array_equal(rows[:, 0], inputs["source"])
  np.testing.assert_allclose(rows[:, 1], fake.reshape(2, 3, RES, RES, 3),
                             atol=1e-6)
  np.testing.assert_array_equal(rows[:, 2], inputs["target"])


# ------------------------------------------------------------------ config --


def _experiment(arg=None):
  spec = importlib.util.spec_from_file_location("pix2pix_exp", EXPERIMENT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)


def test_experiment_is_the_papers_recipe():
  c = _experiment()
  configs.validate(c, num_devices=1)
  assert (c.data.source, c.model.arch, c.loss.l1_weight, c.optim.g_lr,
          c.optim.d_lr, tuple(c.optim.betas), c.model.pix2pix_dropout) == (
              "embedded_paired", "pix2pix", 100.0, 2e-4, 2e-4, (0.5, 0.999),
              0.5)
  folder = _experiment("data=/somewhere,direction=BtoA")
  configs.validate(folder, num_devices=1, check_paths=False)
  assert (folder.data.resolution, folder.model.pix2pix_g_channels,
          folder.model.pix2pix_d_layers, folder.train.batch_size,
          folder.data.paired_jitter, folder.data.xflip,
          folder.data.paired_direction) == (256, 64, 3, 1, True, True,
                                            "BtoA")


@pytest.mark.parametrize("change,match", [
    ({"model.pix2pix_d_layers": 3}, "model.pix2pix_d_layers=3 is invalid"),
    ({"data.source": "embedded"}, "trains on image pairs"),
    ({"model.arch": "stylegan2"}, "holds image pairs for pix2pix"),
    ({"evals.metrics": "swd"}, "scored on its held-out pairs"),
    ({"data.conditional": True}, "not on labels"),
    ({"model.pix2pix_norm": "layer"}, "one of instance, batch, none"),
    ({"data.paired_layout": "stacked"}, "side_by_side, folders"),
    ({"data.paired_eval_images": 0}, "hold out 1 to"),
    ({"loss.l1_weight": -1.0}, "100 in the paper"),
])
def test_config_mistakes(change, match):
  c = tiny_config(1)
  for key, value in change.items():
    section, name = key.split(".")
    c[section][name] = value
  with pytest.raises(ConfigError, match=match):
    configs.validate(c, num_devices=1)


def test_folders_layout_needs_a_and_b(tmp_path):
  c = tiny_config(1)
  c.data.source, c.data.data_dir = "paired", str(tmp_path)
  c.data.paired_layout = "folders"
  (tmp_path / "A").mkdir()
  (tmp_path / "A" / "x.png").write_bytes(b"")
  with pytest.raises(ConfigError, match="B' does not exist"):
    configs.validate(c, num_devices=1)


# ------------------------------------------------------------------ resume --


@pytest.fixture(scope="module")
def four_steps(tmp_path_factory):
  """One uninterrupted 4-step run on 4 devices."""
  workdir = tmp_path_factory.mktemp("p2p_four")
  return workdir, loop.train_and_evaluate(tiny_config(4), str(workdir))


def test_training_writes_grid_and_checkpoint(four_steps):
  workdir, state = four_steps
  assert int(state.step) == 4 and int(state.nimg) == 4 * BATCH
  assert state.g_buffers == {} and state.ema_buffers == {}
  assert (workdir / "checkpoints" / "4").is_dir()
  grids = sorted((workdir / "samples").iterdir())
  assert [p.name for p in grids] == ["fakes000000000.png",
                                     "fakes000000016.png"]
  # grid_size 3: one group of three rows (source, generated, target).
  assert np.asarray(Image.open(grids[-1])).shape == (3 * RES, 3 * RES, 3)
  # The tools load its G_ema (== G: ema_kimg is 0).
  model = model_io.load_model(str(workdir))
  for a, b in zip(leaves(model.variables["params"]), leaves(state.g_params)):
    np.testing.assert_array_equal(a, b)
  assert translation.check_translator(model).img_resolution == RES


def test_resume_is_bit_identical(four_steps, tmp_path):
  _, uninterrupted = four_steps
  loop.train_and_evaluate(tiny_config(2), str(tmp_path))
  assert (tmp_path / "checkpoints" / "2").is_dir()
  resumed = loop.train_and_evaluate(tiny_config(4), str(tmp_path))
  assert int(resumed.step) == 4
  for a, b in zip(leaves(uninterrupted), leaves(resumed)):
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- learning --


@pytest.mark.slow
def test_short_training_lowers_held_out_l1():
  """1000 steps (4 kimg) of the demo experiment (32 px, batch 4).

  The untrained U-Net outputs near-uniform grey: L1 about 0.56 against the
  64 held-out paintings. A line drawing does not fix the colours of most
  styles, and grey is close to the best L1 guess for a colour that is not
  known, so even a perfect translator keeps a large L1; what is learned
  first is the structure (white paper, black lines, where the spots are).
  The test asks for a held-out L1 at least 10% below the untrained one; on
  the development CPU it went from 0.5637 to 0.4750 (16% lower).
  """
  config = _experiment()
  config.mesh.num_devices = 1
  configs.validate(config, num_devices=1)
  s = setup.build(config, 0, sharding.create_mesh(1))
  data_cfg = pipeline.DataConfig.from_config(config.data)
  held = pipeline.paired_eval_set(data_cfg)
  assert held["source"].shape == (64, 32, 32, 3)
  it = pipeline.create_input_iterator(data_cfg,
                                      batch_size=config.train.batch_size)
  state = s.init()

  def held_out_l1(params):
    model = model_io.Model(G=s.G, variables={"params": params},
                           source="test")
    return translation.evaluate(model, held["source"], held["image"],
                                batch_size=64)["l1"]

  before = held_out_l1(state.ema_params)
  for step in range(1000):
    state, _ = s.run_iteration(state, s.global_batch(next(it)), step)
  after = held_out_l1(state.ema_params)
  print(f"held-out L1: {before:.4f} -> {after:.4f}")
  assert 0.5 < before < 0.62
  assert after < 0.9 * before
