"""The real images the metrics compare with: one definition for every caller.

This module owns which real images a metric sees and in what order, read
with NumPy and pillow (never TensorFlow), so the training loop and the
metrics tool read exactly the same images:

* `embedded`: the package's embedded art set, `embedded.make_dataset(
  num_images, resolution, seed)`, in its own order (classes cycle, so
  every prefix is balanced);
* `glyphs`: the package's digit glyphs, `glyphs.make_dataset(num_images,
  seed, resolution)` (8 to 256 pixels), likewise in their own order;
* `mnist`: the training split of an MNIST-style IDX folder
  (`data.idx.load_split`), in file order, Lanczos-resized when the
  resolution is not the files' own;
* a folder: every image file under it (`images.find_images`, recursive),
  in a fixed shuffled order (the sorted names permuted with
  `RandomState(0)`, so a prefix is not one class subfolder), each
  centre-cropped to a square and Lanczos-resized (`images.read_many`).
  Unreadable files are skipped, and the next files take their place.

A metric on n real images takes the first n of that order, so a smaller
count is always a prefix of a larger one. Images are converted to the
generator's channel count (`images.to_channels`). `identity()` names the
dataset for the statistics cache.
"""

import dataclasses
import functools
import hashlib
import pathlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from PIL import Image

from stylegan_jax import images
from stylegan_jax.data import embedded
from stylegan_jax.data import glyphs
from stylegan_jax.data import idx
from stylegan_jax.errors import UserError

EMBEDDED = "embedded"
GLYPHS = "glyphs"
BUILTIN = (EMBEDDED, GLYPHS)  # Made in the package: a size and a seed.
MNIST = "mnist"
FOLDER = "folder"
ORDER_SEED = 0  # The folder order's permutation seed (part of its identity).
# Unreadable files named in a note (the count is always complete).
_NUM_NAMED = 5


@dataclasses.dataclass(frozen=True)
class RealImages:
  """A dataset of real images (see the module docstring).

  Attributes:
    kind: 'embedded', 'glyphs', 'mnist' or 'folder'.
    path: the folder (kinds 'folder' and 'mnist').
    num_images: the built-in set's size (kinds in BUILTIN).
    seed: the built-in set's seed (kinds in BUILTIN).
  """

  kind: str
  path: str = ""
  num_images: int = 0
  seed: int = 0

  @classmethod
  def from_data_config(cls, data) -> "RealImages":
    """The training data of a config's `data` section.

    `embedded` and `glyphs` use its `embedded_num_images` and
    `embedded_seed`; `mnist` and the folder sources (`image_folder`,
    `wikiart`) read `data_dir`.
    """
    if data.source in BUILTIN:
      return cls(data.source, num_images=int(data.embedded_num_images),
                 seed=int(data.embedded_seed))
    if data.source == MNIST:
      return cls(MNIST, path=str(data.data_dir))
    return cls(FOLDER, path=str(data.data_dir))

  def __post_init__(self):
    if self.kind in (FOLDER, MNIST):
      root = pathlib.Path(self.path).expanduser()
      if not root.is_dir():
        raise UserError(f"{self.path} is not a folder of images — name a "
                        f"folder, '{EMBEDDED}' or '{GLYPHS}'")
      object.__setattr__(self, "path", str(root.resolve()))
    elif self.kind in BUILTIN:
      if self.num_images < 1 or self.seed < 0:
        raise UserError(f"the {self.kind} set needs >= 1 images and a seed "
                        f">= 0, got {self.num_images} and {self.seed}")
    else:
      raise ValueError(f"unknown real-image source {self.kind!r}")

  def describe(self) -> str:
    if self.kind in BUILTIN:
      return (f"the {self.kind} set ({self.num_images} images, seed "
              f"{self.seed})")
    if self.kind == MNIST:
      return f"the IDX files in {self.path} ({self.count} images)"
    return f"{self.path} ({self.count} image files)"

  @functools.cached_property
  def _names(self) -> list[str]:
    """Folder: relative file names in the fixed shuffled order."""
    names = images.find_images(self.path)
    if not names:
      raise UserError(f"no images ({', '.join(images.IMAGE_EXTENSIONS)}) in "
                      f"{self.path} — name a folder that holds the real "
                      "images")
    order = np.random.RandomState(ORDER_SEED).permutation(len(names))
    return [names[i] for i in order]

  @property
  def count(self) -> int:
    """Images in the dataset (folder: image files, readable or not)."""
    if self.kind in BUILTIN:
      return self.num_images
    if self.kind == MNIST:
      return len(self._mnist[0])
    return len(self._names)

  def identity(self) -> dict[str, Any]:
    """What names the dataset in cache keys (a folder: its file listing)."""
    if self.kind in BUILTIN:
      return {"source": self.kind, "num_images": self.num_images,
              "seed": self.seed}
    digest = hashlib.sha256()
    if self.kind == MNIST:  # Every file of the folder (the IDX files).
      for path in sorted(pathlib.Path(self.path).iterdir()):
        if path.is_file():
          stat = path.stat()
          digest.update(f"{path.name}\0{stat.st_size}\0"
                        f"{stat.st_mtime_ns}\n".encode())
      return {"source": MNIST, "path": self.path, "files": self.count,
              "listing_sha256": digest.hexdigest()[:16]}
    for name in sorted(self._names):
      stat = (pathlib.Path(self.path) / name).stat()
      digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return {"source": FOLDER, "path": self.path, "files": self.count,
            "order_seed": ORDER_SEED,
            "listing_sha256": digest.hexdigest()[:16]}

  def class_counts(self, class_names: Sequence[str]) -> np.ndarray | None:
    """Images per class [len(class_names)], or None when unknown.

    Embedded: its labels when the names are its styles. Folder: files per
    top-level subfolder when every class name is a subfolder (the
    image-folder layout `<root>/<label>/...`).
    """
    names = list(class_names)
    if not names:
      return None
    if self.kind in BUILTIN:
      own = (embedded.STYLE_NAMES if self.kind == EMBEDDED
             else glyphs.CLASS_NAMES)
      if tuple(names) != tuple(own):
        return None
      labels = np.arange(self.num_images) % len(names)
      return np.bincount(labels, minlength=len(names))
    if self.kind == MNIST:
      labels = self._mnist[1]
      if len(names) <= int(labels.max()):
        return None
      return np.bincount(labels, minlength=len(names)).astype(np.int64)
    tops = [n.split("/", 1)[0] for n in self._names if "/" in n]
    if not set(names) <= set(tops):
      return None
    return np.array([tops.count(n) for n in names], np.int64)

  @functools.lru_cache(maxsize=2)
  def _in_memory(self, resolution: int) -> np.ndarray:
    """The built-in or IDX images at `resolution`, uint8 [N, R, R, C]."""
    if self.kind == EMBEDDED:
      return embedded.make_dataset(self.num_images, resolution, self.seed)[0]
    if self.kind == GLYPHS:
      if not glyphs.MIN_RESOLUTION <= resolution <= glyphs.MAX_RESOLUTION:
        raise UserError(f"'{GLYPHS}' draws {glyphs.MIN_RESOLUTION} to "
                        f"{glyphs.MAX_RESOLUTION} pixels, not {resolution} "
                        "— compare with an image folder")
      return glyphs.make_dataset(self.num_images, self.seed, resolution)[0]
    data = self._mnist[0]
    if data.shape[1:3] != (resolution, resolution):
      data = np.stack([  # [N, R, R, 1]
          np.asarray(images.center_crop_resize(
              Image.fromarray(x[..., 0]), resolution))[..., None]
          for x in data])
    return data

  @functools.cached_property
  def _mnist(self) -> tuple[np.ndarray, np.ndarray]:
    try:
      return idx.load_split(self.path, "train")
    except (OSError, ValueError) as e:
      raise UserError(f"cannot read the MNIST-style files in {self.path}: "
                      f"{e}") from e

  def batches(self, num: int, batch_size: int, resolution: int,
              channels: int,
              skipped: list[str] | None = None) -> Iterator[np.ndarray]:
    """Yields the first `num` images, uint8 [<= batch_size, R, R, C].

    Args:
      num: images wanted (at most `count`; fewer come when a folder has
        unreadable files).
      batch_size: images per yielded batch (the last may be smaller).
      resolution: output side R.
      channels: output channels C (1 or 3).
      skipped: unreadable files met are appended here (relative names).
    """
    if self.kind != FOLDER:
      data = self._in_memory(resolution)
      for start in range(0, min(num, len(data)), batch_size):
        yield images.to_channels(data[start:min(start + batch_size, num)],
                                 channels)
      return
    names, pos, done = self._names, 0, 0
    root = pathlib.Path(self.path)
    while done < num and pos < len(names):
      take = names[pos:pos + min(batch_size, num - done)]
      pos += len(take)
      read = images.read_many([root / n for n in take], resolution, channels)
      good = [x for x in read if x is not None]
      if skipped is not None:
        skipped.extend(n for n, x in zip(take, read) if x is None)
      if good:
        done += len(good)
        yield np.stack(good)

  def read(self, num: int, resolution: int, channels: int,
           skipped: list[str] | None = None) -> np.ndarray:
    """The first `num` images at once, uint8 [<= num, R, R, C]."""
    parts = list(self.batches(num, max(1, min(num, 256)), resolution,
                              channels, skipped))
    if not parts:
      raise UserError(f"none of the image files in {self.path} could be "
                      "read — check the folder")
    return np.concatenate(parts)


def skipped_note(skipped: Sequence[str], root: str) -> str:
  """'skipped 2 unreadable files in ROOT: a.png, b.jpg' (five named)."""
  names = ", ".join(skipped[:_NUM_NAMED])
  more = (f" and {len(skipped) - _NUM_NAMED} more"
          if len(skipped) > _NUM_NAMED else "")
  files = "file" if len(skipped) == 1 else "files"
  return f"skipped {len(skipped)} unreadable {files} in {root}: {names}{more}"
