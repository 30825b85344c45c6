"""Reading IDX files, the format of MNIST and its relatives (no TensorFlow).

An IDX file is: two zero bytes, a dtype code (0x08 uint8, 0x09 int8, 0x0B
int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of dims, each dim
as a big-endian uint32, then the values, big-endian, in C order. Files may
be gzipped (`train-images-idx3-ubyte.gz`); that is detected from the bytes,
not the name. Everything is validated, and a bad file raises `IdxError` with
one line saying what is wrong.

`load_split` reads an MNIST-style folder (MNIST, Fashion-MNIST, KMNIST share
the file names) into NHWC uint8 images and int32 labels.
"""

import gzip
import math
import os
import pathlib
import zlib

import numpy as np

from stylegan_jax.errors import UserError

DTYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"

# Split -> file-name prefixes; MNIST calls its test split `t10k`.
_SPLIT_PREFIXES = {"train": ("train",), "test": ("t10k", "test")}


class IdxError(UserError):
  """A file that is not a valid IDX file (or not the IDX file expected)."""


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
  """Parses the bytes of an (uncompressed) IDX file.

  Args:
    data: the file's bytes.
    name: what to call the data in error messages (e.g. its path).

  Returns:
    The array, shape from the header, dtype in native byte order.

  Raises:
    IdxError: bad magic, unknown dtype code, truncated or oversized data.
  """
  if len(data) < 4 or data[:2] != b"\0\0":
    raise IdxError(f"{name} is not an IDX file: it starts with "
                   f"{data[:4].hex(' ') or 'nothing'}, expected 00 00 "
                   f"<dtype> <ndim>")
  code, ndim = data[2], data[3]
  if code not in DTYPE_CODES:
    known = ", ".join(f"0x{c:02X}" for c in DTYPE_CODES)
    raise IdxError(f"{name} has unknown IDX dtype code 0x{code:02X} "
                   f"(known: {known})")
  header = 4 + 4 * ndim
  if len(data) < header:
    raise IdxError(f"{name} is truncated: its header needs {header} bytes "
                   f"for {ndim} dims, the file has {len(data)}")
  shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
  dtype = DTYPE_CODES[code]
  expected = math.prod(shape) * dtype.itemsize
  found = len(data) - header
  if found != expected:
    what = "truncated" if found < expected else "too long"
    raise IdxError(f"{name} is {what}: shape {shape} of {dtype.name} needs "
                   f"{expected} data bytes, the file has {found}")
  array = np.frombuffer(data, dtype, offset=header).reshape(shape)
  return array.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
  """Reads an IDX file, gzipped or not; see `parse_idx`.

  Raises:
    FileNotFoundError: no such file.
    IdxError: a damaged gzip stream or an invalid IDX file.
  """
  data = pathlib.Path(path).read_bytes()
  if data[:2] == _GZIP_MAGIC:
    try:
      data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
      raise IdxError(f"{path} is a damaged gzip file ({e}); download it "
                     f"again") from None
  return parse_idx(data, str(path))


def load_images(path: str | os.PathLike) -> np.ndarray:
  """Reads an IDX image file (uint8 [N, H, W]) as uint8 [N, H, W, 1]."""
  array = read_idx(path)
  if array.dtype != np.uint8 or array.ndim != 3:
    raise IdxError(f"{path} is not an IDX image file: expected uint8 "
                   f"[N, H, W] (an idx3-ubyte file), got {array.dtype.name} "
                   f"{list(array.shape)}")
  return array[..., None]


def load_labels(path: str | os.PathLike) -> np.ndarray:
  """Reads an IDX label file (integers [N]) as int32 [N]."""
  array = read_idx(path)
  if array.dtype.kind not in "iu" or array.ndim != 1:
    raise IdxError(f"{path} is not an IDX label file: expected integers [N] "
                   f"(an idx1-ubyte file), got {array.dtype.name} "
                   f"{list(array.shape)}")
  return array.astype(np.int32)


def _find(directory: pathlib.Path, split: str, kind: str,
          idx: str) -> pathlib.Path:
  """`split`'s `{prefix}-{kind}-{idx}-ubyte[.gz]` (or `{kind}.{idx}`) file."""
  names = [f"{prefix}-{kind}{sep}{idx}-ubyte{ext}"
           for prefix in _SPLIT_PREFIXES[split]
           for sep in ("-", ".") for ext in ("", ".gz")]
  for name in names:
    if (directory / name).is_file():
      return directory / name
  raise IdxError(f"no {split} {kind} file in {directory}: expected "
                 f"{names[0]}[.gz] (MNIST's file names)")


def load_split(directory: str | os.PathLike,
               split: str = "train") -> tuple[np.ndarray, np.ndarray]:
  """Reads one split of an MNIST-style folder.

  Args:
    directory: holds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
      `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each possibly
      gzipped (`.gz`); `test-` for `t10k-` and `-images.idx3` for
      `-images-idx3` are accepted too.
    split: 'train' or 'test'.

  Returns:
    (images uint8 [N, H, W, 1], labels int32 [N]).

  Raises:
    IdxError: a missing, invalid or mismatched file.
  """
  if split not in _SPLIT_PREFIXES:
    raise ValueError(f"split must be one of {tuple(_SPLIT_PREFIXES)}, got "
                     f"{split!r}")
  directory = pathlib.Path(directory)
  if not directory.is_dir():
    raise IdxError(f"{directory} is not a folder")
  images = load_images(_find(directory, split, "images", "idx3"))
  labels = load_labels(_find(directory, split, "labels", "idx1"))
  if len(images) != len(labels):
    raise IdxError(f"the {split} images and labels in {directory} differ in "
                   f"length: {len(images)} images, {len(labels)} labels")
  return images, labels
