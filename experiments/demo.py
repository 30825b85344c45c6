"""Demo: a small conditional StyleGAN2 on the embedded geometric-art dataset.

Sized to learn visibly on a 2-core CPU in under 10 minutes of training;
nothing is downloaded. The sample grid has one row per style. To fit that
budget it drops the path-length regulariser (as the official `cifar` preset
does) and uses few channels; everything else is the official algorithm.
What makes its grid recognisable (issue 9; numbers in benchmarks/RESULTS.md)
is the setting, not a fix: 32 px instead of 16 (the styles' lines, rings and
dots need the pixels), R1 gamma by the official heuristic 0.0002 * res**2 /
batch, a slightly lower learning rate and a longer G_ema average (steadier
samples), and 40 kimg, which the CPU speed-ups make affordable. Every
snapshot measures `style_acc` (per-style accuracy of a classifier and
within-style diversity against the real paintings); `./run.sh` prints the
final table.

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
  config.model.channel_base = 512  # 32 maps at 16 px, 64 below.
  config.model.channel_max = 64
  config.model.mbstd_group_size = 4
  config.loss.r1_gamma = 0.1
  config.loss.pl_weight = 0.0
  config.optim.g_lr = config.optim.d_lr = 0.002
  config.train.batch_size = 16
  config.train.total_kimg = 150.0
  config.train.ema_kimg = 2.5
  config.train.ema_rampup = 0.05
  config.train.log_every_kimg = 1.0
  config.train.snapshot_kimg = 25.0
  config.train.checkpoint_kimg = 25.0
  config.train.grid_size = 8
  # Style accuracy and diversity (evaluators/style.py), printed by run.sh.
  config.evals.metrics = "swd,style_acc"
  # Constant noise inputs, as the sample grid: the metrics' samples differ
  # only by z, so within-style diversity is what the grid's rows show
  # (random noise alone moves this small G's strokes about).
  config.evals.noise_mode = "const"
  config.evals.swd_num_images = 256
  return config
