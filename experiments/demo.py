"""Demo: a small conditional StyleGAN2 on the embedded geometric-art dataset.

Sized to learn visibly on a 2-core CPU in under 10 minutes of training
(about 9 minutes for all of `./run.sh` with the package installed); nothing
is downloaded. The sample grid has one row per style. To fit that budget it
drops the path-length regulariser (as the official `cifar` preset does) and
uses few channels; everything else is the official algorithm, plus mode
seeking. Issue 9 asks for every style recognised (style accuracy >= 80%)
with at least half the real paintings' within-style diversity. What matters
most (benchmarks/RESULTS.md, demo): without help G collapses within a style
(the mondrian and dots rows become one image each) whatever the
minibatch-stddev grouping, regularisers, W size or conditioning schedule;
slowing G down keeps about half the variety but learns the styles too
slowly. Mode seeking taken per pair (`loss.ms_weight`, after MSGAN) keeps
the variety at D's learning rate, but a strong weight (0.5-1) turns the
stripes row into swirling colour texture, which the style classifier
rejects since its sixth round; at 0.25 straight, if soft, bands appear
after ~150 kimg. These settings are the best seen: 16 px, batch 32 (faster
per kimg on a CPU), G and D lr 0.0025, mbstd over the whole batch and no
style mixing (as the official cifar preset), mode seeking 0.25, 250 kimg.
The goal is NOT met: stripes, the hardest style (bands 1-2.6 px wide at
16 px, near what a 16 px image can hold), end at 51-63% (RESULTS.md,
demo, sixth round), 15-62% over four seeds (eighth round), and D rates
the murky stripes the classifier rejects above the recognisable ones. G
draws few of the diagonal stripes (60% of the real ones), and the only
snapshots that met the goal drew 94-99% of their stripes near horizontal
(ninth round). The other four pass with this seed (with seed 3 mondrian
ends at 73%, circles at 79%). `--config.model.mapping_layers=8` (the
official default) keeps those four at 91-100% in four seeds out of four
and stripes at 53-72%, but costs ~10% more time per kimg (`./run.sh`
took 10 min 27 s instead of 9 min 9 s), and this seed's table is no
better. Every snapshot measures `style_acc`; `./run.sh` prints the final
table.

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
  # Mode seeking: without it G collapses within styles at D's learning rate;
  # 0.5-1 keep more variety but the stripes row turns to colour texture.
  config.loss.ms_weight = 0.25
  config.optim.d_lr = config.optim.g_lr = 0.0025
  # 32 images per step train ~1.8x faster per kimg than 16 on a CPU.
  config.train.batch_size = 32
  config.train.total_kimg = 250.0
  config.train.ema_kimg = 5.0
  config.train.ema_rampup = 0.05
  config.train.log_every_kimg = 1.0
  config.train.snapshot_kimg = 50.0
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
