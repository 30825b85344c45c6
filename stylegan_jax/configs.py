"""The experiment config schema, the official presets and config validation.

This module is the one place for every training default. `base_config()`
returns the sectioned ConfigDict every experiment starts from (`data`,
`model`, `loss`, `optim`, `augment`, `train`, `mesh`, `evals`);
`apply_preset` sets the hyper-parameters of the official `--cfg` presets
(`PRESETS`, named dicts);
`validate` checks a finished config in milliseconds (unknown keys with the
nearest valid one, types, ranges, devices, paths) and raises a one-line
`ConfigError`. The network modules keep the official constructors' own
defaults (so `Generator()` is the official `Generator()`); the values used
for training are the ones here.
"""

import difflib
import math
import os
import re
from typing import Any

from absl import flags
import ml_collections

from stylegan_jax import errors
from stylegan_jax.errors import ConfigError
from stylegan_jax.evaluators import specs as eval_specs

# The classic GAN baselines (`train.classic_step.ClassicGAN`).
CLASSIC_ARCHS = ("mlp", "dcgan", "vanilla")
# Training algorithms (`train.setup.ALGORITHMS`).
ARCHS = ("stylegan2", "stylegan2_progressive", "pix2pix", *CLASSIC_ARCHS)
SOURCES = ("embedded", "wikiart", "image_folder", "glyphs", "mnist", "paired",
           "embedded_paired")
# Sources generated inside the package (no data_dir, nothing to download),
# and those of (source, target) pairs for image-to-image translation
# (model.arch='pix2pix').
BUILTIN_SOURCES = ("embedded", "glyphs", "embedded_paired")
PAIRED_SOURCES = ("paired", "embedded_paired")
PAIRED_LAYOUTS = ("side_by_side", "folders")
PAIRED_DIRECTIONS = ("AtoB", "BtoA")
PIX2PIX_NORMS = ("instance", "batch", "none")
CHANNELS = (1, 3)  # Grayscale or RGB.
CROPS = ("center", "pad")
ARCHITECTURES = ("orig", "skip", "resnet")
# Low-precision compute dtypes of mixed precision (model.fp16_dtype).
FP16_DTYPES = ("bfloat16", "float16")
MATMUL_PRECISIONS = ("default", "high", "highest", "bfloat16", "tensorfloat32",
                     "float32")
RESUME_MODES = ("auto", "fresh")
ON_CHANGE = ("reprepare", "use_prepared")  # = data.tfds_builders.ON_CHANGE
# config.augment.mode: no augmentation, adaptive p (ADA), constant p, or the
# DiffAugment policy instead of the ADA pipeline (`train.augmentation`).
AUGMENT_MODES = ("noaug", "ada", "fixed", "diffaugment")
# StyleGAN2 and its progressive form (which runs StyleGAN2's phases): the
# archs that train with StyleGAN2's losses and augment.
STYLEGAN_ARCHS = ("stylegan2", "stylegan2_progressive")
AUGMENTED_ARCHS = STYLEGAN_ARCHS
# Settings whose value maps keys of the user's choosing (resolutions) to
# values; key checking treats them as leaves.
MAP_KEYS = ("progressive.batch_sizes", "progressive.g_lrs",
            "progressive.d_lrs")

# The official presets (`train.py --cfg`). channel_base = fmaps * 32768.
PRESETS: dict[str, dict[str, Any]] = {
    "stylegan2": dict(batch_size=32, mbstd_group_size=4, fmaps=1.0, lr=0.002,
                      r1_gamma=10.0, ema_kimg=10.0, ema_rampup=None,
                      mapping_layers=8),
    "paper256": dict(batch_size=64, mbstd_group_size=8, fmaps=0.5,
                     lr=0.0025, r1_gamma=1.0, ema_kimg=20.0, ema_rampup=None,
                     mapping_layers=8),
    "paper512": dict(batch_size=64, mbstd_group_size=8, fmaps=1.0,
                     lr=0.0025, r1_gamma=0.5, ema_kimg=20.0, ema_rampup=None,
                     mapping_layers=8),
    "paper1024": dict(batch_size=32, mbstd_group_size=4, fmaps=1.0,
                      lr=0.002, r1_gamma=2.0, ema_kimg=10.0, ema_rampup=None,
                      mapping_layers=8),
    "cifar": dict(batch_size=64, mbstd_group_size=32, fmaps=1.0, lr=0.0025,
                  r1_gamma=0.01, ema_kimg=500.0, ema_rampup=0.05,
                  mapping_layers=2, pl_weight=0.0, style_mixing_prob=0.0,
                  d_architecture="orig"),
}
PRESET_NAMES = ("auto", *PRESETS)


def base_config() -> ml_collections.ConfigDict:
  """Every field an experiment can set, with its default."""
  config = ml_collections.ConfigDict()

  config.data = ml_collections.ConfigDict()
  config.data.source = "embedded"  # One of SOURCES.
  config.data.data_dir = ""  # The image folder (wikiart / image_folder).
  config.data.tfds_dir = ""  # Prepared TFDS files; default <workdir>/tfds.
  config.data.resolution = 256
  config.data.conditional = False
  config.data.label_key = "style"
  config.data.xflip = False
  config.data.crop = "center"  # 'center' crop or 'pad' to square.
  config.data.shuffle_buffer = 10_000
  config.data.seed = 0
  # Size and seed of the in-package sets ('embedded' art, 'glyphs' digits).
  config.data.embedded_num_images = 2000
  config.data.embedded_seed = 0
  # A folder changed since it was prepared: 'reprepare' it, or
  # 'use_prepared' as it is (with a warning saying how many files changed).
  config.data.on_change = "reprepare"
  # Paired sources (pix2pix). 'paired' reads data_dir: 'side_by_side' A|B
  # images in one file, or 'folders' data_dir/A and data_dir/B with matching
  # names; 'embedded_paired' draws line drawings -> the embedded paintings
  # (embedded_num_images pairs, embedded_seed).
  config.data.paired_layout = "side_by_side"  # One of PAIRED_LAYOUTS.
  config.data.paired_direction = "AtoB"  # AtoB: A (left) is the source.
  # The paper's random jitter: resize to 286/256 of the resolution, then a
  # random crop back (mirroring is data.xflip, applied to both images).
  config.data.paired_jitter = False
  # Held-out pairs (evaluation and sample grids): the last ones by name for
  # 'paired' (not trained on), extra drawings for 'embedded_paired'.
  config.data.paired_eval_images = 16
  config.data.channels = 3  # 3: RGB; 1: grayscale (images are converted).

  config.model = ml_collections.ConfigDict()
  config.model.arch = "stylegan2"  # One of ARCHS.
  config.model.z_dim = 512
  config.model.w_dim = 512
  config.model.mapping_layers = 8
  config.model.mapping_lr_multiplier = 0.01
  config.model.channel_base = 32768
  config.model.channel_max = 512
  config.model.conv_clamp = 256.0  # None: no clamping.
  config.model.g_architecture = "skip"
  config.model.d_architecture = "resnet"
  config.model.mbstd_group_size = 4
  config.model.mbstd_num_channels = 1
  # None: fused modulated convs on GPU/TPU, non-fused on CPU.
  config.model.fused_modconv = ml_collections.config_dict.placeholder(bool)
  # Mixed precision (model.arch 'stylegan2'), as the official num_fp16_res:
  # the highest N resolutions of G's synthesis and of D (never below 8x8)
  # compute in fp16_dtype; parameters, optimiser state, the mapping network,
  # the toRGB image path, D's 4x4 epilogue and the losses stay float32.
  # 0: float32 everywhere (the default, for parity); the official presets
  # use 4 on GPUs. 'float16' (the official's dtype) needs conv_clamp.
  config.model.num_fp16_res = 0
  config.model.fp16_dtype = "bfloat16"  # One of FP16_DTYPES.
  # pix2pix (model.arch='pix2pix'): U-Net G and PatchGAN D, as the paper.
  config.model.pix2pix_g_channels = 64  # ngf: the U-Net's outer width.
  config.model.pix2pix_d_channels = 64  # ndf: the PatchGAN's first width.
  config.model.pix2pix_channel_max = 512  # The widest layer (8 x 64).
  config.model.pix2pix_d_layers = 3  # Stride-2 layers; 3: 70x70 patches.
  config.model.pix2pix_norm = "instance"  # One of PIX2PIX_NORMS.
  config.model.pix2pix_dropout = 0.5  # In the 3 innermost decoder layers.
  # The classic baselines (arch mlp / dcgan / vanilla; StyleGAN ignores
  # these, and they use z_dim but no w_dim or mapping).
  config.model.variant = "torch"  # MLP: 'keras' or 'torch' (nets/mlp.py).
  config.model.mlp_hidden = (128, 128)  # MLP hidden layer widths.
  config.model.g_channels = 256  # DCGAN/vanilla G: maps of the start map,
  config.model.g_channel_min = 16  # halving per 2x step down to this.
  config.model.d_channels = 64  # DCGAN/vanilla D: maps of the first conv,
  config.model.d_channel_max = 256  # doubling per step up to this.

  config.loss = ml_collections.ConfigDict()
  config.loss.r1_gamma = 10.0
  config.loss.pl_weight = 2.0
  config.loss.pl_decay = 0.01
  config.loss.pl_batch_shrink = 2
  config.loss.style_mixing_prob = 0.9
  # Mode seeking (losses.mode_seeking_penalty) in G's main loss; 0: off, as
  # the official.
  config.loss.ms_weight = 0.0
  config.loss.l1_weight = 100.0  # pix2pix: lambda of the L1 term.
  # The classic baselines' GAN loss (one of losses.GAN_LOSSES; StyleGAN2
  # always trains non-saturating) and WGAN-GP's gradient-penalty weight
  # lambda (0: off). r1_gamma applies to the baselines too.
  config.loss.gan_loss = "non_saturating"
  config.loss.gp_weight = 0.0

  config.optim = ml_collections.ConfigDict()
  config.optim.g_lr = 0.002
  config.optim.d_lr = 0.002
  config.optim.betas = (0.0, 0.99)
  config.optim.eps = 1e-8
  config.optim.g_reg_interval = 4
  config.optim.d_reg_interval = 16

  # Augmentation of every image D sees (reals and fakes; `train.augmentation`)
  # with the official `--aug`, `--augpipe`, `--p`, `--target` defaults.
  config.augment = ml_collections.ConfigDict()
  config.augment.mode = "noaug"  # One of AUGMENT_MODES (official: 'ada').
  config.augment.pipe = "bgc"  # One of `augment.PIPES`.
  config.augment.p = 0.0  # 'fixed': the probability; 'ada': where p starts.
  config.augment.target = 0.6  # ADA's target for r_t = E[sign(D(real))].
  config.augment.ada_kimg = 500.0  # p can move by 1 in this many kimg.
  config.augment.ada_interval = 4  # Iterations between adjustments of p.
  config.augment.diffaugment_policy = "color,translation,cutout"

  config.train = ml_collections.ConfigDict()
  config.train.total_kimg = 25_000.0
  # Length in passes over the dataset instead of kimg: when set it wins over
  # total_kimg (converted with the dataset size when training starts).
  config.train.total_epochs = ml_collections.config_dict.placeholder(float)
  # Baselines: D steps per G step (each with its own real batch).
  config.train.n_critic = 1
  config.train.batch_size = 32  # Global, over all devices and hosts.
  config.train.ema_kimg = 10.0
  config.train.ema_rampup = ml_collections.config_dict.placeholder(float)
  config.train.seed = 0
  config.train.log_every_kimg = 4.0
  config.train.snapshot_kimg = 200.0  # Sample grid (and metrics).
  config.train.checkpoint_kimg = 200.0
  config.train.keep_checkpoints = 3
  config.train.grid_size = 8  # Grid of grid_size x grid_size samples.
  config.train.matmul_precision = "highest"  # As the official (no TF32).
  # 'auto' resumes the workdir's newest checkpoint; 'fresh' refuses to
  # touch a workdir that has checkpoints (start a new one).
  config.train.resume = "auto"
  # Fine-tuning: a network-snapshot .pkl, an exported .npz or a workdir[@step]
  # whose G, D and G_ema start a run whose workdir has no checkpoint yet
  # (`train.transfer`); '' starts from random networks.
  config.train.resume_from = ""

  config.mesh = ml_collections.ConfigDict()
  config.mesh.num_devices = -1  # -1: every device of every process.

  # Metrics, computed at every snapshot and by the metrics tool (see
  # stylegan_jax/evaluators). Weights are the user's files, never downloaded.
  config.evals = ml_collections.ConfigDict()
  # Comma-separated names from evaluators.METRICS, e.g. "fid50k_full,swd";
  # "" for none. FID/KID/IS need `inception`, PR `vgg16`, PPL both VGG files.
  config.evals.metrics = "swd"
  # pytorch-fid's pt_inception-2015-12-05-6726825d.pth (FID, KID, IS).
  config.evals.inception = ""
  config.evals.vgg16 = ""  # torchvision's vgg16-397923af.pth (PR, PPL).
  config.evals.lpips = ""  # The lpips package's weights/v0.1/vgg.pth (PPL).
  config.evals.resize_mode = "pytorch-fid"  # Inception input; or 'clean'.
  # Real-image statistics and converted weights; "" is $STYLEGAN_JAX_CACHE or
  # ~/.cache/stylegan_jax.
  config.evals.cache_dir = ""
  # > 0 caps every metric's generated and real images (quick looks, tests);
  # 0 keeps the official counts (50k for fid50k_full).
  config.evals.max_images = 0
  config.evals.seed = 0  # Generated image i comes from seed + i.
  config.evals.truncation_psi = 1.0
  config.evals.noise_mode = "random"  # As the official metrics; or 'const'.
  config.evals.batch_size = 64  # Images per jitted call, over all devices.
  config.evals.swd_num_images = 1024  # Generated and real images for swd.
  config.evals.swd_directions = 512  # SWD directions per repeat (4 repeats).
  config.evals.ppl_crop = False  # PPL's FFHQ face crop.
  # Progressive growing (model.arch='stylegan2_progressive'), on ProGAN's
  # schedule: train at start_resolution for stage_kimg, then for each
  # doubling fade the new resolution in over fade_kimg and train it for
  # stage_kimg (the last one until total_kimg). The maps give a resolution
  # its global batch and learning rates, e.g. {4: 128, 8: 128, 16: 64};
  # resolutions not listed use train.batch_size, optim.g_lr, optim.d_lr.
  config.progressive = ml_collections.ConfigDict()
  config.progressive.start_resolution = 4
  config.progressive.stage_kimg = 600.0
  config.progressive.fade_kimg = 600.0
  config.progressive.batch_sizes = {}
  config.progressive.g_lrs = {}
  config.progressive.d_lrs = {}
  # Fresh Adam moments whenever a stage starts (ProGAN's and StyleGAN 1's
  # reset_opt_for_new_lod).
  config.progressive.reset_optimizer = True
  return config


def apply_preset(config: ml_collections.ConfigDict, name: str,
                 num_devices: int = 1) -> ml_collections.ConfigDict:
  """Sets the official `--cfg=name` hyper-parameters on `config` in place.

  Args:
    config: a `base_config()`; `config.data.resolution` must be final.
    name: one of PRESET_NAMES.
    num_devices: device count, used by `auto` as the official uses GPUs.

  Returns:
    `config`, for chaining.
  """
  if name == "auto":
    res = config.data.resolution
    batch = max(min(num_devices * min(4096 // res, 32), 64), num_devices)
    preset = dict(batch_size=batch,
                  mbstd_group_size=min(batch // num_devices, 4),
                  fmaps=1.0 if res >= 512 else 0.5,
                  lr=0.002 if res >= 1024 else 0.0025,
                  r1_gamma=0.0002 * res**2 / batch,
                  ema_kimg=batch * 10 / 32, ema_rampup=0.05,
                  mapping_layers=2)
  elif name in PRESETS:
    preset = PRESETS[name]
  else:
    raise ConfigError(f"unknown preset {name!r} — choose one of "
                      f"{', '.join(PRESET_NAMES)}")
  config.train.batch_size = preset["batch_size"]
  config.model.mbstd_group_size = preset["mbstd_group_size"]
  config.model.channel_base = int(preset["fmaps"] * 32768)
  config.model.channel_max = 512
  config.model.z_dim = config.model.w_dim = 512
  config.model.mapping_layers = preset["mapping_layers"]
  config.model.conv_clamp = 256.0
  config.model.d_architecture = preset.get("d_architecture", "resnet")
  config.optim.g_lr = config.optim.d_lr = preset["lr"]
  config.loss.r1_gamma = preset["r1_gamma"]
  config.loss.pl_weight = preset.get("pl_weight", 2.0)
  config.loss.style_mixing_prob = preset.get("style_mixing_prob", 0.9)
  config.train.ema_kimg = preset["ema_kimg"]
  config.train.ema_rampup = preset["ema_rampup"]
  return config


# WGAN-GP as in its paper (Gulrajani et al. 2017, Algorithm 1): lambda 10,
# 5 critic steps per G step, Adam(1e-4, beta1 0, beta2 0.9).
WGAN_GP = dict(gan_loss="wgan", gp_weight=10.0, n_critic=5, lr=1e-4,
               betas=(0.0, 0.9))


def apply_gan_loss(config: ml_collections.ConfigDict,
                   name: str) -> ml_collections.ConfigDict:
  """Sets a baseline's GAN loss on `config` in place (the experiments' loss=).

  Args:
    config: a baseline config (its optimiser is the model's recipe).
    name: a loss of `losses.GAN_LOSSES` (only `loss.gan_loss` changes), or
      `wgan_gp`, the WGAN-GP recipe (WGAN_GP: the loss, its penalty,
      n_critic and optimiser).

  Returns:
    `config`, for chaining.
  """
  from stylegan_jax import losses  # pylint: disable=g-import-not-at-top
  choices = (*losses.GAN_LOSSES, "wgan_gp")
  if name not in choices:
    raise ConfigError(f"unknown GAN loss {name!r} — choose one of "
                      f"{', '.join(choices)}")
  if name == "wgan_gp":
    config.loss.gan_loss = WGAN_GP["gan_loss"]
    config.loss.gp_weight = WGAN_GP["gp_weight"]
    config.train.n_critic = WGAN_GP["n_critic"]
    config.optim.g_lr = config.optim.d_lr = WGAN_GP["lr"]
    config.optim.betas = WGAN_GP["betas"]
  else:
    config.loss.gan_loss = name
  return config


def total_nimg(train: ml_collections.ConfigDict, dataset_size: int) -> int:
  """The images a run shows D: from total_epochs if set, else total_kimg.

  Args:
    train: the `train` section.
    dataset_size: images in one epoch (over all processes).

  Returns:
    round(total_epochs * dataset_size) when `total_epochs` is set (it wins
    over `total_kimg`), else int(total_kimg * 1000). Training stops at the
    first iteration that reaches it.
  """
  if train.total_epochs is None:
    return int(train.total_kimg * 1000)
  if dataset_size < 1:
    raise ConfigError(f"train.total_epochs={train.total_epochs} needs a "
                      "dataset with images — check data.source")
  return max(1, round(train.total_epochs * dataset_size))


def parse_arg(arg: str | None, **defaults) -> ml_collections.ConfigDict:
  """Parses a config-file argument `key=value,flag,...` (from `file.py:arg`).

  Values are converted to the type of their default; a bare key sets True.
  """
  out = ml_collections.ConfigDict(defaults)
  for item in filter(None, (arg or "").split(",")):
    key, sep, value = item.partition("=")
    if key not in defaults:
      raise ConfigError(f"unknown config argument {key!r} — known: "
                        f"{', '.join(sorted(defaults))}")
    if not sep:
      out[key] = True
    elif isinstance(defaults[key], bool):
      out[key] = value.lower() in ("1", "true", "yes")
    else:
      try:
        out[key] = type(defaults[key])(value)
      except ValueError:
        raise ConfigError(
            f"config argument {key}={value!r} is not a valid "
            f"{type(defaults[key]).__name__} — e.g. {key}={defaults[key]}"
        ) from None
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
  config.augment.mode = "ada"  # As official train.py: --aug=ada, bgc.
  return apply_preset(config, name, num_devices=a.gpus)


# ---------------------------------------------------------------- validation --


def flat_keys(config: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
  """Dotted paths of every leaf of `config` ('train.batch_size', ...)."""
  out = []
  for key, value in config.items():
    path = f"{prefix}{key}"
    if isinstance(value, ml_collections.ConfigDict) and path not in MAP_KEYS:
      out.extend(flat_keys(value, path + "."))
    else:
      out.append(path)
  return out


def nearest_key(key: str, known: list[str]) -> str | None:
  """The valid key closest to a misspelt one, or None."""
  leaf = key.rsplit(".", 1)[-1]
  by_leaf = {k.rsplit(".", 1)[-1]: k for k in known}
  match = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
  if match:
    return match[0]
  match = difflib.get_close_matches(leaf, list(by_leaf), n=1, cutoff=0.6)
  return by_leaf[match[0]] if match else None


def unknown_key_error(key: str) -> ConfigError:
  """The one-line error for a key the schema does not have."""
  near = nearest_key(key, flat_keys(base_config()))
  hint = (f"did you mean '{near}'?" if near else
          "see stylegan_jax/configs.py for every key")
  return ConfigError(f"unknown config key '{key}' — {hint}")


def check_keys(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError for the first key that is not in `base_config()`."""
  known = set(flat_keys(base_config()))
  for key in flat_keys(config):
    if key not in known:
      raise unknown_key_error(key)
  sections = {k.split(".", 1)[0] for k in known}
  for key in config.keys():
    if key not in sections:
      raise unknown_key_error(key)


def _require(ok: bool, key: str, value: Any, want: str) -> None:
  if not ok:
    raise ConfigError(f"{key}={value!r} is invalid — {want} "
                      f"(--config.{key}=...)")


def _validate_mixed_precision(m: ml_collections.ConfigDict) -> None:
  """model.num_fp16_res / fp16_dtype: ranges and what they combine with."""
  _require(isinstance(m.num_fp16_res, int) and m.num_fp16_res >= 0,
           "model.num_fp16_res", m.num_fp16_res,
           "use an integer >= 0 (0: float32 everywhere; the official uses 4)")
  _require(m.fp16_dtype in FP16_DTYPES, "model.fp16_dtype", m.fp16_dtype,
           f"one of {', '.join(FP16_DTYPES)}")
  if not m.num_fp16_res:
    return
  _require(m.arch == "stylegan2", "model.num_fp16_res", m.num_fp16_res,
           f"mixed precision is for model.arch 'stylegan2' (not {m.arch!r}):"
           " use 0")
  _require(m.fp16_dtype != "float16" or m.conv_clamp is not None,
           "model.conv_clamp", m.conv_clamp,
           "float16 layers overflow without clamping: use 256 as the "
           "official, or model.fp16_dtype='bfloat16'")


def _is_power_of_two(x: int) -> bool:
  return x >= 1 and (x & (x - 1)) == 0


def validate(config: ml_collections.ConfigDict, *,
             num_devices: int | None = None,
             check_paths: bool = True) -> None:
  """Checks a finished config; raises a one-line ConfigError.

  Cheap enough to run before anything is built (no data reading). JAX is
  imported only to check the names of an augmentation pipe or policy, and
  for a baseline's networks' size rules.

  Args:
    config: the experiment config.
    num_devices: devices the mesh will span (for the batch split); None skips
      that check.
    check_paths: also check that folders and files named in it exist.
  """
  check_keys(config)
  d, m, l, o, t = (config.data, config.model, config.loss, config.optim,
                   config.train)
  _require(d.source in SOURCES, "data.source", d.source,
           f"one of {', '.join(SOURCES)}")
  _require(d.crop in CROPS, "data.crop", d.crop, f"one of {', '.join(CROPS)}")
  if d.source == "glyphs":
    _require(8 <= d.resolution <= 256, "data.resolution", d.resolution,
             "the glyphs source draws 8 to 256 pixels (e.g. 28)")
  classic_arch = m.arch in CLASSIC_ARCHS
  if not classic_arch:
    _require(d.resolution >= 4 and _is_power_of_two(d.resolution),
             "data.resolution", d.resolution,
             "StyleGAN needs a power of two >= 4 (e.g. 64, 128, 256)")
  _require(d.channels in CHANNELS, "data.channels", d.channels,
           "use 3 (RGB) or 1 (grayscale)")
  _require(d.shuffle_buffer >= 1, "data.shuffle_buffer", d.shuffle_buffer,
           "use a positive number of examples")
  _require(d.on_change in ON_CHANGE, "data.on_change", d.on_change,
           f"one of {', '.join(ON_CHANGE)}")
  _require(d.embedded_num_images >= 1, "data.embedded_num_images",
           d.embedded_num_images, "use a positive number of images")
  if d.source not in BUILTIN_SOURCES:
    _require(bool(d.data_dir), "data.data_dir", d.data_dir,
             f"source {d.source!r} reads images from a folder: set "
             "data.data_dir (or the experiment's data= argument)")

  _require(m.arch in ARCHS, "model.arch", m.arch,
           f"one of {', '.join(ARCHS)}")
  if classic_arch:
    _validate_classic(config)
  for key in ("z_dim", "w_dim", "mapping_layers", "channel_base",
              "channel_max"):
    _require(m[key] >= 1, f"model.{key}", m[key], "use a positive integer")
  _require(m.mapping_lr_multiplier > 0, "model.mapping_lr_multiplier",
           m.mapping_lr_multiplier, "use a positive number")
  _require(m.conv_clamp is None or m.conv_clamp > 0, "model.conv_clamp",
           m.conv_clamp, "use a positive number, or None for no clamping")
  _validate_mixed_precision(m)
  for key in ("g_architecture", "d_architecture"):
    _require(m[key] in ARCHITECTURES, f"model.{key}", m[key],
             f"one of {', '.join(ARCHITECTURES)}")
  _require(m.mbstd_group_size >= 1, "model.mbstd_group_size",
           m.mbstd_group_size, "use a positive group size")
  c4 = min(m.channel_base // 4, m.channel_max)
  _require(m.mbstd_num_channels >= 0 and (
      m.mbstd_num_channels == 0 or c4 % m.mbstd_num_channels == 0),
           "model.mbstd_num_channels", m.mbstd_num_channels,
           f"use 0 or a divisor of the {c4} channels at 4x4")

  for key in ("r1_gamma", "pl_weight", "ms_weight"):
    _require(l[key] >= 0 and math.isfinite(l[key]), f"loss.{key}", l[key],
             "use a finite number >= 0 (0 turns it off)")
  _require(0 < l.pl_decay <= 1, "loss.pl_decay", l.pl_decay,
           "use a number in (0, 1]")
  _require(l.pl_batch_shrink >= 1 and (
      classic_arch or t.batch_size % l.pl_batch_shrink == 0),
           "loss.pl_batch_shrink", l.pl_batch_shrink,
           f"use a divisor of train.batch_size={t.batch_size}")
  _require(0 <= l.style_mixing_prob <= 1, "loss.style_mixing_prob",
           l.style_mixing_prob, "use a probability in [0, 1]")

  for key in ("g_lr", "d_lr", "eps"):
    _require(o[key] > 0 and math.isfinite(o[key]), f"optim.{key}", o[key],
             "use a positive number")
  _require(len(o.betas) == 2 and all(0 <= b < 1 for b in o.betas),
           "optim.betas", tuple(o.betas), "use two numbers in [0, 1)")
  for key in ("g_reg_interval", "d_reg_interval"):
    _require(o[key] >= 1, f"optim.{key}", o[key], "use an integer >= 1")

  _validate_augment(config)

  _require(t.total_kimg > 0 and math.isfinite(t.total_kimg),
           "train.total_kimg", t.total_kimg, "use a positive number of kimg")
  _require(t.total_epochs is None or (
      t.total_epochs > 0 and math.isfinite(t.total_epochs)),
           "train.total_epochs", t.total_epochs,
           "use a positive number of epochs, or None to train total_kimg")
  _require(isinstance(t.n_critic, int) and t.n_critic >= 1, "train.n_critic",
           t.n_critic, "use an integer >= 1 (D steps per G step)")
  if m.arch in STYLEGAN_ARCHS:
    for key, value, default in (("loss.gan_loss", l.gan_loss,
                                 "non_saturating"),
                                ("loss.gp_weight", l.gp_weight, 0.0),
                                ("train.n_critic", t.n_critic, 1)):
      _require(value == default, key, value,
               f"StyleGAN2 trains with {key}={default!r}; the setting is "
               f"for model.arch {', '.join(CLASSIC_ARCHS)}")
  _require(t.batch_size >= 1, "train.batch_size", t.batch_size,
           "use a positive batch size")
  if num_devices is not None and t.batch_size % num_devices:
    raise ConfigError(
        f"train.batch_size={t.batch_size} is not divisible by the "
        f"{num_devices} devices of the mesh — use a multiple of {num_devices}"
        f" (e.g. --config.train.batch_size="
        f"{max(num_devices, t.batch_size // num_devices * num_devices)})")
  if l.ms_weight and not classic_arch and t.batch_size % 2:
    raise ConfigError(
        f"loss.ms_weight={l.ms_weight} pairs the batch's samples, and "
        f"train.batch_size={t.batch_size} is odd — use an even batch size")
  group = min(m.mbstd_group_size, t.batch_size)
  if not classic_arch and t.batch_size % group:
    raise ConfigError(
        f"train.batch_size={t.batch_size} is not divisible by the "
        f"minibatch-stddev group model.mbstd_group_size="
        f"{m.mbstd_group_size} — use a multiple of {group}, or a group size "
        f"that divides {t.batch_size}")
  if num_devices is not None and not classic_arch and l.pl_weight and (
      t.batch_size // l.pl_batch_shrink) % num_devices:
    raise ConfigError(
        f"the path-length batch train.batch_size / loss.pl_batch_shrink = "
        f"{t.batch_size // l.pl_batch_shrink} does not split over the "
        f"{num_devices} devices — use a batch size that is a multiple of "
        f"{num_devices * l.pl_batch_shrink}")
  _require(t.ema_kimg >= 0, "train.ema_kimg", t.ema_kimg, "use a number >= 0")
  _require(t.ema_rampup is None or t.ema_rampup > 0, "train.ema_rampup",
           t.ema_rampup, "use a positive number or None")
  for key in ("log_every_kimg", "snapshot_kimg", "checkpoint_kimg"):
    _require(t[key] > 0, f"train.{key}", t[key], "use a positive interval")
  _require(t.keep_checkpoints >= 1, "train.keep_checkpoints",
           t.keep_checkpoints, "keep at least 1")
  _require(1 <= t.grid_size <= 32, "train.grid_size", t.grid_size,
           "use 1 to 32 columns")
  _require(t.matmul_precision in MATMUL_PRECISIONS, "train.matmul_precision",
           t.matmul_precision, f"one of {', '.join(MATMUL_PRECISIONS)}")
  _require(t.resume in RESUME_MODES, "train.resume", t.resume,
           f"one of {', '.join(RESUME_MODES)}")
  _require(t.seed >= 0 and d.seed >= 0, "train.seed", t.seed,
           "use a seed >= 0")
  _require(config.mesh.num_devices == -1 or config.mesh.num_devices >= 1,
           "mesh.num_devices", config.mesh.num_devices,
           "use -1 (all devices) or a positive count")
  _validate_progressive(config, num_devices)
  _check_pix2pix(config)
  if check_paths and d.source not in BUILTIN_SOURCES:
    _check_data_dir(d.data_dir)
    if d.source == "paired" and d.paired_layout == "folders":
      for side in ("A", "B"):
        _check_data_dir(os.path.join(d.data_dir, side))
  _require(isinstance(t.resume_from, str), "train.resume_from",
           t.resume_from, "use a path ('' for none)")
  if check_paths and t.resume_from:
    _check_resume_from(t.resume_from)
  eval_specs.check_evals(config.evals, check_paths=check_paths)


def _check_pix2pix(config: ml_collections.ConfigDict) -> None:
  """The paired data and pix2pix settings (see `validate`)."""
  d, m, t = config.data, config.model, config.train
  _require(d.paired_layout in PAIRED_LAYOUTS, "data.paired_layout",
           d.paired_layout, f"one of {', '.join(PAIRED_LAYOUTS)}")
  _require(d.paired_direction in PAIRED_DIRECTIONS, "data.paired_direction",
           d.paired_direction, f"one of {', '.join(PAIRED_DIRECTIONS)}")
  _require(1 <= d.paired_eval_images <= 100_000, "data.paired_eval_images",
           d.paired_eval_images, "hold out 1 to 100,000 pairs")
  paired = d.source in PAIRED_SOURCES
  if m.arch == "pix2pix" and not paired:
    raise ConfigError(
        f"model.arch='pix2pix' trains on image pairs, but data.source="
        f"{d.source!r} has none — use data.source='embedded_paired', or "
        "'paired' with data.data_dir")
  if paired and m.arch != "pix2pix":
    raise ConfigError(
        f"data.source={d.source!r} holds image pairs for pix2pix — set "
        "model.arch='pix2pix' (experiments/pix2pix.py) or an unpaired source")
  if m.arch != "pix2pix":
    return
  for key in ("pix2pix_g_channels", "pix2pix_d_channels",
              "pix2pix_channel_max"):
    _require(m[key] >= 1, f"model.{key}", m[key], "use a positive integer")
  layers = m.pix2pix_d_layers
  patches = d.resolution // 2**layers - 2 if layers >= 0 else 0
  _require(layers >= 1 and patches >= 1, "model.pix2pix_d_layers", layers,
           f"use 1 or more stride-2 layers that leave patches at "
           f"data.resolution={d.resolution} (it needs 3 * 2**layers px)")
  _require(m.pix2pix_norm in PIX2PIX_NORMS, "model.pix2pix_norm",
           m.pix2pix_norm, f"one of {', '.join(PIX2PIX_NORMS)}")
  _require(0 <= m.pix2pix_dropout < 1, "model.pix2pix_dropout",
           m.pix2pix_dropout, "use a rate in [0, 1)")
  _require(config.loss.l1_weight >= 0 and math.isfinite(
      config.loss.l1_weight), "loss.l1_weight", config.loss.l1_weight,
           "use a finite number >= 0 (100 in the paper)")
  _require(d.channels == 3, "data.channels", d.channels,
           "pix2pix translates RGB pairs: set it to 3")
  _require(not d.conditional, "data.conditional", d.conditional,
           "pix2pix is conditioned on the source image, not on labels: "
           "set it to False")
  _require(not config.evals.metrics.strip(), "evals.metrics",
           config.evals.metrics, "the metrics score unconditional samples; "
           "pix2pix is scored on its held-out pairs instead: set it to ''")


def _validate_augment(config: ml_collections.ConfigDict) -> None:
  """The `augment` section (the pipe's names are checked only when used)."""
  a = config.augment
  _require(a.mode in AUGMENT_MODES, "augment.mode", a.mode,
           f"one of {', '.join(AUGMENT_MODES)}")
  if config.model.arch not in AUGMENTED_ARCHS:
    _require(a.mode == "noaug", "augment.mode", a.mode,
             f"model.arch={config.model.arch!r} trains without augmentation"
             f" (it is for {', '.join(AUGMENTED_ARCHS)}): set it to 'noaug'")
  _require(0 <= a.p <= 1, "augment.p", a.p, "use a probability in [0, 1]")
  _require(-1 <= a.target <= 1, "augment.target", a.target,
           "use a number in [-1, 1], the range of E[sign(D(real))]")
  _require(a.ada_kimg > 0 and math.isfinite(a.ada_kimg), "augment.ada_kimg",
           a.ada_kimg, "use a positive number of kimg")
  _require(a.ada_interval >= 1, "augment.ada_interval", a.ada_interval,
           "use an integer >= 1")
  # Imported here: the augmentation package imports JAX.
  if a.mode in ("ada", "fixed"):
    from stylegan_jax.augment import specs  # pylint: disable=g-import-not-at-top
    _require(a.pipe in specs.PIPES, "augment.pipe", a.pipe,
             f"one of {', '.join(specs.PIPES)}")
    _require(config.data.resolution >= 8, "data.resolution",
             config.data.resolution, "the augmentation pipeline needs 8 "
             "pixels or more (or --config.augment.mode=noaug)")
  if a.mode == "diffaugment":
    from stylegan_jax.augment import diffaugment  # pylint: disable=g-import-not-at-top
    try:
      diffaugment.parse_policy(a.diffaugment_policy)
    except ValueError:
      _require(False, "augment.diffaugment_policy", a.diffaugment_policy,
               "a comma-separated subset of "
               f"{','.join(diffaugment.POLICIES)}")


def _check_resume_from(spec: str) -> None:
  path = os.path.expanduser(spec)
  if "@" in path and not os.path.exists(path):
    path = path.rpartition("@")[0]  # workdir@step
  if not os.path.exists(path):
    raise ConfigError(f"train.resume_from={spec!r} does not exist — point "
                      "it at a network-snapshot .pkl, an exported .npz or "
                      "a training workdir")


def _validate_classic(config: ml_collections.ConfigDict) -> None:
  """The keys of the classic baselines (model.arch in CLASSIC_ARCHS).

  Imports the networks' and losses' modules for their name lists and size
  rules (so only baseline configs pay for importing JAX here).
  """
  # pylint: disable=g-import-not-at-top
  from stylegan_jax import losses
  from stylegan_jax.nets import classic
  from stylegan_jax.nets import mlp
  # pylint: enable=g-import-not-at-top
  d, m, l = config.data, config.model, config.loss
  if m.arch == "mlp":
    _require(m.variant in mlp.MLP_VARIANTS, "model.variant", m.variant,
             f"one of {', '.join(mlp.MLP_VARIANTS)}")
    hidden = m.mlp_hidden
    _require(isinstance(hidden, (tuple, list)) and len(hidden) >= 1 and all(
        isinstance(h, int) and h >= 1 for h in hidden), "model.mlp_hidden",
             hidden, "use one or more positive layer widths, e.g. (128, 128)")
    _require(d.resolution >= 4, "data.resolution", d.resolution,
             "use at least 4 pixels")
  else:
    try:
      classic.upsampling_chain(d.resolution)
    except ValueError:
      _require(False, "data.resolution", d.resolution,
               f"the {m.arch} networks need 4, 5, 6 or 7 times a power of "
               "two, at least 8 (e.g. 16, 28, 32, 64)")
    for key in ("g_channels", "g_channel_min", "d_channels",
                "d_channel_max"):
      _require(isinstance(m[key], int) and m[key] >= 1, f"model.{key}",
               m[key], "use a positive integer")
  _require(l.ms_weight == 0, "loss.ms_weight", l.ms_weight,
           "mode seeking is a StyleGAN2 setting; use 0 with model.arch "
           f"{m.arch}")
  _require(l.gan_loss in losses.GAN_LOSSES, "loss.gan_loss", l.gan_loss,
           f"one of {', '.join(losses.GAN_LOSSES)}")
  _require(l.gp_weight >= 0 and math.isfinite(l.gp_weight), "loss.gp_weight",
           l.gp_weight, "use a finite number >= 0 (0 turns it off)")


def resolution_map(mapping) -> dict[int, Any]:
  """A `progressive.*` map as {resolution: value} (JSON turns keys to str)."""
  try:
    return {int(k): v for k, v in dict(mapping or {}).items()}
  except (TypeError, ValueError):
    raise ConfigError(f"{dict(mapping)!r} is not a map from resolutions to "
                      "values — use e.g. {4: 128, 8: 64}") from None


def progressive_resolutions(config: ml_collections.ConfigDict) -> list[int]:
  """The resolutions a progressive run grows through, start to final."""
  start, final = config.progressive.start_resolution, config.data.resolution
  return [r for r in (2**i for i in range(2, 31)) if start <= r <= final]


def _validate_progressive(config: ml_collections.ConfigDict,
                          num_devices: int | None) -> None:
  """The `progressive` section (its stage batches only when growing)."""
  p, m, l = config.progressive, config.model, config.loss
  _require(_is_power_of_two(p.start_resolution) and
           4 <= p.start_resolution <= config.data.resolution,
           "progressive.start_resolution", p.start_resolution,
           f"use a power of two in [4, data.resolution="
           f"{config.data.resolution}]")
  for key in ("stage_kimg", "fade_kimg"):
    _require(p[key] >= 0 and math.isfinite(p[key]), f"progressive.{key}",
             p[key], "use a number of kimg >= 0")
  maps = {key: resolution_map(p[key]) for key in ("batch_sizes", "g_lrs",
                                                  "d_lrs")}
  for key, values in maps.items():
    for res, value in values.items():
      _require(_is_power_of_two(res) and res >= 4, f"progressive.{key}",
               dict(p[key]), f"key {res} is not a resolution (a power of "
               "two >= 4)")
      ok = (isinstance(value, int) and value >= 1 if key == "batch_sizes"
            else isinstance(value, (int, float)) and value > 0
            and math.isfinite(value))
      _require(ok, f"progressive.{key}", dict(p[key]),
               f"the value for {res} must be a positive "
               f"{'integer' if key == 'batch_sizes' else 'number'}")
  if m.arch != "stylegan2_progressive":
    return
  if not p.stage_kimg and not p.fade_kimg:
    raise ConfigError("progressive.stage_kimg and progressive.fade_kimg are "
                      "both 0 — give the stages a length (e.g. "
                      "--config.progressive.stage_kimg=600), or train at one "
                      "resolution with model.arch='stylegan2'")
  for key in ("g_architecture", "d_architecture"):
    _require(m[key] in ("orig", "resnet"), f"model.{key}", m[key],
             "progressive growing needs 'orig' or 'resnet' (each resolution "
             "has its own toRGB/fromRGB)")
  batches = [maps["batch_sizes"].get(res, config.train.batch_size)
             for res in progressive_resolutions(config)]
  for key in ("stage_kimg", "fade_kimg"):
    _require(not p[key] or round(p[key] * 1000) >= max(batches),
             f"progressive.{key}", p[key], f"a stage must hold at least one "
             f"batch: use 0 or >= {max(batches) / 1000} kimg")
  for res in progressive_resolutions(config):
    batch = maps["batch_sizes"].get(res, config.train.batch_size)
    where = f"the {res}x{res} stage's batch {batch} (progressive.batch_sizes)"
    if num_devices is not None and batch % num_devices:
      raise ConfigError(f"{where} is not divisible by the {num_devices} "
                        "devices of the mesh — use multiples of "
                        f"{num_devices}")
    group = min(m.mbstd_group_size, batch)
    if batch % group:
      raise ConfigError(f"{where} is not divisible by the minibatch-stddev "
                        f"group model.mbstd_group_size={m.mbstd_group_size} "
                        f"— use multiples of {group}")
    if l.pl_weight and batch % (l.pl_batch_shrink * (num_devices or 1)):
      raise ConfigError(f"{where} does not split into path-length batches "
                        f"(loss.pl_batch_shrink={l.pl_batch_shrink}) over "
                        f"{num_devices or 1} devices — use multiples of "
                        f"{l.pl_batch_shrink * (num_devices or 1)}")


def _check_data_dir(data_dir: str) -> None:
  path = os.path.expanduser(data_dir)
  if not os.path.exists(path):
    raise ConfigError(f"data.data_dir={data_dir!r} does not exist — point "
                      "it at your image folder")
  if not os.path.isdir(path):
    raise ConfigError(f"data.data_dir={data_dir!r} is a file, not a folder "
                      "— point it at the folder that holds the images")
  with os.scandir(path) as entries:
    if not any(not e.name.startswith(".") for e in entries):
      raise ConfigError(f"data.data_dir={data_dir!r} is empty — put the "
                        "images (or one subfolder per class) in it")


def parse_flags(argv: list[str]) -> list[str]:
  """absl flag parsing (`app.run(flags_parser=...)`) with one-line errors.

  A misspelt `--config.section.key` names the nearest valid key; any other
  flag or config-file error is one line too; exit code 2.
  """
  argv, unset = _none_overrides(argv)
  try:
    rest = flags.FLAGS(argv)
  except Exception as e:  # pylint: disable=broad-except
    if errors.debug_requested(argv):
      raise
    errors.fail(_flag_error_message(e, argv))
  if "config" in flags.FLAGS:
    check_config_loaded(flags.FLAGS["config"], argv)
  for key in unset:  # After the config file and the other overrides.
    section, leaf = key.split(".")
    flags.FLAGS["config"].value[section][leaf] = None
  return rest


def check_config_loaded(flag: flags.Flag, argv: list[str]) -> None:
  """Fails in one line when a config-file flag names a file that did not load.

  ml_collections defers that error (a missing file, say) to the config's
  first use, where it would surface as a traceback.
  """
  if flag.value is None:
    return
  try:
    flag.value.keys()
  except OSError as e:
    if errors.debug_requested(argv):
      raise
    reason = re.search(r"\[Errno \d+\][^\n]*", str(e))
    reason = reason.group(0) if reason else str(e).strip().splitlines()[-1]
    path = getattr(flag, "config_filename", "")
    errors.fail(f"--config={path}: {reason.strip()} — give an experiment "
                "file, e.g. --config=experiments/demo.py")


# Keys with a value by default that also take None (validate accepts it).
NULLABLE_KEYS = ("model.conv_clamp",)


def _none_overrides(argv: list[str]) -> tuple[list[str], list[str]]:
  """Splits `--config.K=None` off argv for the keys that may be None.

  absl would parse 'None' as the field's type; the optional keys (those
  None in `base_config`, e.g. `train.ema_rampup`, and `NULLABLE_KEYS`)
  take it as None.
  """
  base = base_config()
  optional = {k for k in flat_keys(base)
              if base[k.split(".")[0]][k.split(".")[1]] is None}
  optional.update(NULLABLE_KEYS)
  kept, unset = [], []
  for arg in argv:
    m = re.fullmatch(r"--config\.([\w]+\.[\w]+)=(?:None|none)", arg)
    if m and m.group(1) in optional:
      unset.append(m.group(1))
    else:
      kept.append(arg)
  return kept, unset


def _flag_error_message(e: Exception, argv: list[str]) -> str:
  known = flat_keys(base_config())
  for arg in argv[1:]:
    m = re.match(r"--config\.([\w.]+)", arg)
    if m and m.group(1) not in known and not any(
        k.startswith(m.group(1) + ".") for k in known):
      return str(unknown_key_error(m.group(1)))
  # A config file's own error arrives wrapped (absl's flag error around
  # ml_collections' copy holding the traceback text): the innermost is ours.
  innermost, seen, cause = None, set(), e
  while cause is not None and id(cause) not in seen:
    seen.add(id(cause))
    if isinstance(cause, errors.UserError):
      innermost = cause
    cause = cause.__cause__ or cause.__context__
  if innermost is not None:
    return str(innermost)
  text = errors.one_line(str(e).replace("\\n", " ").strip("'\""))
  return f"{text} — check the flags (--helpshort lists them)"
