"""Evaluating a model or image folders: the library of the metrics tool.

`evaluate(metrics, model=..., data=..., data2=..., evals=...)` computes:

* generator metrics (`evaluators.METRICS`: `fid50k_full`, `fid10k`,
  `kid50k_full`, `pr50k3_full`, `is50k`, `ppl2_wend`, `ppl_zend`, `swd`,
  `style_acc`) through `evaluators.Evaluation`, the very objects the training loop runs
  at its snapshots. The settings are the `evals` section of the model's
  training config when the model is a training workdir (so a checkpoint
  scores what training logged), else the defaults, with `evals` overriding
  single keys. Real images (`data`): a folder, or 'embedded' / 'glyphs' (the
  built-in art or digit set as the workdir's config defines it, else the
  default one); without
  `data` a workdir's own training data. Generated labels follow the class
  distribution training used (stored in the checkpoint), else the real
  folder's class subfolders, else uniform (with a note).
* `psnr`, `ssim`, `ms_ssim`: paired measures, so they need two folders,
  `data` and `data2`, whose images are paired by relative path (e.g.
  projection targets and their results). The means over the pairs are
  reported. Pairs are compared at the model's resolution when a model is
  given, otherwise at their own size (when the two sizes differ, both are
  centre-cropped and resized to the smaller side).

The record `evaluate` returns (and `write_json` writes) holds the values
under 'metrics', per-metric seconds under 'seconds', the sources, 'counts',
'notes' (skipped files, short folders), the settings ('evals'), the date,
the devices and the JAX version. Non-finite values (PSNR of identical
images is +inf) are written to JSON as the strings "inf", "-inf" or "nan",
so the file stays strict JSON.

Uses PIL for image files and never imports TensorFlow.
"""

from collections.abc import Callable, Sequence
import datetime
import json
import math
import os
import pathlib
from typing import Any

import jax
import ml_collections
import numpy as np
from PIL import Image

from stylegan_jax import checkpoint
from stylegan_jax import configs
from stylegan_jax import evaluators
from stylegan_jax import images
from stylegan_jax import labels as labels_lib
from stylegan_jax import model_io
from stylegan_jax import sharding
from stylegan_jax.errors import UserError
from stylegan_jax.evaluators import reals as reals_lib
from stylegan_jax.metrics import image_quality

PAIRED = ("psnr", "ssim", "ms_ssim")
METRICS = (*evaluators.METRICS, *PAIRED)
BUILTIN = reals_lib.BUILTIN  # Real images made in the package.
# Image pairs scored per jitted call.
_PAIR_BATCH = 32

# ------------------------------------------------------------ image folders --


def find_images(root: str | os.PathLike) -> list[str]:
  """Image files under `root`, as sorted POSIX paths relative to it.

  Hidden files and folders are skipped.

  Raises:
    FileNotFoundError: `root` is not a folder.
  """
  root = pathlib.Path(root)
  if not root.is_dir():
    raise FileNotFoundError(f"{root} is not a folder of images (or one of "
                            f"{', '.join(BUILTIN)})")
  return images.find_images(root)


# ---------------------------------------------------------- generator side --


def stored_meta(spec: str | os.PathLike) -> dict[str, Any] | None:
  """The checkpoint JSON ({'config', 'c_dim', 'class_names', ...}) of a
  training workdir spec (`workdir` or `workdir@step`); None for files."""
  text = str(spec)
  path_text, _, step = text.rpartition("@") if "@" in text else (text, "",
                                                                  "")
  path = pathlib.Path(path_text)
  if not (path / checkpoint.CHECKPOINTS).is_dir():
    return None
  manager = checkpoint.create_manager(path, read_only=True)
  steps = checkpoint.steps(manager)
  if not steps:
    return None
  return checkpoint.read_config(manager, int(step) if step else steps[-1])


def evals_settings(meta: dict[str, Any] | None,
                   overrides: dict[str, Any] | None
                   ) -> ml_collections.ConfigDict:
  """The `evals` section: defaults < a workdir's stored config < overrides.

  Raises:
    ConfigError: an override that is not an `evals` key.
  """
  evals = configs.base_config().evals
  stored = ((meta or {}).get("config") or {}).get("evals") or {}
  for key, value in stored.items():
    if key in evals:
      evals[key] = value
  for key, value in (overrides or {}).items():
    if key not in evals:
      raise configs.unknown_key_error(f"evals.{key}")
    evals[key] = value
  return evals


def real_images(data: str | None,
                meta: dict[str, Any] | None) -> reals_lib.RealImages:
  """The real images named by `data` (see the module docstring)."""
  stored = (meta or {}).get("config", {}).get("data")
  if data is None:
    if stored is None:
      raise UserError("--data is required: an image folder or one of "
                      f"{', '.join(BUILTIN)} (a training workdir defaults "
                      "to its own training data)")
    return reals_lib.RealImages.from_data_config(
        ml_collections.ConfigDict(stored))
  if data in BUILTIN:  # As the workdir's config defines it, else defaults.
    if stored and stored.get("source") == data:
      source = ml_collections.ConfigDict(stored)
    else:
      source = configs.base_config().data
      source.source = data
    return reals_lib.RealImages.from_data_config(source)
  return reals_lib.RealImages(reals_lib.FOLDER, path=str(data))


def class_distribution(model: model_io.Model, reals: reals_lib.RealImages,
                       meta: dict[str, Any] | None,
                       notes: list[str]) -> np.ndarray:
  """The generator's label distribution [c_dim] (see the module docstring)."""
  c_dim = model.G.c_dim
  if not c_dim:
    return np.zeros(0)
  stored = (meta or {}).get("class_probs")
  if stored is not None and len(stored) == c_dim:
    return np.asarray(stored, np.float64)
  counts = reals.class_counts(model.class_names)
  if counts is None:
    notes.append(f"the class distribution of {reals.describe()} is unknown "
                 f"for the classes {list(model.class_names)}: generated "
                 "labels are drawn uniformly")
  return labels_lib.class_probs(counts, c_dim)


def _generator_metrics(names, model, network, data, evals, log, notes):
  meta = None
  if not isinstance(model, model_io.Model):
    spec = str(model)
    model = model_io.load_model(spec, network=network)
    meta = stored_meta(spec)
  settings = evals_settings(meta, evals)
  settings.metrics = ",".join(names)
  reals = real_images(data, meta)
  class_probs = class_distribution(model, reals, meta, notes)
  evaluation = evaluators.Evaluation(
      settings, reals=reals, class_probs=class_probs,
      mesh=sharding.create_mesh(), G=model.G, log=log)
  results = evaluation(model.G, model.variables)
  for r in results:
    notes.extend(r.notes)
  return model, reals, settings, results


# ------------------------------------------------------------------ paired --


def _paired(metrics, data, data2, resolution,
            notes) -> tuple[dict[str, float], dict[str, int]]:
  names1, names2 = find_images(data), find_images(data2)
  common = sorted(set(names1) & set(names2))
  only1, only2 = len(names1) - len(common), len(names2) - len(common)
  if only1 or only2:
    notes.append(f"{only1} images only in {data} and {only2} only in {data2} "
                 "have no pair and are ignored")
  if not common:
    raise FileNotFoundError(f"no image in {data} has a file of the same name "
                            f"in {data2}")
  fns = {"psnr": image_quality.psnr, "ssim": image_quality.ssim,
         "ms_ssim": image_quality.ms_ssim}
  sums = {m: 0.0 for m in metrics}
  skipped, count = [], 0
  for start in range(0, len(common), _PAIR_BATCH):
    chunk = common[start:start + _PAIR_BATCH]
    a_list = images.read_many([pathlib.Path(data) / n for n in chunk],
                              resolution, 3)
    b_list = images.read_many([pathlib.Path(data2) / n for n in chunk],
                              resolution, 3)
    groups: dict[tuple[int, ...], list[tuple[np.ndarray, np.ndarray]]] = {}
    for name, a, b in zip(chunk, a_list, b_list):
      if a is None or b is None:
        skipped.append(name)
        continue
      if a.shape != b.shape:
        side = min(a.shape[:2] + b.shape[:2])
        a, b = (np.asarray(images.center_crop_resize(Image.fromarray(x), side))
                for x in (a, b))
      groups.setdefault(a.shape, []).append((a, b))
    for pairs in groups.values():
      a = images.to_float(np.stack([p[0] for p in pairs]))  # [n, H, W, 3]
      b = images.to_float(np.stack([p[1] for p in pairs]))
      for m in metrics:
        sums[m] += float(np.sum(np.asarray(fns[m](a, b), np.float64)))
      count += len(pairs)
  if skipped:
    notes.append(reals_lib.skipped_note(skipped, f"{data} or {data2}") +
                 " (their pairs are ignored)")
  if not count:
    raise FileNotFoundError(f"no readable image pair in {data} and {data2}")
  return ({m: sums[m] / count for m in metrics},
          {"pairs": count, "pairs/skipped": len(skipped),
           "pairs/unmatched": only1 + only2})


# ---------------------------------------------------------------- evaluate --


def _check(metrics, model, data, data2) -> None:
  unknown = [m for m in metrics if m not in METRICS]
  if unknown or not metrics:
    raise UserError(f"unknown metrics {unknown}: choose from "
                    f"{', '.join(METRICS)}")
  paired = [m for m in metrics if m in PAIRED]
  generator = [m for m in metrics if m not in PAIRED]
  if generator and model is None:
    raise UserError(f"{', '.join(generator)} "
                    f"{'measures' if len(generator) == 1 else 'measure'} a "
                    "generator: pass --model (a training workdir[@step], an "
                    "exported .npz or an official .pkl)")
  if paired and not data:
    raise UserError("--data is required: the first folder of the pairs")
  if paired and not data2:
    raise UserError(
        f"{', '.join(paired)} {'needs' if len(paired) == 1 else 'need'} "
        "paired images (e.g. projection targets and their results), not a "
        "model's random samples: pass two folders with the same file names, "
        "--data TARGETS --data2 RESULTS")
  builtin = [d for d in (data, data2) if d in BUILTIN]
  if paired and builtin:
    raise UserError(f"{', '.join(paired)} compare two image folders; "
                     f"'{builtin[0]}' has no pairs")
  if data2 and not paired:
    raise UserError("--data2 is only used by the paired metrics "
                    f"({', '.join(PAIRED)})")


def evaluate(metrics: Sequence[str], *,
             model: model_io.Model | str | os.PathLike | None = None,
             network: str = "G_ema",
             data: str | os.PathLike | None = None,
             data2: str | os.PathLike | None = None,
             evals: dict[str, Any] | None = None,
             log: Callable[[str], None] = print) -> dict[str, Any]:
  """Computes the requested metrics (see the module docstring).

  Args:
    metrics: names from `METRICS`.
    model: a loaded `model_io.Model` or a model spec (a workdir spec also
      supplies its training settings and data); needed by the generator
      metrics.
    network: 'G_ema' or 'G' (when `model` is a spec).
    data: an image folder or 'embedded' (the real images; the first folder
      of the pairs).
    data2: the second folder of the pairs (paired metrics only).
    evals: `evals` config keys to override (e.g. {'max_images': 1000,
      'inception': 'pt_inception-2015-12-05-6726825d.pth'}).
    log: where progress and cache lines go.

  Returns:
    The record: 'metrics' {name: value}, 'seconds' {metric: s}, 'model',
    'data', 'data2', 'num_images' (the evals.max_images cap, 0 for none),
    'seed', 'truncation_psi', 'counts', 'notes' (list of str), 'evals',
    'date', 'device', 'jax_version'.

  Raises:
    UserError / FileNotFoundError: bad arguments, sources or settings, with
      a message saying what to pass.
  """
  metrics = list(dict.fromkeys(m.strip() for m in metrics if m.strip()))
  data = None if data is None else str(data)
  data2 = None if data2 is None else str(data2)
  _check(metrics, model, data, data2)
  values: dict[str, float] = {}
  seconds: dict[str, float] = {}
  counts: dict[str, int] = {}
  notes: list[str] = []
  settings, source = None, None
  generator = [m for m in metrics if m not in PAIRED]
  if generator:
    model, reals, settings, results = _generator_metrics(
        generator, model, network, data, evals, log, notes)
    data = data or reals.describe()
    for r in results:
      values.update(r.values)
      counts.update(r.counts)
      seconds[r.metric] = r.seconds
  elif model is not None and not isinstance(model, model_io.Model):
    model = model_io.load_model(str(model), network=network)
  if model is not None:
    source = model.source
  paired = [m for m in metrics if m in PAIRED]
  if paired:
    res = model.G.img_resolution if model is not None else None
    v, c = _paired(paired, data, data2, res, notes)
    values.update(v)
    counts.update(c)
  devices = jax.devices()
  settings = settings if settings is not None else evals_settings(None, evals)
  return {
      "metrics": values,
      "seconds": seconds,
      "model": source,
      "data": data,
      "data2": data2,
      "num_images": settings.max_images,
      "seed": settings.seed,
      "truncation_psi": settings.truncation_psi,
      "counts": counts,
      "notes": list(dict.fromkeys(notes)),
      "evals": settings.to_dict(),
      "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec="seconds"),
      "device": f"{len(devices)} x {devices[0].device_kind} "
                f"({devices[0].platform})",
      "jax_version": jax.__version__,
  }


def _json_safe(x):
  """Non-finite floats -> 'inf' / '-inf' / 'nan' (strict JSON)."""
  if isinstance(x, dict):
    return {k: _json_safe(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_json_safe(v) for v in x]
  if isinstance(x, float) and not math.isfinite(x):
    return str(x)
  return x


def write_json(record: dict[str, Any], path: str | os.PathLike) -> pathlib.Path:
  """Writes an `evaluate` record as strict JSON; returns the path."""
  path = pathlib.Path(path)
  with images.atomic_path(path) as tmp:
    tmp.write_text(json.dumps(_json_safe(record), indent=2, allow_nan=False)
                   + "\n")
  return path


def format_lines(record: dict[str, Any]) -> list[str]:
  """One 'name value' line per metric (e.g. 'swd/avg 12.3456')."""
  return [f"{name} {value:.4f}" for name, value in record["metrics"].items()]
