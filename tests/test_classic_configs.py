"""The baselines' config keys: validation, the loss recipes, epochs -> images.

Also the baseline experiments' recipe values (the issue's numbers), and the
networks `create_networks` builds from them.
"""

import importlib.util
import pathlib

import pytest

from stylegan_jax import configs
from stylegan_jax.errors import ConfigError
from stylegan_jax.nets import create_networks
from stylegan_jax.nets import dcgan
from stylegan_jax.nets import mlp
from stylegan_jax.nets import vanilla

EXPERIMENTS = pathlib.Path(__file__).resolve().parents[1] / "experiments"


def _experiment(name, arg=None):
  spec = importlib.util.spec_from_file_location(name,
                                                EXPERIMENTS / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg)


def _baseline(arch="dcgan", **sections):
  c = configs.base_config()
  c.model.arch = arch
  c.data.resolution = 28
  for key, value in sections.items():
    section, name = key.split("__")
    c[section][name] = value
  return c


def _invalid(config, key):
  with pytest.raises(ConfigError) as info:
    configs.validate(config, check_paths=False)
  message = str(info.value)
  assert message.startswith(f"{key}=") and "\n" not in message, message
  return message


def test_baseline_archs_are_registered():
  assert set(configs.CLASSIC_ARCHS) <= set(configs.ARCHS)
  assert configs.ARCHS[0] == "stylegan2"
  # 28 x 28 is fine for the baselines (StyleGAN needs a power of two).
  for arch in configs.CLASSIC_ARCHS:
    configs.validate(_baseline(arch), check_paths=False)
  _invalid(_baseline("stylegan2"), "data.resolution")


@pytest.mark.parametrize("arch,res,ok", [
    ("dcgan", 30, False), ("vanilla", 4, False), ("dcgan", 48, True),
    ("vanilla", 112, True), ("mlp", 30, True), ("mlp", 2, False)])
def test_resolution_per_arch(arch, res, ok):
  c = _baseline(arch, data__resolution=res)
  if ok:
    configs.validate(c, check_paths=False)
  else:
    message = _invalid(c, "data.resolution")
    assert "28" in message or "at least" in message


@pytest.mark.parametrize("key,value", [
    ("data__channels", 2), ("model__variant", "tf"),
    ("model__mlp_hidden", ()), ("model__mlp_hidden", (128, 0)),
    ("model__g_channels", 0), ("model__d_channel_max", -1),
    ("loss__gan_loss", "wasserstein"), ("loss__gp_weight", -1.0),
    ("loss__gp_weight", float("inf")), ("train__n_critic", 0),
    ("train__total_epochs", 0.0),
    ("train__total_epochs", float("nan"))])
def test_bad_values_name_their_key(key, value):
  arch = "mlp" if key.startswith("model__mlp") or "variant" in key else (
      "dcgan")
  _invalid(_baseline(arch, **{key: value}), key.replace("__", "."))


def test_stylegan_refuses_the_baselines_loss_settings():
  for key, value in (("loss__gan_loss", "hinge"), ("loss__gp_weight", 10.0),
                     ("train__n_critic", 5)):
    c = _baseline("stylegan2", **{key: value})
    c.data.resolution = 32
    message = _invalid(c, key.replace("__", "."))
    assert "StyleGAN2 trains with" in message


def test_stylegan_only_checks_do_not_bind_baselines():
  # A batch the minibatch-stddev group and pl_batch_shrink do not divide.
  c = _baseline("dcgan", train__batch_size=30, model__mbstd_group_size=4,
                loss__pl_batch_shrink=4)
  configs.validate(c, num_devices=2, check_paths=False)
  c.model.arch = "stylegan2"
  c.data.resolution = 32
  with pytest.raises(ConfigError):
    configs.validate(c, num_devices=2, check_paths=False)


def test_sources():
  c = _baseline("mlp", data__source="glyphs")
  configs.validate(c)  # Built in: no data_dir needed.
  c.data.resolution = 512
  _invalid(c, "data.resolution")
  c = _baseline("mlp", data__source="mnist")
  _invalid(c, "data.data_dir")


def test_total_epochs_wins_over_total_kimg():
  train = configs.base_config().train
  train.total_kimg = 5.0
  assert configs.total_nimg(train, 2000) == 5000
  train.total_epochs = 100.0
  assert configs.total_nimg(train, 2000) == 200_000
  train.total_epochs = 0.1  # 0.1 * 30 = 3.0000000000000004: no extra image.
  assert configs.total_nimg(train, 30) == 3
  train.total_epochs = 0.5
  assert configs.total_nimg(train, 33) == 16  # round(16.5), to even.
  train.total_epochs = 1e-6
  assert configs.total_nimg(train, 10) == 1  # At least one image.


def test_apply_gan_loss():
  c = configs.apply_gan_loss(_baseline(), "wgan_gp")
  assert (c.loss.gan_loss, c.loss.gp_weight, c.train.n_critic) == (
      "wgan", 10.0, 5)
  assert (c.optim.g_lr, c.optim.d_lr, tuple(c.optim.betas)) == (
      1e-4, 1e-4, (0.0, 0.9))
  configs.validate(c, check_paths=False)
  c = configs.apply_gan_loss(_baseline(), "lsgan")
  assert (c.loss.gan_loss, c.loss.gp_weight, c.train.n_critic) == (
      "lsgan", 0.0, 1)
  with pytest.raises(ConfigError, match="wgan_gp"):
    configs.apply_gan_loss(_baseline(), "wgan-gp")


@pytest.mark.parametrize("variant,eps", [("keras", 1e-7), ("torch", 1e-8)])
def test_mlp_experiment(variant, eps):
  c = _experiment("mlp_gan", f"variant={variant}")
  configs.validate(c)
  assert (c.model.arch, c.model.variant, c.model.z_dim,
          tuple(c.model.mlp_hidden)) == ("mlp", variant, 100, (128, 128))
  assert (c.data.source, c.data.resolution, c.data.channels) == (
      "glyphs", 28, 1)
  assert (c.optim.g_lr, c.optim.d_lr, tuple(c.optim.betas), c.optim.eps) == (
      2e-4, 2e-4, (0.5, 0.999), eps)
  assert (c.loss.gan_loss, c.loss.r1_gamma, c.train.ema_kimg) == (
      "non_saturating", 0.0, 0.0)
  G, D = create_networks(c, 0)
  assert isinstance(G, mlp.MLPGenerator) and isinstance(
      D, mlp.MLPDiscriminator)
  assert (G.variant, G.img_resolution, G.img_channels, G.hidden) == (
      variant, 28, 1, (128, 128))


def test_experiment_arguments():
  c = _experiment("mlp_gan", "loss=minimax,mnist=/data/mnist")
  assert (c.loss.gan_loss, c.data.source, c.data.data_dir) == (
      "minimax", "mnist", "/data/mnist")
  c = _experiment("mlp_gan", "loss=wgan_gp")
  assert (c.train.n_critic, c.loss.gp_weight, c.optim.g_lr) == (5, 10.0, 1e-4)
  with pytest.raises(ConfigError, match="not both"):
    _experiment("mlp_gan", "data=/a,mnist=/b")
  c = _experiment("dcgan", "data=/art,res=64,channels=1,epochs=7")
  assert (c.data.source, c.data.data_dir, c.data.resolution,
          c.data.channels, c.train.total_epochs) == (
              "image_folder", "/art", 64, 1, 7.0)


def test_dcgan_and_vanilla_experiments():
  c = _experiment("dcgan")
  configs.validate(c)
  # The Keras recipe: BCE, Adam(2e-4, beta1 0.5), batch 32 (and 100 epochs
  # with epochs=100; 10 by default, to run in minutes on a CPU).
  assert (c.loss.gan_loss, c.optim.g_lr, c.optim.d_lr, c.optim.betas[0],
          c.train.batch_size, c.train.total_epochs) == (
              "non_saturating", 2e-4, 2e-4, 0.5, 32, 10.0)
  assert c.train.ema_kimg == 5.0  # Grids from G_ema (see the experiment).
  G, D = create_networks(c, 0)
  assert isinstance(G, dcgan.DCGANGenerator) and isinstance(
      D, dcgan.DCGANDiscriminator)
  assert (G.channels, D.channels, G.img_resolution, G.img_channels) == (
      256, 64, 32, 3)
  c = _experiment("vanilla_gan")
  configs.validate(c)
  # Default: the embedded digits, 28 x 28 gray, 20 kimg; 128 maps at G's
  # start (with 256 it collapses, benchmarks/RESULTS.md).
  assert (c.optim.g_lr, c.optim.d_lr, c.data.source, c.data.resolution,
          c.data.channels, c.train.total_kimg, c.train.total_epochs) == (
              2e-4, 2e-4, "glyphs", 28, 1, 20.0, None)
  G, D = create_networks(c, 3)
  assert isinstance(G, vanilla.VanillaGenerator) and isinstance(
      D, vanilla.VanillaDiscriminator)
  assert (G.c_dim, D.c_dim, G.channels, D.channel_max, G.img_channels) == (
      3, 3, 128, 512, 1)
  c = _experiment("vanilla_gan", "art")
  configs.validate(c)
  assert (c.data.source, c.data.resolution, c.data.channels,
          c.data.embedded_num_images) == ("embedded", 32, 3, 2000)
  c = _experiment("vanilla_gan", "data=/art,res=64,channels=1,epochs=7")
  assert (c.data.source, c.data.data_dir, c.data.resolution,
          c.data.channels, c.train.total_epochs) == (
              "image_folder", "/art", 64, 1, 7.0)
  with pytest.raises(ConfigError, match="not both"):
    _experiment("vanilla_gan", "art,data=/a")
