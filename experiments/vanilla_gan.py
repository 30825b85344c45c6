r"""The vanilla conv GAN of the "Vanilla GAN vs StyleGAN" comparison.

Trains on the package's embedded glyph digits at 28 x 28 grayscale (nothing
is downloaded) and learns them visibly in about two minutes on a CPU:

  python -m stylegan_jax.main --config experiments/vanilla_gan.py \
      --workdir workdirs/vanilla_gan
  python -m stylegan_jax.main --config experiments/vanilla_gan.py:art \
      --workdir workdirs/vanilla_art
  python -m stylegan_jax.main \
      --config 'experiments/vanilla_gan.py:data=~/art,res=64' \
      --workdir workdirs/vanilla_folder

Arguments (`vanilla_gan.py:key=value,...`):
  art: train on the embedded art (32 x 32 RGB, 2000 paintings) instead;
    there this recipe still collapses to one periodic texture
    (benchmarks/RESULTS.md, "The classic baselines").
  data: an image folder to train on instead (32 x 32 RGB by default).
  res: resolution, 4-7 times a power of two (default 28 for the digits, 32
    otherwise).
  channels: 1 (grayscale) or 3 (RGB); default 1 for the digits, 3
    otherwise.
  loss: 'non_saturating' (default), 'minimax', 'wgan_gp', 'lsgan', 'hinge'
    or 'wgan'.
  epochs: passes over the data (default 20 kimg: 2 over the 10k digits, 10
    over the 2000 paintings; minutes on a CPU).

The recipe: G Linear -> ReLU -> per 2x step ConvTranspose2d(4x4, stride 2)
with halving maps and ReLU, tanh out; D Conv2d(4x4, stride 2) with 64, 128,
256 maps and LeakyReLU 0.2 -> Linear(1), a logit (`nets/vanilla.py`); Adam
lr 2e-4 for G and D, as given. Its betas, batch and widths are not given:
beta1 0.5 and PyTorch's epsilon 1e-8 as in DCGAN (Radford et al. 2015),
batch 32, and 128 maps at G's start map, as the usual PyTorch MNIST GANs.
With 256 maps G collapses to one texture on the digits too within 10 kimg;
with 128 it learns varied strokes (benchmarks/RESULTS.md). No G_ema (the
recipe has none).
"""

from stylegan_jax import configs
from stylegan_jax.errors import ConfigError


def get_config(arg=None):
  a = configs.parse_arg(arg, art=False, data="", res=0, channels=0,
                        loss="non_saturating", epochs=0.0)
  if a.art and a.data:
    raise ConfigError("give art (the embedded paintings) or data= (an image "
                      "folder), not both")
  digits = not (a.art or a.data)
  config = configs.base_config()
  config.model.arch = "vanilla"
  config.model.z_dim = 100
  config.model.g_channels = 128
  config.model.g_channel_min = 16
  config.model.d_channels = 64
  config.model.d_channel_max = 512
  config.data.resolution = a.res or (28 if digits else 32)
  config.data.channels = a.channels or (1 if digits else 3)
  if a.data:
    config.data.source, config.data.data_dir = "image_folder", a.data
  elif a.art:
    config.data.source = "embedded"
    config.data.embedded_num_images = 2000
  else:
    config.data.source = "glyphs"
    config.data.embedded_num_images = 10_000
  config.loss.r1_gamma = 0.0
  config.optim.g_lr = config.optim.d_lr = 2e-4
  config.optim.betas = (0.5, 0.999)
  config.optim.eps = 1e-8
  configs.apply_gan_loss(config, a.loss)
  config.train.batch_size = 32
  if a.epochs:
    config.train.total_epochs = a.epochs
  else:
    config.train.total_kimg = 20.0
  config.train.ema_kimg = 0.0
  config.train.log_every_kimg = 1.0
  config.train.snapshot_kimg = 5.0
  config.train.checkpoint_kimg = 10.0
  config.train.grid_size = 8
  config.evals.swd_num_images = 256
  return config
