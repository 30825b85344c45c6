"""The experiment config schema and the official presets, in one place.

`base_config()` returns the sectioned ConfigDict every experiment starts
from (data, model, loss, optim, train, mesh); `apply_preset` sets the
hyper-parameters of the official `--cfg` presets (stylegan2, paper256,
paper512, paper1024, cifar, auto). Experiment files in `experiments/` call
these and override what they need.
"""

import ml_collections

PRESETS = ("auto", "stylegan2", "paper256", "paper512", "paper1024", "cifar")

# Official preset table: batch, mbstd group, fmaps, lr, r1_gamma, ema_kimg,
# ema_rampup, mapping layers. channel_base = fmaps * 32768.
_PRESET_TABLE = {
    "stylegan2": (32, 4, 1.0, 0.002, 10.0, 10.0, None, 8),
    "paper256": (64, 8, 0.5, 0.0025, 1.0, 20.0, None, 8),
    "paper512": (64, 8, 1.0, 0.0025, 0.5, 20.0, None, 8),
    "paper1024": (32, 4, 1.0, 0.002, 2.0, 10.0, None, 8),
    "cifar": (64, 32, 1.0, 0.0025, 0.01, 500.0, 0.05, 2),
}


def base_config() -> ml_collections.ConfigDict:
  """Every field an experiment can set, with the official defaults."""
  config = ml_collections.ConfigDict()

  config.data = ml_collections.ConfigDict()
  config.data.source = "embedded"  # 'embedded' | 'wikiart' | 'image_folder'.
  config.data.data_dir = ""  # The image folder (wikiart / image_folder).
  config.data.tfds_dir = ""  # Prepared TFDS files; default <workdir>/tfds.
  config.data.resolution = 256
  config.data.conditional = False
  config.data.label_key = "style"
  config.data.xflip = False
  config.data.crop = "center"  # 'center' crop or 'pad' to square.
  config.data.shuffle_buffer = 10_000
  config.data.seed = 0
  config.data.embedded_num_images = 2000
  config.data.embedded_seed = 0

  config.model = ml_collections.ConfigDict()
  config.model.z_dim = 512
  config.model.w_dim = 512
  config.model.mapping_layers = 8
  config.model.mapping_lr_multiplier = 0.01
  config.model.channel_base = 32768
  config.model.channel_max = 512
  config.model.conv_clamp = 256.0
  config.model.g_architecture = "skip"
  config.model.d_architecture = "resnet"
  config.model.mbstd_group_size = 4
  config.model.mbstd_num_channels = 1
  # None: fused modulated convs on GPU/TPU, non-fused on CPU.
  config.model.fused_modconv = ml_collections.config_dict.placeholder(bool)

  config.loss = ml_collections.ConfigDict()
  config.loss.r1_gamma = 10.0
  config.loss.pl_weight = 2.0
  config.loss.pl_decay = 0.01
  config.loss.pl_batch_shrink = 2
  config.loss.style_mixing_prob = 0.9

  config.optim = ml_collections.ConfigDict()
  config.optim.g_lr = 0.002
  config.optim.d_lr = 0.002
  config.optim.betas = (0.0, 0.99)
  config.optim.eps = 1e-8
  config.optim.g_reg_interval = 4
  config.optim.d_reg_interval = 16

  config.train = ml_collections.ConfigDict()
  config.train.total_kimg = 25_000.0
  config.train.batch_size = 32  # Global, over all devices and hosts.
  config.train.ema_kimg = 10.0
  config.train.ema_rampup = ml_collections.config_dict.placeholder(float)
  config.train.seed = 0
  config.train.log_every_kimg = 4.0
  config.train.snapshot_kimg = 200.0  # Sample grid (and checkpoint).
  config.train.checkpoint_kimg = 200.0
  config.train.keep_checkpoints = 3
  config.train.grid_size = 8  # Grid of grid_size x grid_size samples.
  # SWD (ProGAN's multi-scale sliced Wasserstein distance) at each snapshot
  # on this many generated and real images; 0 turns it off.
  config.train.metric_num_images = 1024
  config.train.matmul_precision = "highest"  # As the official (no TF32).

  config.mesh = ml_collections.ConfigDict()
  config.mesh.num_devices = -1  # -1: every device of every process.
  return config


def apply_preset(config: ml_collections.ConfigDict, name: str,
                 num_devices: int = 1) -> ml_collections.ConfigDict:
  """Sets the official `--cfg=name` hyper-parameters on `config` in place.

  Args:
    config: a `base_config()`; `config.data.resolution` must be final.
    name: one of PRESETS.
    num_devices: device count, used by `auto` as the official uses GPUs.

  Returns:
    `config`, for chaining.
  """
  if name not in PRESETS:
    raise ValueError(f"unknown preset {name!r}; choose one of {PRESETS}")
  res = config.data.resolution
  if name == "auto":
    batch = max(min(num_devices * min(4096 // res, 32), 64), num_devices)
    row = (batch, min(batch // num_devices, 4), 1.0 if res >= 512 else 0.5,
           0.002 if res >= 1024 else 0.0025, 0.0002 * res**2 / batch,
           batch * 10 / 32, 0.05, 2)
  else:
    row = _PRESET_TABLE[name]
  batch, mbstd, fmaps, lr, gamma, ema_kimg, ema_rampup, map_layers = row
  config.train.batch_size = batch
  config.model.mbstd_group_size = mbstd
  config.model.channel_base = int(fmaps * 32768)
  config.model.channel_max = 512
  config.model.z_dim = config.model.w_dim = 512
  config.model.mapping_layers = map_layers
  config.optim.g_lr = config.optim.d_lr = lr
  config.loss.r1_gamma = gamma
  config.train.ema_kimg = ema_kimg
  config.train.ema_rampup = ema_rampup
  config.model.conv_clamp = 256.0
  config.loss.style_mixing_prob = 0.9
  config.loss.pl_weight = 2.0
  config.model.d_architecture = "resnet"
  if name == "cifar":
    config.loss.pl_weight = 0.0
    config.loss.style_mixing_prob = 0.0
    config.model.d_architecture = "orig"
  return config


def parse_arg(arg: str | None, **defaults) -> ml_collections.ConfigDict:
  """Parses a config-file argument `key=value,flag,...` (from `file.py:arg`).

  Values are converted to the type of their default; a bare key sets True.
  """
  out = ml_collections.ConfigDict(defaults)
  for item in filter(None, (arg or "").split(",")):
    key, _, value = item.partition("=")
    if key not in defaults:
      raise ValueError(f"unknown config argument {key!r}; known: "
                       f"{sorted(defaults)}")
    if not _:
      out[key] = True
    elif isinstance(defaults[key], bool):
      out[key] = value.lower() in ("1", "true", "yes")
    else:
      out[key] = type(defaults[key])(value)
  return out


def preset_config(name: str, arg: str | None,
                  resolution: int) -> ml_collections.ConfigDict:
  """An official preset on an image folder, for the preset experiment files.

  Args:
    name: preset name.
    arg: `res=...,gpus=...,data=...` overrides from the command line.
    resolution: the preset's default resolution.
  """
  a = parse_arg(arg, res=resolution, gpus=1, data="")
  config = base_config()
  config.data.source = "image_folder"
  config.data.data_dir = a.data
  config.data.resolution = a.res
  config.data.xflip = True
  return apply_preset(config, name, num_devices=a.gpus)
