r"""The vanilla conv GAN of the "Vanilla GAN vs StyleGAN" comparison.

Trains on the package's procedural art (nothing is downloaded) at 32 x 32
and learns its styles visibly in a few minutes on a CPU:

  python -m stylegan_jax.main --config experiments/vanilla_gan.py \
      --workdir workdirs/vanilla_gan
  python -m stylegan_jax.main \
      --config 'experiments/vanilla_gan.py:data=~/art,res=64' \
      --workdir workdirs/vanilla_art

Arguments (`vanilla_gan.py:key=value,...`):
  data: an image folder to train on instead.
  res: resolution, 4-7 times a power of two (default 32; 28 works too).
  channels: 3 (RGB, default) or 1 (grayscale).
  loss: 'non_saturating' (default), 'minimax', 'wgan_gp', 'lsgan', 'hinge'
    or 'wgan'.
  epochs: passes over the data (default 10: 20 kimg of the embedded set's
    2000 images, minutes on a CPU).

The recipe: G Linear -> ReLU -> per 2x step ConvTranspose2d(4x4, stride 2)
with halving maps and ReLU, tanh out; D Conv2d(4x4, stride 2) with 64, 128,
256 maps and LeakyReLU 0.2 -> Linear(1), a logit (`nets/vanilla.py`); Adam
lr 2e-4 for G and D, as given. Its betas and batch are not given: beta1 0.5
and PyTorch's epsilon 1e-8 as in DCGAN (Radford et al. 2015), batch 32.
No G_ema (the recipe has none).
"""

from stylegan_jax import configs


def get_config(arg=None):
  a = configs.parse_arg(arg, data="", res=32, channels=3,
                        loss="non_saturating", epochs=10.0)
  config = configs.base_config()
  config.model.arch = "vanilla"
  config.model.z_dim = 100
  config.model.g_channels = 256
  config.model.g_channel_min = 16
  config.model.d_channels = 64
  config.model.d_channel_max = 512
  config.data.resolution = a.res
  config.data.channels = a.channels
  if a.data:
    config.data.source, config.data.data_dir = "image_folder", a.data
  else:
    config.data.source = "embedded"
    config.data.embedded_num_images = 2000
  config.loss.r1_gamma = 0.0
  config.optim.g_lr = config.optim.d_lr = 2e-4
  config.optim.betas = (0.5, 0.999)
  config.optim.eps = 1e-8
  configs.apply_gan_loss(config, a.loss)
  config.train.batch_size = 32
  config.train.total_epochs = a.epochs
  config.train.ema_kimg = 0.0
  config.train.log_every_kimg = 1.0
  config.train.snapshot_kimg = 5.0
  config.train.checkpoint_kimg = 10.0
  config.train.grid_size = 8
  config.evals.swd_num_images = 256
  return config
