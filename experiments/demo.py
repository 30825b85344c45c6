"""Demo: a small conditional StyleGAN2 on the embedded geometric-art dataset.

Sized to learn visibly on a 2-core CPU in under 10 minutes of training;
nothing is downloaded. The sample grid has one row per style. To fit that
budget it drops the path-length regulariser (as the official `cifar` preset
does) and uses few channels; everything else is the official algorithm.
Issue 9 asks for every style recognised (style accuracy >= 80%) with at
least half the real paintings' within-style diversity. What matters most
(benchmarks/RESULTS.md, demo, second round): with G and D at the same
learning rate G collapses within a style (the mondrian and dots rows become
one image each by 50 kimg, worse the longer it trains), whatever the
minibatch-stddev grouping, regularisers, W size or conditioning schedule;
G at 0.3x D's learning rate (two time scales) keeps about half the real
variety, at the price of styles that are learnt more slowly. These
settings are the best seen: 16 px, batch 32 (faster per kimg on a CPU), D
lr 0.0025 and G lr 0.00075, mbstd over the whole batch and no style mixing
(as the official cifar preset), 50 kimg. The goal is not met: worst style
accuracy 72% (dots), worst diversity ratio 0.49 (mondrian) with this seed;
with `train.seed=1` the mondrian row is recognised in only 19% of samples.
Every snapshot measures `style_acc`; `./run.sh` prints the final table.

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
  config.model.mbstd_group_size = 32  # The whole batch, as the cifar preset.
  config.loss.r1_gamma = 0.1
  config.loss.pl_weight = 0.0
  config.loss.style_mixing_prob = 0.0  # As the official cifar preset.
  # G learns 0.3x as fast as D: at equal rates G collapses within styles.
  config.optim.d_lr = 0.0025
  config.optim.g_lr = 0.00075
  # 32 images per step train ~1.8x faster per kimg than 16 on a CPU.
  config.train.batch_size = 32
  # Longer runs lose within-style variety (benchmarks/RESULTS.md, demo).
  config.train.total_kimg = 50.0
  config.train.ema_kimg = 5.0
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
