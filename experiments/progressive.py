"""Progressive growing (ProGAN / StyleGAN 1 schedule) with StyleGAN2 blocks.

Trains from 4x4 up to `res`, doubling the resolution after `stage_kimg`
and fading each new block in over `fade_kimg`, with ProGAN's per-resolution
batch sizes; StyleGAN 1's recipe otherwise (R1 gamma 10, style mixing 0.9,
no path-length regulariser, Adam(0.001, 0, 0.99), G_ema half-life 10 kimg).
On the embedded art set by default, sized for a CPU; `data=` trains on an
image folder at the paper's schedule instead (600 kimg per stage and fade).

  python -m stylegan_jax.main --config experiments/progressive.py \\
      --workdir workdirs/progressive
  python -m stylegan_jax.main \\
      --config experiments/progressive.py:data=/data/art,res=256 \\
      --workdir workdirs/progressive256

Arguments: `res` (final resolution), `data` (an image folder), `cond`
(conditional on the folder's classes / the embedded styles), `stage_kimg`
and `fade_kimg` (override the schedule), `resnet` (resnet blocks instead of
ProGAN's plain ones).
"""

from stylegan_jax import configs

# ProGAN's and StyleGAN 1's one-GPU minibatch per resolution (4 above 512),
# and StyleGAN 1's learning rates for the large resolutions (0.001 below).
BATCH_SIZES = {4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8,
               512: 4}
LEARNING_RATES = {128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}


def get_config(arg=None):
  a = configs.parse_arg(arg, res=0, data="", cond=False, stage_kimg=-1.0,
                        fade_kimg=-1.0, resnet=False)
  on_cpu = not a.data
  config = configs.base_config()
  config.model.arch = "stylegan2_progressive"
  config.model.g_architecture = "resnet" if a.resnet else "orig"
  config.model.d_architecture = "resnet" if a.resnet else "orig"
  config.data.conditional = a.cond
  config.loss.r1_gamma = 10.0
  config.loss.pl_weight = 0.0
  config.loss.style_mixing_prob = 0.9
  config.optim.g_lr = config.optim.d_lr = 0.001
  config.train.ema_kimg = 10.0
  config.train.ema_rampup = None
  if on_cpu:  # Embedded data, small networks: minutes on a 2-core CPU.
    config.data.source = "embedded"
    config.data.resolution = a.res or 16
    config.data.embedded_num_images = 2000
    config.model.z_dim = config.model.w_dim = 64
    config.model.mapping_layers = 2
    config.model.channel_base = 512
    config.model.channel_max = 64
    config.loss.r1_gamma = 0.1
    config.optim.g_lr = config.optim.d_lr = 0.0025
    config.progressive.stage_kimg = config.progressive.fade_kimg = 3.0
    config.progressive.batch_sizes = {4: 32, 8: 32, 16: 16, 32: 16}
    config.train.batch_size = 16
    config.train.total_kimg = 18.0
    config.train.ema_kimg = 0.5
    config.train.ema_rampup = 0.05
    config.train.log_every_kimg = 1.0
    config.train.snapshot_kimg = 3.0
    config.train.checkpoint_kimg = 3.0
    config.evals.swd_num_images = 256
  else:
    config.data.source = "image_folder"
    config.data.data_dir = a.data
    config.data.resolution = a.res or 256
    config.data.xflip = True
    config.progressive.batch_sizes = dict(BATCH_SIZES)
    config.progressive.g_lrs = dict(LEARNING_RATES)
    config.progressive.d_lrs = dict(LEARNING_RATES)
    config.train.batch_size = 4
    config.train.total_kimg = 12_000.0  # ProGAN's one-GPU preset.
    config.train.snapshot_kimg = 200.0
    config.train.checkpoint_kimg = 200.0
  if a.stage_kimg >= 0:
    config.progressive.stage_kimg = a.stage_kimg
  if a.fade_kimg >= 0:
    config.progressive.fade_kimg = a.fade_kimg
  return config
