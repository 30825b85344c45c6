"""Demo: a small conditional StyleGAN2 on the embedded geometric-art dataset.

Sized to learn visibly on a 2-core CPU in under 10 minutes; nothing is
downloaded. The sample grid has one row per style. To fit that budget it
drops the path-length regulariser (as the official `cifar` preset does) and
uses few channels; everything else is the official algorithm.

  python -m stylegan_jax.main --config experiments/demo.py --workdir workdirs/demo
"""

from stylegan_jax import configs


def get_config():
  config = configs.base_config()
  config.data.source = "embedded"
  config.data.resolution = 16
  config.data.conditional = True
  config.data.embedded_num_images = 2000
  config.model.z_dim = config.model.w_dim = 64
  config.model.mapping_layers = 2
  config.model.channel_base = 512
  config.model.channel_max = 64
  config.model.mbstd_group_size = 4
  config.loss.r1_gamma = 0.1
  config.loss.pl_weight = 0.0
  config.optim.g_lr = config.optim.d_lr = 0.0025
  config.train.batch_size = 16
  config.train.total_kimg = 18.0
  config.train.ema_kimg = 0.5
  config.train.ema_rampup = 0.05
  config.train.log_every_kimg = 1.0
  config.train.snapshot_kimg = 6.0
  config.train.checkpoint_kimg = 6.0
  config.train.grid_size = 8
  config.evals.swd_num_images = 256
  return config
