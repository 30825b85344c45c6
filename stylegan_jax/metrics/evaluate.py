"""Evaluating a model or image folders: SWD of a model, PSNR/SSIM/MS-SSIM of pairs.

The library behind `python -m stylegan_jax.metrics` (see
`stylegan_jax.tools.metrics`); `evaluate(...)` computes:

* ``swd``: the distribution distance (`metrics.swd.swd`) between N images
  generated from seeds seed..seed+N-1 (with ``class_label``, or for a
  conditional model without one, classes cycling 0, 1, ..., c_dim - 1) and
  N real images. Real images come from ``data``: ``embedded`` (the
  package's embedded art set, its seed 0, at the model's resolution),
  ``glyphs`` (the package's digit glyphs, likewise; the set a 28 x 28
  grayscale baseline trains on by default) or an image folder, read
  recursively (jpg/jpeg/png/bmp/webp), shuffled with ``seed`` and taken
  from the front; each image is centre-cropped to a square and
  Lanczos-resized to the model's resolution. Unreadable files are
  skipped and counted. If the folder has fewer than N readable images, all
  are used and N shrinks to match (SWD needs sets of one size).
* ``psnr``, ``ssim``, ``ms_ssim``: paired measures, so they need two
  folders, ``data`` and ``data2``, whose images are paired by relative
  path (e.g. projection targets and their results). The means over the
  pairs are reported. Pairs are compared at the model's resolution when a
  model is given, otherwise at their own size (when the two sizes differ,
  both are centre-cropped and resized to the smaller side).

The record `evaluate` returns (and ``--json_out`` writes) holds the metric
values under ``metrics``, the sources, ``counts``, ``notes`` (skipped files,
short folders), the date, the devices and the JAX version. Non-finite values
(PSNR of identical images is +inf) are written to JSON as the strings
"inf", "-inf" or "nan", so the file stays strict JSON.

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
import numpy as np
from PIL import Image

from stylegan_jax import images
from stylegan_jax import labels as labels_lib
from stylegan_jax import model_io
from stylegan_jax import sampling
from stylegan_jax.data import embedded
from stylegan_jax.data import glyphs
from stylegan_jax.errors import UserError
from stylegan_jax.metrics import image_quality
from stylegan_jax.metrics import swd as swd_lib

METRICS = ("swd", "psnr", "ssim", "ms_ssim")
PAIRED = ("psnr", "ssim", "ms_ssim")
EMBEDDED = "embedded"
GLYPHS = "glyphs"
BUILTIN = (EMBEDDED, GLYPHS)  # Real images made in the package.
EMBEDDED_SEED = 0
# Unreadable files named in a note (the count is always complete).
_NUM_NAMED = 5
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
    raise FileNotFoundError(f"{root} is not a folder of images (or "
                            f"'{EMBEDDED}' or '{GLYPHS}')")
  return images.find_images(root)


def _skipped_note(skipped: Sequence[str], root: str) -> str:
  names = ", ".join(skipped[:_NUM_NAMED])
  more = f" and {len(skipped) - _NUM_NAMED} more" if len(
      skipped) > _NUM_NAMED else ""
  files = "file" if len(skipped) == 1 else "files"
  return f"skipped {len(skipped)} unreadable {files} in {root}: {names}{more}"


def read_folder(root: str | os.PathLike, num_images: int, resolution: int,
                *, seed: int = 0,
                channels: int = 3) -> tuple[np.ndarray, dict[str, Any]]:
  """The first `num_images` readable images of a folder after a shuffle.

  Args:
    root: the folder (searched recursively).
    num_images: how many images are wanted.
    resolution: output side; images are centre-cropped and resized.
    seed: seeds the shuffle (`np.random.RandomState(seed).permutation`).
    channels: 3 or 1.

  Returns:
    (uint8 [M, resolution, resolution, channels] with M <= num_images,
    info: 'found' (image files in the folder), 'skipped' (relative paths of
    the unreadable files met on the way)).

  Raises:
    FileNotFoundError: no folder, or no readable image in it.
  """
  root = pathlib.Path(root)
  names = find_images(root)
  if not names:
    raise FileNotFoundError(
        f"no images ({', '.join(images.IMAGE_EXTENSIONS)}) in {root}")
  order = np.random.RandomState(seed).permutation(len(names))
  out, skipped, pos = [], [], 0
  while len(out) < num_images and pos < len(order):
    take = [names[i] for i in order[pos:pos + num_images - len(out)]]
    pos += len(take)
    for name, image in zip(take, images.read_many([root / n for n in take],
                                            resolution, channels)):
      if image is None:
        skipped.append(name)
      else:
        out.append(image)
  if not out:
    raise FileNotFoundError(f"none of the {len(names)} image files in {root} "
                            "could be read")
  return np.stack(out), {"found": len(names), "skipped": skipped}


# --------------------------------------------------------------------- swd --


def generate_for_metrics(model: model_io.Model, num_images: int, *, seed: int,
                         truncation_psi: float = 1.0,
                         truncation_cutoff: int | None = None,
                         class_label: str | int | None = None,
                         noise_mode: str = "const",
                         batch_size: int = 32) -> np.ndarray:
  """Images for seeds seed..seed+num_images-1, as the generate tool makes.

  A conditional model without `class_label` cycles through its classes
  (image i has class i % c_dim), so every class is represented.

  Returns:
    uint8 [num_images, H, W, C].
  """
  seeds = list(range(seed, seed + num_images))
  if seeds[-1] > sampling.MAX_SEED:
    raise UserError(f"seeds {seed}..{seeds[-1]} exceed {sampling.MAX_SEED}")
  z = sampling.z_from_seeds(seeds, model.G.z_dim)
  if model.G.c_dim and class_label is None:
    c = labels_lib.one_hot(np.arange(num_images) % model.G.c_dim,
                           model.G.c_dim)
  else:
    c = sampling.class_labels(model, class_label, num_images)
  return np.concatenate(list(sampling.iter_z_images(
      model, z, c, truncation_psi=truncation_psi,
      truncation_cutoff=truncation_cutoff, noise_mode=noise_mode,
      noise_seeds=seeds, batch_size=batch_size)))


def _swd(model, data, *, num_images, seed, gen_kwargs, swd_kwargs,
         notes) -> tuple[dict[str, float], dict[str, int]]:
  res, channels = model.G.img_resolution, model.G.img_channels
  if data in BUILTIN:
    if data == EMBEDDED:
      real, _ = embedded.make_dataset(num_images, res, EMBEDDED_SEED)
    else:
      if not glyphs.MIN_RESOLUTION <= res <= glyphs.MAX_RESOLUTION:
        raise UserError(f"'{GLYPHS}' draws {glyphs.MIN_RESOLUTION} to "
                        f"{glyphs.MAX_RESOLUTION} pixels; this model makes "
                        f"{res} — use an image folder")
      real, _ = glyphs.make_dataset(num_images, EMBEDDED_SEED, res)
    real = images.to_channels(real, channels)
  else:
    real, info = read_folder(data, num_images, res, seed=seed,
                             channels=channels)
    if info["skipped"]:
      notes.append(_skipped_note(info["skipped"], data))
    if len(real) < num_images:
      notes.append(f"only {len(real)} readable images in {data} (asked for "
                   f"{num_images}): swd uses {len(real)} real and "
                   f"{len(real)} generated images")
  fake = generate_for_metrics(model, len(real), seed=seed, **gen_kwargs)
  values = swd_lib.swd(images.to_float(fake), images.to_float(real),
                       jax.random.key(seed), **swd_kwargs)
  return values, {"swd/generated": len(fake), "swd/real": len(real)}


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
    a_list = images.read_many([pathlib.Path(data) / n for n in chunk], resolution, 3)
    b_list = images.read_many([pathlib.Path(data2) / n for n in chunk], resolution,
                        3)
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
    notes.append(_skipped_note(skipped, f"{data} or {data2}") +
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
  if not data:
    raise UserError(f"--data is required: an image folder, '{EMBEDDED}' "
                    f"or '{GLYPHS}'")
  paired = [m for m in metrics if m in PAIRED]
  if "swd" in metrics and model is None:
    raise UserError("swd compares generated with real images: pass --model "
                     "(a training workdir[@step], an exported .npz or an "
                     "official .pkl)")
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
             data: str | os.PathLike | None = None,
             data2: str | os.PathLike | None = None,
             num_images: int = 1024, seed: int = 0,
             truncation_psi: float = 1.0,
             class_label: str | int | None = None,
             truncation_cutoff: int | None = None,
             noise_mode: str = "const", batch_size: int = 32,
             swd_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
  """Computes the requested metrics (see the module docstring).

  Args:
    metrics: names from `METRICS`.
    model: a loaded `model_io.Model` or a model spec; needed by swd.
    data: an image folder, 'embedded' or 'glyphs' (swd's real images; the
      first folder of the pairs).
    data2: the second folder of the pairs (paired metrics only).
    num_images: generated and real images for swd.
    seed: first generator seed; also seeds the folder shuffle and SWD's key.
    truncation_psi: generator truncation (1: none).
    class_label: class name or index; None cycles through a conditional
      model's classes.
    truncation_cutoff: truncate only the first this many ws (None: all).
    noise_mode: the generator's 'const', 'random' or 'none' noise.
    batch_size: images per generator call.
    swd_kwargs: extra keyword arguments for `metrics.swd.swd` (e.g.
      num_directions, num_repeats, descriptors_per_image).

  Returns:
    The record: 'metrics' {name: value} (swd/<res>..., swd/avg, psnr, ssim,
    ms_ssim), 'model', 'data', 'data2', 'num_images', 'seed',
    'truncation_psi', 'class', 'counts', 'notes' (list of str), 'date',
    'device', 'jax_version'.

  Raises:
    UserError / FileNotFoundError: bad arguments or sources, with a message
      saying what to pass.
  """
  metrics = list(dict.fromkeys(m.strip() for m in metrics if m.strip()))
  data = None if data is None else str(data)
  data2 = None if data2 is None else str(data2)
  _check(metrics, model, data, data2)
  if num_images < 1:
    raise UserError(f"num_images must be >= 1, got {num_images}")
  if model is not None and not isinstance(model, model_io.Model):
    model = model_io.load_model(str(model))
  values: dict[str, float] = {}
  counts: dict[str, int] = {}
  notes: list[str] = []
  if "swd" in metrics:
    gen_kwargs = dict(truncation_psi=truncation_psi,
                      truncation_cutoff=truncation_cutoff,
                      class_label=class_label, noise_mode=noise_mode,
                      batch_size=batch_size)
    v, c = _swd(model, data, num_images=num_images, seed=seed,
                gen_kwargs=gen_kwargs, swd_kwargs=dict(swd_kwargs or {}),
                notes=notes)
    values.update(v)
    counts.update(c)
  paired = [m for m in metrics if m in PAIRED]
  if paired:
    res = model.G.img_resolution if model is not None else None
    v, c = _paired(paired, data, data2, res, notes)
    values.update(v)
    counts.update(c)
  devices = jax.devices()
  return {
      "metrics": values,
      "model": model.source if model is not None else None,
      "data": data,
      "data2": data2,
      "num_images": num_images,
      "seed": seed,
      "truncation_psi": truncation_psi,
      "class": class_label,
      "counts": counts,
      "notes": notes,
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
