"""Each baseline trains through `train_and_evaluate` on the embedded data.

Tiny networks (the MLP on 1-channel 28 x 28 glyphs, the conv nets on 8 x 8
RGB art) run two iterations each, so the whole file compiles a handful of
small programs. The MLP run is sized in epochs and alternates D-only and
D + G iterations (n_critic 2); its workdir is then loaded as a model.
"""

import jax
import numpy as np
from PIL import Image
import pytest

from stylegan_jax import configs
from stylegan_jax import model_io
from stylegan_jax import sampling
from stylegan_jax.train import loop

BATCH = 8
NUM_IMAGES = 32


def _config(arch):
  c = configs.base_config()
  c.model.arch = arch
  c.model.z_dim = 8
  c.model.mlp_hidden = (16,)
  c.model.g_channels, c.model.g_channel_min = 8, 4
  c.model.d_channels, c.model.d_channel_max = 4, 8
  c.data.embedded_num_images = NUM_IMAGES
  c.data.shuffle_buffer = NUM_IMAGES
  if arch == "mlp":
    c.data.source, c.data.resolution, c.data.channels = "glyphs", 28, 1
  else:
    c.data.source, c.data.resolution, c.data.channels = "embedded", 8, 3
  c.loss.r1_gamma = 0.0
  c.optim.g_lr = c.optim.d_lr = 2e-4
  c.optim.betas = (0.5, 0.999)
  c.train.batch_size = BATCH
  c.train.total_kimg = 2 * BATCH / 1000
  c.train.ema_kimg = 0.0
  c.train.log_every_kimg = BATCH / 1000
  c.train.snapshot_kimg = 1000.0
  c.train.checkpoint_kimg = 1000.0
  c.train.grid_size = 2
  c.evals.metrics = ""
  return c


def leaves(tree):
  return [np.asarray(x) for x in jax.tree.leaves(tree)]


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
  """2 iterations of the MLP GAN: D alone, then D and G (n_critic 2)."""
  workdir = tmp_path_factory.mktemp("mlp")
  c = _config("mlp")
  c.train.total_kimg = 1000.0  # total_epochs wins: 0.5 * 32 = 16 images.
  c.train.total_epochs = 0.5
  c.train.n_critic = 2
  c.loss.gan_loss = "lsgan"
  c.evals.metrics = "swd"  # SWD on 1-channel 28 x 28 glyphs.
  c.evals.swd_num_images = 16
  return workdir, c, loop.train_and_evaluate(c, str(workdir))


def test_mlp_trains_in_epochs_on_grayscale_glyphs(mlp_run):
  workdir, _, state = mlp_run
  assert int(state.step) == 2 and int(state.nimg) == 16
  # One G step (at iteration 1 of n_critic 2), two D steps, each moving
  # every parameter (Adam's first steps are +-lr wherever a gradient is).
  assert all(int(n) == 1 for n in jax.tree.leaves(state.g_opt_state.count))
  assert all(int(n) == 2 for n in jax.tree.leaves(state.d_opt_state.count))
  for tree in (state.g_opt_state.mu, state.d_opt_state.mu):
    assert all(np.any(m != 0) for m in leaves(tree))
  # ema_kimg 0: G_ema is G.
  for g, e in zip(leaves(state.g_params), leaves(state.ema_params)):
    np.testing.assert_array_equal(g, e)
  grids = sorted((workdir / "samples").glob("*.png"))
  assert [p.name for p in grids] == ["fakes000000000.png",
                                     "fakes000000016.png"]
  with Image.open(grids[-1]) as grid:
    assert grid.mode == "L" and grid.size == (56, 56)
  assert (workdir / "checkpoints" / "2").is_dir()


def test_mlp_workdir_loads_as_a_model(mlp_run):
  workdir, _, state = mlp_run
  model = model_io.load_model(workdir)
  assert model.family == "mlp" and not model.is_stylegan
  assert set(model.variables) == {"params"}
  for a, b in zip(leaves(model.variables["params"]),
                  leaves(state.ema_params)):
    np.testing.assert_array_equal(a, b)
  images = sampling.generate_images(model, [0, 1, 2], batch_size=2)
  assert images.shape == (3, 28, 28, 1) and images.dtype == np.uint8
  z = sampling.z_from_seeds([1], 8)
  want = model.G.apply({"params": state.ema_params}, z, None)
  np.testing.assert_array_equal(images[1:2], sampling.images.to_uint8(want))


@pytest.mark.parametrize("arch", ["dcgan", "vanilla"])
def test_conv_baseline_trains(arch, tmp_path):
  c = _config(arch)
  c.loss.gan_loss = "hinge"
  c.train.total_kimg = BATCH / 1000  # One iteration: D, then G.
  c.mesh.num_devices = 1
  state = loop.train_and_evaluate(c, str(tmp_path))
  assert int(state.step) == 1 and int(state.nimg) == BATCH
  for tree in (state.g_params, state.d_params):
    assert all(np.all(np.isfinite(x)) for x in leaves(tree))
  for opt_state in (state.g_opt_state, state.d_opt_state):
    assert all(int(n) == 1 for n in jax.tree.leaves(opt_state.count))
    # Most parameters had a gradient (a tiny ReLU net has dead units).
    mu = np.concatenate([m.ravel() for m in leaves(opt_state.mu)])
    assert np.mean(mu != 0) > 0.5
  with Image.open(tmp_path / "samples" / "fakes000000008.png") as grid:
    assert grid.mode == "RGB" and grid.size == (16, 16)
