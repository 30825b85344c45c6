"""The training input pipeline: images in, resumable per-host batches out.

This module owns everything between a data source and the NumPy batches the
training loop shards onto devices: choosing the source (the embedded art set,
the embedded 28 x 28 glyph digits, MNIST-style IDX files, a WikiArt copy or
any image folder, the last two through the TFDS builders in
`tfds_builders.py`; or, for pix2pix, image pairs: the embedded paired set or
a folder of pairs, see "Paired data" below), this host's shard, the epoch
order, decoding, the channel count, crop or pad to square, resizing,
flipping, scaling to [-1, 1], batching and prefetching.

Choices, so runs can be compared and resumed:

* Channels (`channels`, 3 or 1). Every source is converted to the channel
  count asked for: RGB to grayscale with `images.to_channels`'s weights
  (0.299, 0.587, 0.114, rounded to whole levels), grayscale to RGB by
  repeating the channel.
* Resizing. After the centre crop (or the pad to a square, with black), a
  larger square is shrunk with `tf.image.resize(method='area')`, the exact box
  average for integer factors and free of ringing; a smaller one is enlarged
  with bicubic. A square already at the resolution is left as it is. The
  result is rounded to whole 8-bit levels before scaling by x / 127.5 - 1, so
  batches match what a uint8 dataset would hold. (The builders have already
  shrunk WikiArt and folder images with Lanczos so the shorter side is the
  resolution, which makes the crop path exact.)
* X-flips (`xflip=True`). Each example is mirrored with probability 1/2,
  decided by a stateless hash of (seed, the example's position in this
  host's stream). This is the random-flip reading of StyleGAN's `--mirror`
  (which doubles the dataset instead): same expected data, no change to the
  epoch length, and the flips are part of the deterministic stream.
* Order. Epoch e is this host's shard shuffled with a buffer of
  `shuffle_buffer` examples and a seed that is a function of (seed, e) only,
  so every epoch's order can be rebuilt from scratch. Batches run across
  epoch boundaries (an epoch need not be a multiple of the batch size). The
  buffer holds still-encoded records (PNG bytes for TFDS sources). These are
  op-level seeds: TensorFlow's global seed is never set here, and a run and
  its resume must not set it differently.
* Resuming. The stream is a sequence of examples; an iterator created with
  `start_example=k` begins at example k of it (whole epochs are skipped by
  arithmetic and the rest of the epoch with `Dataset.skip` on the
  still-encoded records). So after b batches of size B, `start_example=b*B`
  continues bit-identically, given the same data, `DataConfig` and process
  count, and a run resumed with another batch size (or growing its batch per
  stage) neither skips nor repeats examples.
* Sharding. Each process reads its own equal slice of the data (TFDS split
  slicing `train[a:b]`, or strided rows of the embedded arrays), dropping the
  remainder so every host has the same epoch length. `batch_size` is per
  host.
* TensorFlow only feeds the host: it is hidden from GPUs, and its thread pools
  are capped (`_TF_THREADS`), so it neither grabs accelerator memory nor
  competes with JAX for the host's cores.
* TFDS records go to `DataConfig.tfds_dir` (TFDS's default, under
  `~/tensorflow_datasets`, if empty; the training loop passes a folder in its
  workdir), named by the dataset, the stored resolution and a hash of
  `data_dir`. They are prepared on first use and reused afterwards. With
  several processes, each prepares into its own `tfds_dir` unless that is
  already prepared; prepare once beforehand on a shared file system.

Paired data (`source='paired'` or `'embedded_paired'`) yields batches of
{'source', 'image', 'label'}: the source image, its target and zero labels.
A folder holds either side-by-side A|B images (`paired_layout=
'side_by_side'`, each file split at half its width) or matching names in
`data_dir/A` and `data_dir/B` (`'folders'`, matched by the name without its
extension); `paired_direction='AtoB'` makes A the source. The files are
read directly (no TFDS preparation), in name order, and the last
`paired_eval_images` pairs are held out: never trained on, returned by
`paired_eval_set`. The embedded paired set (`data/paired.py`) holds out the
drawings after the training ones instead. Both images of a pair get the same
crop, resize and flip; with `paired_jitter`, they are resized to 286/256 of
the resolution and cropped back at one random offset (the paper's random
jitter), drawn like the flips from a stateless hash of (seed, position), so
paired streams resume bit-identically too.
"""

import dataclasses
import os
from collections.abc import Callable, Iterator

import ml_collections

from absl import logging
import numpy as np
import tensorflow as tf

from stylegan_jax import configs
from stylegan_jax import images as images_lib
from stylegan_jax.data import embedded
from stylegan_jax.data import paired
from stylegan_jax.errors import UserError
from stylegan_jax.data import glyphs
from stylegan_jax.data import idx

# Threads TensorFlow may use for its own ops and for tf.data.
_TF_THREADS = 2
# Salts that separate the shuffle and flip streams drawn from one seed.
_SHUFFLE_SALT = 0x5EED
_FLIP_SALT = 0xF11B
_JITTER_SALT = 0x717E
_UNKNOWN_CLASS = "<unknown>"


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Where the images come from and how they are prepared.

  Built from the config's `data` section (`from_config`), where every
  default lives; the fields are those of that section.

  Attributes:
    source: 'embedded' (procedural art in the package), 'glyphs' (the
      package's 28 x 28 digits, `data/glyphs.py`), 'mnist' (IDX files),
      'wikiart' or 'image_folder'.
    data_dir: the images folder (the TFDS manual dir) for 'wikiart' and
      'image_folder'; the folder of the IDX files for 'mnist'.
    tfds_dir: where prepared TFDS records are written and read.
    resolution: output height and width in pixels.
    conditional: yield class labels (otherwise labels are all 0).
    label_key: which label when conditional: 'style' for the embedded set,
      'style' or 'genre' for WikiArt; the folder name for 'image_folder',
      the digit for 'glyphs' and 'mnist' (these accept 'label' or the
      default 'style').
    xflip: mirror random examples (see the module docstring).
    crop: 'center' to centre-crop to a square, 'pad' to pad to one.
    shuffle_buffer: examples in the shuffle buffer.
    seed: seed of the epoch order and the flips.
    embedded_num_images: size of the embedded art or glyph dataset
      (training pairs of the embedded paired set).
    embedded_seed: seed the embedded images are drawn from.
    on_change: when the images folder changed since it was prepared:
      'reprepare' or 'use_prepared' (`tfds_builders.prepare`).
    paired_layout: 'side_by_side' or 'folders' (source 'paired').
    paired_direction: 'AtoB' (A is the source) or 'BtoA'.
    paired_jitter: the paper's random resize-and-crop jitter for pairs.
    paired_eval_images: pairs held out for evaluation.
    channels: 3 (RGB) or 1 (grayscale).
  """

  source: str
  data_dir: str
  tfds_dir: str
  resolution: int
  conditional: bool
  label_key: str
  xflip: bool
  crop: str
  shuffle_buffer: int
  seed: int
  embedded_num_images: int
  embedded_seed: int
  on_change: str
  paired_layout: str
  paired_direction: str
  paired_jitter: bool
  paired_eval_images: int
  channels: int

  @classmethod
  def from_config(cls, data: ml_collections.ConfigDict, *,
                  default_tfds_dir: str = "") -> "DataConfig":
    """The `data` section, strictly: an unknown key is an error."""
    values = data.to_dict()
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
      raise configs.unknown_key_error(f"data.{unknown[0]}")
    values["tfds_dir"] = values.get("tfds_dir") or default_tfds_dir
    return cls(**values)

  def __post_init__(self):
    if self.source not in configs.SOURCES:
      raise ValueError(f"source must be one of {configs.SOURCES}, got "
                       f"{self.source!r}")
    if self.crop not in configs.CROPS:
      raise ValueError(f"crop must be one of {configs.CROPS}, got "
                       f"{self.crop!r}")
    if self.resolution < 1:
      raise ValueError(f"resolution must be positive, got {self.resolution}")
    if self.shuffle_buffer < 1:
      raise ValueError(
          f"shuffle_buffer must be positive, got {self.shuffle_buffer}")
    if self.source not in configs.BUILTIN_SOURCES and not self.data_dir:
      raise ValueError(f"source {self.source!r} needs data_dir")
    if self.channels not in configs.CHANNELS:
      raise ValueError(f"channels must be one of {configs.CHANNELS}, got "
                       f"{self.channels}")


_TF_CONFIGURED = False


def configure_tensorflow() -> None:
  """Hides GPUs from TensorFlow and caps its thread pools (once)."""
  global _TF_CONFIGURED
  if _TF_CONFIGURED:
    return
  _TF_CONFIGURED = True
  try:
    tf.config.set_visible_devices([], "GPU")
  except RuntimeError as e:  # TF already initialised: too late to change.
    logging.warning("Could not hide GPUs from TensorFlow: %s", e)
  try:
    tf.config.threading.set_intra_op_parallelism_threads(_TF_THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(_TF_THREADS)
  except RuntimeError as e:
    logging.warning("Could not cap TensorFlow's threads: %s", e)


# ------------------------------------------------------------------ sources --


@dataclasses.dataclass(frozen=True)
class _Source:
  """This host's shard of a dataset, in a fixed order, still encoded.

  Attributes:
    dataset: finite, deterministic order; elements are (record, label int32
      scalar) where the record is whatever `decode` takes.
    decode: record -> uint8 [h, w, channels] image tensor.
    num_examples: number of elements in `dataset`.
    class_names: names of the label values (empty when unconditional).
    label_counts: images per class in the whole dataset (all hosts), int64
      [len(class_names)], or None if unknown.
    paired: `decode` returns a (source, target) pair of uint8 images.
  """

  dataset: tf.data.Dataset
  decode: Callable[[tf.Tensor], tf.Tensor]
  num_examples: int
  class_names: tuple[str, ...]
  label_counts: np.ndarray | None
  paired: bool = False


def _array_source(cfg: DataConfig, images: np.ndarray, labels: np.ndarray,
                  class_names: tuple[str, ...], process_index: int,
                  process_count: int) -> _Source:
  """An in-memory dataset as this host's source (strided rows).

  Args:
    cfg: the data config (channels, conditional).
    images: uint8 [N, H, W, C], C 1 or 3.
    labels: int [N] in [0, len(class_names)).
    class_names: the names of the label values.
    process_index, process_count: this host and the host count.
  """
  images = images_lib.to_channels(images, cfg.channels)
  counts = np.bincount(labels, minlength=len(class_names))
  per_host = len(images) // process_count
  rows = slice(process_index, per_host * process_count, process_count)
  images, labels = images[rows], labels[rows].astype(np.int32)
  if not cfg.conditional:
    labels = np.zeros_like(labels)
  dataset = tf.data.Dataset.from_tensor_slices((images, labels))
  return _Source(
      dataset=dataset, decode=lambda image: image, num_examples=per_host,
      class_names=class_names if cfg.conditional else (),
      label_counts=(counts.astype(np.int64) if cfg.conditional
                    else np.zeros([0], np.int64)))


def _embedded_source(cfg: DataConfig, process_index: int,
                     process_count: int) -> _Source:
  if cfg.conditional and cfg.label_key not in ("style", "label"):
    raise ValueError(
        f"the embedded dataset has only 'style' labels, not {cfg.label_key!r}")
  images, labels = embedded.make_dataset(
      cfg.embedded_num_images, cfg.resolution, cfg.embedded_seed)
  return _array_source(cfg, images, labels, embedded.STYLE_NAMES,
                       process_index, process_count)


def _digits_source(cfg: DataConfig, process_index: int,
                   process_count: int) -> _Source:
  """'glyphs' (drawn here) or 'mnist' (IDX files in data_dir): digits."""
  if cfg.conditional and cfg.label_key not in ("style", "label"):
    raise ValueError(f"source {cfg.source!r} has only digit labels "
                     f"(label_key 'label' or 'style'), not {cfg.label_key!r}")
  if cfg.source == "glyphs":
    images, labels = glyphs.make_dataset(
        cfg.embedded_num_images, cfg.embedded_seed, cfg.resolution)
    class_names = glyphs.CLASS_NAMES
  else:
    images, labels = idx.load_split(os.path.expanduser(cfg.data_dir), "train")
    if not len(labels) or labels.min() < 0:
      raise idx.IdxError(f"the labels in {cfg.data_dir} must be class "
                         "indices >= 0, and there must be images")
    class_names = tuple(str(i) for i in range(int(labels.max()) + 1))
  return _array_source(cfg, images, labels, class_names, process_index,
                       process_count)


def _tfds_source(cfg: DataConfig, process_index: int,
                 process_count: int) -> _Source:
  # Imported here so the embedded path needs no TFDS.
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from stylegan_jax.data import tfds_builders  # pylint: disable=g-import-not-at-top

  if cfg.source == "wikiart":
    builder_cls, layout = tfds_builders.WikiArt, tfds_builders.WIKIART_LAYOUT
    keys, label_key = ("style", "genre"), cfg.label_key
  else:
    builder_cls, layout = tfds_builders.ImageFolder, tfds_builders.IMAGE_FOLDER_LAYOUT
    keys, label_key = ("label", "style"), "label"  # 'style' is the default.
  if cfg.conditional and cfg.label_key not in keys:
    raise ValueError(f"source {cfg.source!r} has no {cfg.label_key!r} labels "
                     f"(label_key may be one of {keys})")

  data_dir = os.path.abspath(os.path.expanduser(cfg.data_dir))
  builder = builder_cls(
      config=tfds_builders.make_config(cfg.resolution, data_dir),
      data_dir=os.path.expanduser(cfg.tfds_dir) if cfg.tfds_dir else None)
  tfds_builders.prepare(builder, data_dir, cfg.on_change)

  # Every split: a GAN learns from all the images it is given.
  parts, num_examples = [], 0
  for name in sorted(builder.info.splits.keys()):
    per_host = builder.info.splits[name].num_examples // process_count
    if per_host:
      start = process_index * per_host
      parts.append(f"{name}[{start}:{start + per_host}]")
      num_examples += per_host
  if not parts:
    raise ValueError(
        f"{builder.name} in {builder.data_dir} has fewer images than the "
        f"{process_count} processes")
  dataset = builder.as_dataset(
      split="+".join(parts), shuffle_files=False,
      decoders={"image": tfds.decode.SkipDecoding()},
      read_config=tfds.ReadConfig(interleave_cycle_length=1))

  class_names, label_counts = (), np.zeros([0], np.int64)
  if cfg.conditional:
    class_names = tuple(builder.info.features[label_key].names)
    if not class_names:
      raise ValueError(
          f"conditional training needs labels, but {data_dir} has no "
          f"{label_key!r} labels: expected {layout}"
          + (" and the genre CSVs" if label_key == "genre" else ""))
    unknown = len(class_names)
    values = list(range(unknown))
    if builder.info.metadata.get("unlabelled", {}).get(label_key, 0):
      # Images without this label (-1) get a class of their own.
      class_names += (_UNKNOWN_CLASS,)
      values.append(-1)
    counts = builder.info.metadata.get("label_counts", {}).get(label_key)
    label_counts = None if counts is None else np.array(
        [counts.get(str(v), 0) for v in values], np.int64)

    def label_of(ex):
      label = tf.cast(ex[label_key], tf.int32)
      return tf.where(label < 0, unknown, label)
  else:

    def label_of(ex):
      del ex
      return tf.constant(0, tf.int32)

  def decode(data):
    image = tf.io.decode_image(data, channels=3, dtype=tf.uint8,
                               expand_animations=False)
    return grayscale(image) if cfg.channels == 1 else image

  dataset = dataset.map(lambda ex: (ex["image"], label_of(ex)))
  return _Source(dataset=dataset, decode=decode, num_examples=num_examples,
                 class_names=class_names, label_counts=label_counts)


# ------------------------------------------------------------ preprocessing --


def grayscale(image: tf.Tensor) -> tf.Tensor:
  """uint8 [h, w, 3] -> [h, w, 1], as `images.to_channels` does in NumPy."""
  luma = tf.tensordot(tf.cast(image, tf.float32),
                      tf.constant([0.299, 0.587, 0.114], tf.float32),
                      axes=1)  # [h, w]
  return tf.cast(tf.clip_by_value(tf.round(luma), 0.0, 255.0),
                 tf.uint8)[..., None]


def preprocess(image: tf.Tensor, resolution: int, crop: str) -> tf.Tensor:
  """Square crop or pad, resize, scale.

  Args:
    image: uint8 [h, w, C], any size; C (kept) must be static.
    resolution: output size R.
    crop: 'center' or 'pad' (see the module docstring).

  Returns:
    float32 [R, R, C] in [-1, 1].
  """
  channels = image.shape[-1]
  h, w = tf.shape(image)[0], tf.shape(image)[1]
  if crop == "center":
    size = tf.minimum(h, w)
    image = image[(h - size) // 2:(h - size) // 2 + size,
                  (w - size) // 2:(w - size) // 2 + size]
  else:
    size = tf.maximum(h, w)
    image = tf.image.pad_to_bounding_box(
        image, (size - h) // 2, (size - w) // 2, size, size)
  image = tf.cast(image, tf.float32)  # [size, size, C]

  def resize(method):
    out = tf.image.resize(image, [resolution, resolution], method=method)
    return tf.clip_by_value(tf.round(out), 0.0, 255.0)

  image = tf.case(
      [(size > resolution, lambda: resize("area")),
       (size < resolution, lambda: resize("bicubic"))],
      default=lambda: image)
  image = tf.ensure_shape(image, [resolution, resolution, channels])
  return image / 127.5 - 1.0


def _maybe_flip(image: tf.Tensor, index: tf.Tensor, seed: int) -> tf.Tensor:
  """Mirrors `image` [H, W, C] for about half of all stream positions."""
  key = tf.stack([tf.constant(seed * 65536 + _FLIP_SALT, tf.int64), index])
  flip = tf.random.stateless_uniform([], seed=key, alg="philox") < 0.5
  return tf.cond(flip, lambda: image[:, ::-1], lambda: image)


# -------------------------------------------------------------- paired data --


def jitter_size(resolution: int) -> int:
  """The size pairs are resized to before the random crop (286 for 256)."""
  return int(round(resolution * 286 / 256))


def _paired_files(cfg: DataConfig) -> list[tuple[str, str]]:
  """Every pair's files, in name order: (path, '') or (A path, B path)."""
  root = os.path.abspath(os.path.expanduser(cfg.data_dir))
  if cfg.paired_layout == "side_by_side":
    pairs = [(os.path.join(root, name), "")
             for name in images_lib.find_images(root)]
    expected = "side-by-side A|B image files"
  else:
    sides = []
    for side in ("A", "B"):
      folder = os.path.join(root, side)
      sides.append({os.path.splitext(name)[0]: os.path.join(folder, name)
                    for name in images_lib.find_images(folder)})
    a, b = sides
    names = sorted(set(a) & set(b))
    unmatched = len(a) + len(b) - 2 * len(names)
    if unmatched:
      logging.warning("data: %d files in %s/A and %s/B have no partner of "
                      "the same name; they are skipped", unmatched, root, root)
    pairs = [(a[name], b[name]) for name in names]
    expected = "images in A/ and B/ with matching names"
  if not pairs:
    raise UserError(f"no image pairs in {root} — data.paired_layout="
                    f"{cfg.paired_layout!r} expects {expected}")
  if len(pairs) <= cfg.paired_eval_images:
    raise UserError(
        f"{root} has {len(pairs)} pairs and data.paired_eval_images="
        f"{cfg.paired_eval_images} would hold out all of them — hold out "
        "fewer (--config.data.paired_eval_images=...)")
  return pairs


def _decode_pair(cfg: DataConfig):
  """record -> (source, target) uint8 images, per layout and direction."""

  def read(path):
    return tf.io.decode_image(tf.io.read_file(path), channels=3,
                              dtype=tf.uint8, expand_animations=False)

  def decode(record):
    if cfg.source == "embedded_paired":
      a, b = record
    elif cfg.paired_layout == "side_by_side":
      image = read(record[0])
      half = tf.shape(image)[1] // 2
      a, b = image[:, :half], image[:, half:2 * half]
    else:
      a, b = read(record[0]), read(record[1])
    return (a, b) if cfg.paired_direction == "AtoB" else (b, a)

  return decode


def _paired_records(cfg: DataConfig, held_out: bool):
  """The training or held-out records: arrays to slice, and their count."""
  if cfg.source == "embedded_paired":
    n, m = cfg.embedded_num_images, cfg.paired_eval_images
    a, b = paired.make_pairs(m if held_out else n, cfg.resolution,
                             cfg.embedded_seed, start=n if held_out else 0)
    return (a, b), len(a)
  pairs = _paired_files(cfg)
  pairs = pairs[len(pairs) - cfg.paired_eval_images:] if held_out else (
      pairs[:len(pairs) - cfg.paired_eval_images])
  return np.array(pairs, dtype=object).astype(str), len(pairs)


def _paired_source(cfg: DataConfig, process_index: int,
                   process_count: int) -> _Source:
  records, n = _paired_records(cfg, held_out=False)
  per_host = n // process_count
  rows = slice(process_index, per_host * process_count, process_count)
  records = (tuple(r[rows] for r in records) if isinstance(records, tuple)
             else records[rows])
  labels = np.zeros([per_host], np.int32)
  dataset = tf.data.Dataset.from_tensor_slices((records, labels))
  return _Source(dataset=dataset, decode=_decode_pair(cfg),
                 num_examples=per_host, class_names=(),
                 label_counts=np.zeros([0], np.int64), paired=True)


def _prepare_pair(pair, index: tf.Tensor, cfg: DataConfig,
                  augment: bool = True) -> dict[str, tf.Tensor]:
  """Both images cropped, resized, jittered and flipped alike.

  Args:
    pair: (source, target) uint8 [h, w, 3] tensors.
    index: the example's position in the stream (seeds jitter and flips).
    cfg: the data config.
    augment: apply `paired_jitter` and `xflip` (off for held-out pairs).

  Returns:
    {'source', 'image'}: float32 [R, R, 3] each, in [-1, 1].
  """
  res = cfg.resolution
  size = jitter_size(res) if augment and cfg.paired_jitter else res
  both = tf.concat([preprocess(pair[0], size, cfg.crop),
                    preprocess(pair[1], size, cfg.crop)], axis=-1)
  if size != res:
    key = tf.stack([tf.constant(cfg.seed * 65536 + _JITTER_SALT, tf.int64),
                    tf.cast(index, tf.int64)])
    offset = tf.random.stateless_uniform(
        [2], seed=key, minval=0, maxval=size - res + 1, dtype=tf.int32,
        alg="philox")
    both = tf.slice(both, [offset[0], offset[1], 0], [res, res, 6])
  if augment and cfg.xflip:
    both = _maybe_flip(both, index, cfg.seed)
  both = tf.ensure_shape(both, [res, res, 6])
  return {"source": both[..., :3], "image": both[..., 3:]}


def paired_eval_set(cfg: DataConfig) -> dict[str, np.ndarray]:
  """The held-out pairs, prepared as in training without jitter or flips.

  Args:
    cfg: a paired data config.

  Returns:
    {'source', 'image'}: float32 [M, R, R, 3] in [-1, 1], M =
    `paired_eval_images`, in a fixed order (the same on every host).
  """
  if cfg.source not in configs.PAIRED_SOURCES:
    raise ValueError(f"source {cfg.source!r} has no pairs")
  configure_tensorflow()
  records, n = _paired_records(cfg, held_out=True)
  decode = _decode_pair(cfg)
  ds = tf.data.Dataset.from_tensor_slices(records).enumerate()
  ds = ds.map(lambda i, r: _prepare_pair(decode(r), i, cfg, augment=False))
  batch = next(ds.batch(n).as_numpy_iterator())
  return {"source": batch["source"], "image": batch["image"]}


# ----------------------------------------------------------------- iterator --


class InputIterator(Iterator[dict[str, np.ndarray]]):
  """Yields this host's batches; knows where it is in the stream.

  Attributes:
    position: examples of this host's stream consumed so far, counting the
      `start_example` it was created at (pass it back to resume).
    num_examples: examples in this host's shard (one epoch).
    num_classes: the label dimension c_dim: the number of classes when
      conditional, 0 otherwise.
    class_names: the names of the classes (empty when unconditional).
    label_counts: images per class over the whole dataset (all hosts and
      splits), int64 [num_classes], e.g. to sample generator labels with the
      data's class frequencies; None if unknown.
    batch_size: examples per batch on this host.
  """

  def __init__(self, dataset: tf.data.Dataset, *, position: int,
               num_examples: int, class_names: tuple[str, ...],
               label_counts: np.ndarray | None, batch_size: int):
    self._iterator = dataset.as_numpy_iterator()
    self.position = position
    self.num_examples = num_examples
    self.class_names = class_names
    self.num_classes = len(class_names)
    self.label_counts = label_counts
    self.batch_size = batch_size

  def __next__(self) -> dict[str, np.ndarray]:
    batch = next(self._iterator)
    self.position += self.batch_size
    return batch


def create_input_iterator(cfg: DataConfig, *, batch_size: int,
                          process_index: int = 0, process_count: int = 1,
                          start_example: int = 0) -> InputIterator:
  """Builds this host's endless, resumable batch iterator.

  Args:
    cfg: the data config.
    batch_size: examples per batch on this host.
    process_index: this host's index in [0, process_count).
    process_count: number of hosts reading the data.
    start_example: examples of this host's stream already consumed (see
      `InputIterator.position`).

  Returns:
    An iterator of {'image': float32 [B, R, R, 3] in [-1, 1],
    'label': int32 [B]} (plus 'source' [B, R, R, 3] for paired data) with
    `position`, `num_examples`, `num_classes`, `class_names` and
    `label_counts` attributes.
  """
  if batch_size < 1 or start_example < 0:
    raise ValueError(
        f"need batch_size >= 1 and start_example >= 0, got {batch_size}, "
        f"{start_example}")
  if not 0 <= process_index < process_count:
    raise ValueError(
        f"process_index {process_index} not in [0, {process_count})")
  configure_tensorflow()
  if cfg.source == "embedded":
    source = _embedded_source(cfg, process_index, process_count)
  elif cfg.source in configs.PAIRED_SOURCES:
    source = _paired_source(cfg, process_index, process_count)
  elif cfg.source in ("glyphs", "mnist"):
    source = _digits_source(cfg, process_index, process_count)
  else:
    source = _tfds_source(cfg, process_index, process_count)
  n = source.num_examples
  if n < 1:
    raise ValueError(
        f"no examples for process {process_index} of {process_count}")

  offset = start_example
  first_epoch, skip = divmod(offset, n)
  buffer = min(cfg.shuffle_buffer, n)
  base = source.dataset

  def epoch(e):
    seed = tf.constant(cfg.seed, tf.int64) * 1_000_003 + _SHUFFLE_SALT + e
    return base.shuffle(buffer, seed=seed, reshuffle_each_iteration=False)

  ds = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
  ds = ds.flat_map(epoch).skip(skip).enumerate(start=offset)

  def prepare(index, record):
    encoded, label = record
    if source.paired:
      return {**_prepare_pair(source.decode(encoded), index, cfg),
              "label": label}
    image = preprocess(source.decode(encoded), cfg.resolution, cfg.crop)
    if cfg.xflip:
      image = _maybe_flip(image, index, cfg.seed)
    return {"image": image, "label": label}

  ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE,
              deterministic=True)
  ds = ds.batch(batch_size, drop_remainder=True)
  ds = ds.prefetch(2)
  options = tf.data.Options()
  options.deterministic = True
  options.threading.private_threadpool_size = _TF_THREADS
  options.threading.max_intra_op_parallelism = 1
  ds = ds.with_options(options)
  logging.info(
      "data: %s, %d examples on process %d/%d, batch %d, starting at "
      "example %d (epoch %d)", cfg.source, n, process_index, process_count,
      batch_size, start_example, first_epoch)
  return InputIterator(ds, position=start_example, num_examples=n,
                       class_names=source.class_names,
                       label_counts=source.label_counts,
                       batch_size=batch_size)
