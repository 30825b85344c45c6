"""TFDS builders for painting collections on local disk: WikiArt, any folder.

This module owns turning a folder of image files into a prepared TFDS dataset.
TFDS has no WikiArt, and art collections are full of odd files, so both
builders share one careful reader:

* Nothing is downloaded. The images folder is TFDS's *manual dir*
  (`tfds.download.DownloadConfig(manual_dir=...)`); the prepared records go to
  the builder's `data_dir`, a path the caller picks (the training loop uses a
  folder under its workdir).
* Unreadable, corrupt or truncated files are skipped. After preparing, one
  log line reports how many were skipped out of how many, with the first few
  paths and reasons; the counts also land in `info.metadata`.
* Every image becomes RGB uint8: grayscale (`1`, `L`), palette (`P`), CMYK,
  YCbCr/LAB/HSV and 16- or 32-bit integer (`I;16`, `I`) or float (`F`) images
  are converted (16-bit values are scaled by 255/65535, not clipped). Images
  with transparency (`RGBA`, `LA`, `PA`, `P` with a transparent colour) are
  composited on white, as a transparent drawing is usually meant to sit on
  paper. EXIF orientation is applied.
* Prepared data stay in sync with the folder: `prepare` records the image
  files' names, sizes and modification times (`source_files.json` beside the
  prepared records); when the folder changes (files added, removed or
  modified), the next run re-prepares (`on_change='reprepare'`, the default)
  or uses the prepared data as they are with a warning that says how many
  files changed (`on_change='use_prepared'`).
* Storage size is a builder config (`ArtConfig.resolution`, built with
  `make_config`). With a resolution R > 0, each image is shrunk (PIL Lanczos,
  aspect ratio kept, never enlarged) so its *shorter* side is R, and stored
  as PNG. That keeps the records small and decoding cheap, and leaves both the
  centre crop and the pad-to-square of the input pipeline possible. R = 0
  keeps native size, stored as JPEG (quality 95) to keep 80k paintings on
  disk affordable.

Builders:

* `WikiArt`: `<root>/<Style>/<artist>_<title>.jpg`, e.g.
  `Impressionism/claude-monet_water-lilies-1914.jpg`. Features: `image`,
  `style` (ClassLabel over the sorted style folder names), `genre`
  (ClassLabel, -1 when unknown), `artist` (text, the file name up to the first
  `_`) and `filename` (path relative to root). When the CSV split files
  commonly distributed with WikiArt (`style_train.csv`, `style_val.csv`,
  `genre_train.csv`, `genre_val.csv`, `artist_train.csv`, `artist_val.csv`:
  rows `Style/file.jpg,<int>`; class lists `genre_class.txt` etc.: rows
  `<int> <Name>`) sit in `<root>/wikiart_csv/` or `<root>/`, genres come from
  them and so do the `train`/`validation` splits. Without them everything is
  in `train` and every genre is -1. `info.metadata` also holds per-label
  counts (`label_counts`, `unlabelled`) over all splits.
* `ImageFolder`: every image under `<root>` (any depth; jpg, jpeg, png, bmp,
  webp, gif, tif, tiff, ppm, pgm). If every image lives in a first-level
  subfolder, `label` is that folder (ClassLabel over the sorted names);
  otherwise `label` is -1 and there are no classes. One `train` split.
"""

import collections
import concurrent.futures
import csv
import dataclasses
import hashlib
import io
import json
import os
import pathlib
import shutil
import unicodedata
from collections.abc import Iterator, Sequence

from absl import logging
import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from stylegan_jax import configs
from stylegan_jax import images

WIKIART_LAYOUT = "<root>/<Style>/<artist>_<title>.jpg"
IMAGE_FOLDER_LAYOUT = (
    "<root>/**/*.{jpg,png,...} (optionally <root>/<label>/**/*.jpg)")
CSV_DIRNAME = "wikiart_csv"
_VERSION = tfds.core.Version("1.0.0")
# How many skipped files the summary line and the metadata name.
_NUM_REPORTED = 5
# Files handed to the decoding threads per round (bounds memory use). PIL
# releases the GIL while decoding, so threads do scale.
_CHUNK = 64


# ------------------------------------------------------------- image reading --


def _encode(image: np.ndarray, fmt: str) -> bytes:
  buf = io.BytesIO()
  if fmt == "jpeg":
    Image.fromarray(image).save(buf, format="JPEG", quality=95)
  else:
    Image.fromarray(image).save(buf, format="PNG", compress_level=1)
  return buf.getvalue()


def _check_root(root: pathlib.Path, layout: str) -> None:
  if not root.is_dir():
    raise FileNotFoundError(
        f"dataset directory {root} does not exist (or is not a directory): "
        f"expected {layout}")


def _no_images(root: pathlib.Path, layout: str) -> FileNotFoundError:
  return FileNotFoundError(f"no images found in {root}: expected {layout}")


# ------------------------------------------------------------------ configs --


@dataclasses.dataclass(eq=False)
class ArtConfig(tfds.core.BuilderConfig):
  """Builder config: the stored size.

  Attributes:
    resolution: shorter side of the stored images in pixels (never enlarged),
      or 0 for native size.
  """

  resolution: int = 0


def make_config(resolution: int, manual_dir: str = "") -> ArtConfig:
  """A config storing images at `resolution` (0: native).

  Args:
    resolution: shorter side of the stored images, or 0 for native size.
    manual_dir: the images folder. A short hash of its absolute path goes into
      the config name, so two collections prepared under one TFDS data_dir do
      not collide.

  Returns:
    The builder config, named like `res256_1a2b3c4d` or `native`.
  """
  if resolution < 0:
    raise ValueError(f"resolution must be >= 0, got {resolution}")
  name = f"res{resolution}" if resolution else "native"
  if manual_dir:
    path = os.path.abspath(os.path.expanduser(manual_dir))
    name += "_" + hashlib.sha1(path.encode()).hexdigest()[:8]
  return ArtConfig(
      name=name, resolution=resolution, version=_VERSION,
      description=(
          f"images from {manual_dir or 'the manual dir'}, "
          + (f"shorter side shrunk to {resolution} px" if resolution
             else "at native size")))


# ----------------------------------------------------------------- builders --


@dataclasses.dataclass(frozen=True)
class _Item:
  """One file to read and the features other than the image."""

  path: str
  features: dict


class _ArtBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Shared reading, skipping and reporting for the local-folder builders."""

  VERSION = _VERSION
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [make_config(0)]
  LAYOUT = ""
  # Nothing is downloaded, so there is no checksums file to find next to the
  # code. Locating the code makes TFDS 4.9.10 import `importlib_resources`,
  # which it only declares for Python < 3.9, so skip that.
  code_path = None

  def __init__(self, **kwargs):
    super().__init__(**kwargs)
    self._root: pathlib.Path | None = None
    self._num_files = 0
    self._skipped: list[tuple[str, str]] = []
    self._labels = collections.defaultdict(collections.Counter)

  @property
  def _encoding(self) -> str:
    return "png" if self.builder_config.resolution else "jpeg"

  def _image_feature(self) -> tfds.features.Image:
    return tfds.features.Image(
        shape=(None, None, 3), dtype=np.uint8,
        encoding_format=self._encoding)

  def _download_and_prepare(self, dl_manager, download_config):
    manual = download_config.manual_dir
    self._root = pathlib.Path(
        os.path.expanduser(manual) if manual else
        self.data_dir_root / "downloads" / "manual").resolve()
    _check_root(self._root, self.LAYOUT)
    self._num_files, self._skipped = 0, []
    self._labels = collections.defaultdict(collections.Counter)
    super()._download_and_prepare(dl_manager, download_config)
    self._report()

  def _summary(self) -> str:
    first = "; ".join(f"{p} ({why})" for p, why in
                      self._skipped[:_NUM_REPORTED])
    return (f"{self.name}: skipped {len(self._skipped)} of {self._num_files} "
            f"files (corrupt or unreadable): first few: {first}")

  def _report(self) -> None:
    """Logs the one summary line and records counts in the metadata."""
    skipped = len(self._skipped)
    if skipped:
      logging.warning("%s", self._summary())
    else:
      logging.info("%s: read all %d files in %s", self.name, self._num_files,
                   self._root)
    self.info.metadata.update({
        "manual_dir": str(self._root),
        "num_files": self._num_files,
        "num_skipped": skipped,
        "skipped": [list(s) for s in self._skipped[:_NUM_REPORTED]],
        # Images without each label (-1), and how many carry each value.
        "unlabelled": {k: c[-1] for k, c in self._labels.items() if c[-1]},
        "label_counts": {k: {str(v): n for v, n in sorted(c.items())}
                         for k, c in self._labels.items()},
    })

  def _read(self, path: str) -> bytes | str:
    """Encoded RGB image bytes, or the reason the file was skipped."""
    try:
      image = images.read_image(self._root / path,
                                shorter_side=self.builder_config.resolution)
    except Exception as e:  # pylint: disable=broad-except
      return f"{type(e).__name__}: {e}"[:200]
    return _encode(image, self._encoding)

  def _generate_examples(
      self, items: Sequence[_Item]) -> Iterator[tuple[str, dict]]:
    workers = min(8, os.cpu_count() or 1)
    num_yielded = 0
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
      for start in range(0, len(items), _CHUNK):
        chunk = items[start:start + _CHUNK]
        for item, data in zip(chunk, pool.map(self._read,
                                               [i.path for i in chunk])):
          self._num_files += 1
          if isinstance(data, str):
            self._skipped.append((item.path, data))
            continue
          for key, value in item.features.items():
            if isinstance(value, int):  # A ClassLabel.
              self._labels[key][value] += 1
          num_yielded += 1
          yield item.path, {"image": data, "filename": item.path,
                            **item.features}
    if not num_yielded:  # TFDS cannot write an empty split; say why.
      raise ValueError(
          f"no readable images in {self._root}: {self._summary()}")


def _nfc(path: str) -> str:
  return unicodedata.normalize("NFC", path.replace("\\", "/"))


def _read_class_list(path: pathlib.Path) -> list[str]:
  """`<int> <Name>` rows to a list of names indexed by the int."""
  names = {}
  for line in path.read_text(encoding="utf-8").splitlines():
    parts = line.strip().split(maxsplit=1)
    if len(parts) == 2 and parts[0].isdigit():
      names[int(parts[0])] = parts[1].strip()
  return [names.get(i, str(i)) for i in range(max(names, default=-1) + 1)]


def _read_csv(path: pathlib.Path) -> dict[str, int]:
  """`Style/file.jpg,<int>` rows (a header row is ignored) to a dict."""
  rows = {}
  with path.open(newline="", encoding="utf-8") as f:
    for row in csv.reader(f):
      if len(row) >= 2 and row[-1].strip().lstrip("-").isdigit():
        rows[_nfc(",".join(row[:-1]).strip())] = int(row[-1])
  return rows


class WikiArt(_ArtBuilder):
  """WikiArt from a local copy: `<root>/<Style>/<artist>_<title>.jpg`."""

  name = "wikiart"
  LAYOUT = WIKIART_LAYOUT
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  Put the WikiArt images in the manual dir laid out as {WIKIART_LAYOUT}
  (e.g. Impressionism/claude-monet_water-lilies-1914.jpg). Optional CSV split
  files (style_train.csv, genre_val.csv, genre_class.txt, ...) go in
  <root>/{CSV_DIRNAME}/ or <root>/.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    # Class names are only known once the folder is read (_split_generators).
    return self.dataset_info_from_configs(
        description="WikiArt paintings labelled by style, genre and artist.",
        features=tfds.features.FeaturesDict({
            "image": self._image_feature(),
            "style": tfds.features.ClassLabel(),
            "genre": tfds.features.ClassLabel(),
            "artist": tfds.features.Text(),
            "filename": tfds.features.Text(),
        }),
        supervised_keys=("image", "style"),
        homepage="https://www.wikiart.org/",
        metadata=tfds.core.MetadataDict(),
    )

  def _csv_dir(self) -> pathlib.Path | None:
    for d in (self._root / CSV_DIRNAME, self._root):
      if any((d / f"{k}_{s}.csv").is_file() for k in ("style", "genre",
                                                       "artist")
             for s in ("train", "val")):
        return d
    return None

  def _split_generators(self, dl_manager):
    del dl_manager  # The root was resolved in _download_and_prepare.
    found = images.find_images(self._root)
    paths = [p for p in found
             if "/" in p and not p.startswith(CSV_DIRNAME + "/")]
    if not paths:
      raise _no_images(self._root, self.LAYOUT)
    if len(paths) < len(found):
      logging.warning(
          "%s: ignoring %d images outside <Style> folders in %s", self.name,
          len(found) - len(paths), self._root)
    styles = sorted({p.split("/", 1)[0] for p in paths})
    split_of, genre_of, genres = {}, {}, []
    csv_dir = self._csv_dir()
    if csv_dir is not None:
      for kind in ("artist", "genre", "style"):  # Later kinds win the split.
        for tfds_split, suffix in (("train", "train"), ("validation", "val")):
          f = csv_dir / f"{kind}_{suffix}.csv"
          if f.is_file():
            rows = _read_csv(f)
            split_of.update(dict.fromkeys(rows, tfds_split))
            if kind == "genre":
              genre_of.update(rows)
      if (csv_dir / "genre_class.txt").is_file():
        genres = _read_class_list(csv_dir / "genre_class.txt")
      elif genre_of:
        genres = [str(i) for i in range(max(genre_of.values()) + 1)]
    self.info.features["style"].names = styles
    self.info.features["genre"].names = genres

    style_index = {n: i for i, n in enumerate(styles)}
    items = collections.defaultdict(list)
    for p in paths:
      style, name = p.split("/", 1)
      key = _nfc(p)
      genre = genre_of.get(key, -1)
      items[split_of.get(key, "train")].append(_Item(p, {
          "style": style_index[style],
          "genre": genre if 0 <= genre < len(genres) else -1,
          "artist": pathlib.PurePosixPath(name).name.split("_", 1)[0],
      }))
    return {split: self._generate_examples(v) for split, v in items.items()}


class ImageFolder(_ArtBuilder):
  """Any folder of images, labelled by first-level subfolder when possible."""

  name = "art_image_folder"
  LAYOUT = IMAGE_FOLDER_LAYOUT
  MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
  Put the images in the manual dir: {IMAGE_FOLDER_LAYOUT}.
  """

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        description="Images from a local folder.",
        features=tfds.features.FeaturesDict({
            "image": self._image_feature(),
            "label": tfds.features.ClassLabel(),
            "filename": tfds.features.Text(),
        }),
        supervised_keys=("image", "label"),
        metadata=tfds.core.MetadataDict(),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # The root was resolved in _download_and_prepare.
    paths = images.find_images(self._root)
    if not paths:
      raise _no_images(self._root, self.LAYOUT)
    labelled = all("/" in p for p in paths)
    names = sorted({p.split("/", 1)[0] for p in paths}) if labelled else []
    self.info.features["label"].names = names
    index = {n: i for i, n in enumerate(names)}
    items = [
        _Item(p, {"label": index[p.split("/", 1)[0]] if labelled else -1})
        for p in paths
    ]
    return {"train": self._generate_examples(items)}


# -------------------------------------------------------------- preparing --

ON_CHANGE = configs.ON_CHANGE
_LISTING = "source_files.json"


def folder_listing(root: pathlib.Path) -> dict[str, list[int]]:
  """{relative path: [size, mtime_ns]} of the image and CSV/TXT files."""
  listing = {}
  for rel in images.find_images(root):
    st = os.stat(root / rel)
    listing[rel] = [st.st_size, st.st_mtime_ns]
  for pattern in ("*.csv", "*.txt", f"{CSV_DIRNAME}/*"):
    for path in root.glob(pattern):
      st = path.stat()
      listing[path.relative_to(root).as_posix()] = [st.st_size,
                                                   st.st_mtime_ns]
  return listing


def _changes(old: dict, new: dict) -> tuple[int, int, int]:
  added = len(set(new) - set(old))
  removed = len(set(old) - set(new))
  modified = sum(1 for k in set(old) & set(new) if old[k] != new[k])
  return added, removed, modified


def prepare(builder: tfds.core.DatasetBuilder, manual_dir: str,
            on_change: str = "reprepare") -> None:
  """`download_and_prepare`, re-preparing when the folder changed.

  Args:
    builder: a WikiArt or ImageFolder builder.
    manual_dir: the images folder.
    on_change: 'reprepare' or 'use_prepared' (see the module docstring).
  """
  if on_change not in ON_CHANGE:
    raise ValueError(f"on_change must be one of {ON_CHANGE}, got "
                     f"{on_change!r}")
  root = pathlib.Path(manual_dir)
  _check_root(root, WIKIART_LAYOUT if isinstance(builder, WikiArt)
              else IMAGE_FOLDER_LAYOUT)
  listing = folder_listing(root)
  prepared = pathlib.Path(builder.data_dir)
  record = prepared / _LISTING
  if (prepared / "dataset_info.json").exists():
    old = (json.loads(record.read_text()) if record.exists() else {})
    added, removed, modified = _changes(old, listing)
    if added or removed or modified:
      what = (f"{added} added, {removed} removed, {modified} modified since "
              f"{prepared} was prepared")
      if on_change == "use_prepared":
        logging.warning("%s: %s; using the prepared data as they are "
                        "(data.on_change=use_prepared)", root, what)
        return
      logging.warning("%s: %s; preparing again", root, what)
      shutil.rmtree(prepared)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(root)))
  if not record.exists():
    record.write_text(json.dumps(listing))
