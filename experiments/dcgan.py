r"""The DCGAN-style art generator (a Keras recipe) on the embedded art set.

Trains on the package's procedural art (nothing is downloaded) at 32 x 32
and learns its styles visibly in a few minutes on a CPU:

  python -m stylegan_jax.main --config experiments/dcgan.py \
      --workdir workdirs/dcgan
  python -m stylegan_jax.main \
      --config 'experiments/dcgan.py:data=~/art,res=64,epochs=100' \
      --workdir workdirs/dcgan_art

Arguments (`dcgan.py:key=value,...`):
  data: an image folder to train on (the recipe's art folder).
  res: resolution, 4-7 times a power of two (default 32; 28 works too).
  channels: 3 (RGB, default) or 1 (grayscale).
  loss: 'non_saturating' (default; the recipe's BCE with G trained towards
    'real'), 'minimax', 'wgan_gp', 'lsgan', 'hinge' or 'wgan'.
  epochs: passes over the data (default 10: 20 kimg of the embedded set's
    2000 images, minutes on a CPU; the recipe trains 100).

The recipe: G Dense(256 * 4 * 4) -> reshape -> per 2x step UpSampling2D +
Conv2D(3x3, relu) with 128, 64, 32 maps -> Conv2D(3x3, tanh); D Conv2D(3x3,
stride 2, relu) with 64, 128, 256 maps -> Dense(1, sigmoid) (`nets/dcgan.py`);
BCE; Adam(2e-4, beta1 0.5) for both with Keras' epsilon 1e-7; batch 32;
100 epochs. Training is the recipe's; the sample grids (and snapshots'
SWD) come from G_ema, an exponential moving average of G's weights with a
5 kimg half-life (`train.ema_kimg`; 0 samples G itself, as the recipe
does). Sampling G itself, the whole grid's colour swings from snapshot to
snapshot (purple at 10 kimg, green at 20: G chases D around a few colour
modes); the average holds one palette and its SWD is lower
(benchmarks/RESULTS.md, "The classic baselines").
"""

from stylegan_jax import configs


def get_config(arg=None):
  a = configs.parse_arg(arg, data="", res=32, channels=3,
                        loss="non_saturating", epochs=10.0)
  config = configs.base_config()
  config.model.arch = "dcgan"
  config.model.z_dim = 100
  config.model.g_channels = 256
  config.model.g_channel_min = 16
  config.model.d_channels = 64
  config.model.d_channel_max = 256
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
  config.optim.eps = 1e-7
  configs.apply_gan_loss(config, a.loss)
  config.train.batch_size = 32
  config.train.total_epochs = a.epochs
  config.train.ema_kimg = 5.0  # G_ema for the grids: no colour swings.
  config.train.log_every_kimg = 1.0
  config.train.snapshot_kimg = 5.0
  config.train.checkpoint_kimg = 10.0
  config.train.grid_size = 8
  config.evals.swd_num_images = 256
  return config
