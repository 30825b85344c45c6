"""pix2pix (Isola et al. 2017): image-to-image translation on image pairs.

By default the embedded paired set (line drawings -> the procedural
paintings, nothing downloaded) at 32 px, sized for a CPU:

  python -m stylegan_jax.main --config experiments/pix2pix.py \
      --workdir workdirs/pix2pix

A folder of pairs with the paper's settings (256 px, ngf = ndf = 64, batch
1, random jitter and mirroring, 200 epochs of 400 pairs as for facades):

  python -m stylegan_jax.main \
      --config experiments/pix2pix.py:data=~/facades/train,direction=BtoA \
      --workdir workdirs/facades

Config arguments: `data=` (a folder of pairs: side-by-side A|B files, or
A/ and B/ subfolders with `layout=folders`), `direction=` (AtoB: A is the
source), `res=`, `batch=`, `kimg=` (images shown, in thousands). The patch
size of D follows the resolution: 3 stride-2 layers (70 x 70 patches) from
128 px, 2 (34 x 34) at 64 px, 1 (16 x 16) below, about a quarter to a half
of the image as in the paper. Every other setting is the paper's: U-Net
with dropout 0.5, instance norm (the paper's batch norm at batch size 1),
lambda = 100, Adam(2e-4, betas (0.5, 0.999)), no weight averaging.
"""

from stylegan_jax import configs


def get_config(arg=None):
  a = configs.parse_arg(arg, data="", layout="side_by_side", direction="AtoB",
                        res=0, batch=0, kimg=0.0)
  embedded = not a.data
  config = configs.base_config()
  d, m, t = config.data, config.model, config.train
  d.source = "embedded_paired" if embedded else "paired"
  d.data_dir = a.data
  d.paired_layout = a.layout
  d.paired_direction = a.direction
  d.resolution = a.res or (32 if embedded else 256)
  d.embedded_num_images = 2000
  d.paired_eval_images = 64 if embedded else 16
  # The paper's jitter and mirroring for real pairs; the embedded set has
  # enough pairs, and upscaling a 32 px drawing would blur its lines.
  d.paired_jitter = d.xflip = not embedded
  d.shuffle_buffer = 2000

  m.arch = "pix2pix"
  m.pix2pix_g_channels = m.pix2pix_d_channels = 32 if embedded else 64
  m.pix2pix_channel_max = 8 * m.pix2pix_g_channels
  res = d.resolution
  m.pix2pix_d_layers = 3 if res >= 128 else 2 if res >= 64 else 1
  m.pix2pix_norm = "instance"
  m.pix2pix_dropout = 0.5
  m.mbstd_group_size = 1  # StyleGAN's; unused here.

  config.loss.l1_weight = 100.0
  config.loss.r1_gamma = config.loss.pl_weight = 0.0  # StyleGAN's; unused.
  config.loss.pl_batch_shrink = 1
  config.optim.g_lr = config.optim.d_lr = 2e-4
  config.optim.betas = (0.5, 0.999)
  config.optim.eps = 1e-8

  t.batch_size = a.batch or (4 if embedded else 1)
  t.total_kimg = a.kimg or (16.0 if embedded else 80.0)
  t.ema_kimg = 0.0  # G_ema is G: the paper averages no weights.
  t.ema_rampup = None
  t.log_every_kimg = 0.5 if embedded else 2.0
  t.snapshot_kimg = 2.0 if embedded else 8.0
  t.checkpoint_kimg = 2.0 if embedded else 8.0
  t.grid_size = 8  # Two groups of source | generated | target rows.
  config.evals.metrics = ""  # Scored on held-out pairs (translate), not SWD.
  return config
