"""The metrics by name, what each needs, and the `evals` config check.

This module owns the table of metrics the evaluators compute (`METRICS`,
the official StyleGAN2-ADA names and image counts) and the checks of the
`evals` config section that can run before anything is built: known metric
names, the weight files a metric needs (with where to get them), option
ranges. `configs.validate` calls `check_evals`, so a metric whose weights
are missing fails when the config is validated, with one line naming the
file, not after training has started.

Counts (official): `num_gen` generated images; `max_real` real images, the
first ones of the dataset's fixed order (None: the whole dataset, as the
`_full` metrics). `evals.max_images > 0` caps both (quick looks, tests).
"""

import dataclasses
import math
import os
from collections.abc import Sequence
from typing import Any

from stylegan_jax.errors import ConfigError
from stylegan_jax.features import inception
from stylegan_jax.features import weights as weights_lib
from stylegan_jax.nets.synthesis import NOISE_MODES


@dataclasses.dataclass(frozen=True)
class MetricSpec:
  """One metric.

  Attributes:
    name: the official name (`fid50k_full`), also its result key prefix.
    kind: 'fid', 'kid', 'pr', 'is', 'ppl', 'swd' or 'style' (which
      evaluator).
    num_gen: generated images (PPL: samples); 0 for swd (its count is
      `evals.swd_num_images`).
    max_real: real images (None: all of the dataset; 0: none needed).
    weights: the `evals` keys of the weight files it needs.
    min_images: the fewest images it is defined on (for `max_images`).
    options: the metric's own settings (KID subsets, PR k, IS splits, PPL
      space and sampling).
  """

  name: str
  kind: str
  num_gen: int
  max_real: int | None
  weights: tuple[str, ...] = ()
  min_images: int = 2
  options: dict[str, Any] = dataclasses.field(default_factory=dict)


_FID = ("inception",)
_PPL = ("vgg16", "lpips")
METRICS: dict[str, MetricSpec] = {m.name: m for m in (
    MetricSpec("fid50k_full", "fid", 50_000, None, _FID),
    MetricSpec("fid10k", "fid", 10_000, 10_000, _FID),
    MetricSpec("kid50k_full", "kid", 50_000, 1_000_000, _FID,
               options=dict(num_subsets=100, max_subset_size=1000)),
    MetricSpec("pr50k3_full", "pr", 50_000, 200_000, ("vgg16",),
               min_images=4, options=dict(k=3)),
    MetricSpec("is50k", "is", 50_000, 0, _FID, min_images=10,
               options=dict(num_splits=10)),
    MetricSpec("ppl2_wend", "ppl", 50_000, 0, _PPL, min_images=1,
               options=dict(space="w", sampling="end", epsilon=1e-4)),
    MetricSpec("ppl_zend", "ppl", 50_000, 0, _PPL, min_images=1,
               options=dict(space="z", sampling="end", epsilon=1e-4)),
    MetricSpec("swd", "swd", 0, None, min_images=1),
    # Conditional models on the embedded set only (evaluators/style.py).
    MetricSpec("style_acc", "style", 1000, 1000, min_images=10),
)}

# evals key -> (features.weights kind, what it is, the CLI flag).
WEIGHTS = {
    "inception": ("inception", "the FID Inception-v3 weights", "--inception"),
    "vgg16": ("vgg16", "the VGG16 weights", "--vgg16"),
    "lpips": ("lpips_vgg", "the LPIPS-VGG heads", "--lpips"),
}
MAX_IMAGES = 1_000_000  # Most images one metric may ask for (any setting).
MAX_BATCH = 4096


def parse_metrics(text: str | Sequence[str]) -> list[str]:
  """'fid50k_full, swd' (or a sequence) -> ['fid50k_full', 'swd'], deduplicated.

  Raises:
    ConfigError: an unknown name (the message lists the known ones).
  """
  items = text.split(",") if isinstance(text, str) else list(text)
  names = list(dict.fromkeys(n.strip() for n in items if n.strip()))
  unknown = [n for n in names if n not in METRICS]
  if unknown:
    raise ConfigError(f"unknown metric {unknown[0]!r} in evals.metrics — "
                      f"choose from {', '.join(METRICS)}")
  return names


def needed_weights(names: Sequence[str]) -> list[str]:
  """The `evals` weight keys the metrics need, in `WEIGHTS` order."""
  need = {w for n in names for w in METRICS[n].weights}
  return [w for w in WEIGHTS if w in need]


def weights_help(key: str) -> str:
  """Where the file for `evals.<key>` comes from (one clause)."""
  return weights_lib.KINDS[WEIGHTS[key][0]].standard


def _require(ok: bool, key: str, value: Any, want: str) -> None:
  if not ok:
    flag = "num_images" if key == "max_images" else key
    raise ConfigError(f"evals.{key}={value!r} is invalid — {want} "
                      f"(training: --config.evals.{key}=...; the metrics "
                      f"tool: --{flag})")


def check_evals(evals, *, check_paths: bool = True) -> list[str]:
  """Checks the `evals` section; returns its metric names.

  Args:
    evals: the `evals` ConfigDict (or anything with its attributes).
    check_paths: also check that the named weight files exist.

  Raises:
    ConfigError: one line: an unknown metric, a metric whose weights are
      not set (naming the file and where to get it), a missing file, or an
      option out of range.
  """
  names = parse_metrics(evals.metrics)
  for key in needed_weights(names):
    users = [n for n in names if key in METRICS[n].weights]
    _, what, flag = WEIGHTS[key]
    path = evals[key]
    if not path:
      raise ConfigError(
          f"{', '.join(users)} {'needs' if len(users) == 1 else 'need'} "
          f"{what}, and evals.{key} is not set — bring "
          f"{weights_help(key)} and set evals.{key} (the metrics tool: "
          f"{flag}); stylegan_jax never downloads weights")
    if check_paths and not os.path.isfile(os.path.expanduser(path)):
      raise ConfigError(
          f"evals.{key}={path!r} is not a file — {', '.join(users)} "
          f"{'needs' if len(users) == 1 else 'need'} {what}: "
          f"{weights_help(key)}")
  _require(evals.resize_mode in inception.RESIZE_MODES, "resize_mode",
           evals.resize_mode, f"one of {', '.join(inception.RESIZE_MODES)}")
  _require(evals.noise_mode in NOISE_MODES, "noise_mode", evals.noise_mode,
           f"one of {', '.join(NOISE_MODES)}")
  _require(isinstance(evals.seed, int) and 0 <= evals.seed < 2**31,
           "seed", evals.seed, "use an integer in [0, 2**31)")
  _require(math.isfinite(evals.truncation_psi), "truncation_psi",
           evals.truncation_psi, "use a finite number (1: no truncation)")
  _require(1 <= evals.batch_size <= MAX_BATCH, "batch_size",
           evals.batch_size, f"use 1 to {MAX_BATCH} images per call")
  _require(1 <= evals.swd_num_images <= MAX_IMAGES, "swd_num_images",
           evals.swd_num_images, f"use 1 to {MAX_IMAGES:,} images (drop "
           "swd from evals.metrics to turn it off)")
  _require(1 <= evals.swd_directions <= 16384, "swd_directions",
           evals.swd_directions, "use 1 to 16384 directions")
  least = max([METRICS[n].min_images for n in names] or [0])
  _require(evals.max_images == 0 or least <= evals.max_images <= MAX_IMAGES,
           "max_images", evals.max_images,
           f"use 0 (every metric's own count) or {least} to {MAX_IMAGES:,}"
           " (the fewest images the chosen metrics are defined on)")
  return names
