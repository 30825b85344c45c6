"""Tests for the IDX (MNIST file format) reader, on files written here."""

import gzip
import struct

import numpy as np
import pytest

from stylegan_jax.data import idx

# dtype code -> big-endian dtype, from the format's description.
CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
         0x0E: ">f8"}


def _idx_bytes(array: np.ndarray, code: int) -> bytes:
  """An IDX file: 0, 0, dtype code, ndim, big-endian uint32 dims, data."""
  header = struct.pack(">BBBB", 0, 0, code, array.ndim)
  header += struct.pack(f">{array.ndim}I", *array.shape)
  return header + array.astype(CODES[code]).tobytes()


def _write(path, data: bytes, gz=False):
  path.write_bytes(gzip.compress(data) if gz else data)
  return path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("code", sorted(CODES))
def test_round_trip(tmp_path, code, gz):
  rng = np.random.default_rng(code)
  dtype = np.dtype(CODES[code])
  if dtype.kind == "f":
    array = rng.normal(size=(3, 4, 5)).astype(dtype)
  else:
    info = np.iinfo(dtype)
    array = rng.integers(info.min, info.max, size=(3, 4, 5),
                         endpoint=True).astype(dtype)
  path = _write(tmp_path / "x.idx", _idx_bytes(array, code), gz)
  got = idx.read_idx(path)
  assert got.dtype == dtype.newbyteorder("=")  # Native byte order.
  assert got.shape == (3, 4, 5)
  np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize("shape", [(7,), (2, 3), (2, 1, 3, 2), (0, 28, 28)])
def test_any_rank_and_empty(tmp_path, shape):
  array = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
  path = _write(tmp_path / "x", _idx_bytes(array, 0x0C))
  np.testing.assert_array_equal(idx.read_idx(path), array)


def _mnist_like(n, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8),
          rng.integers(0, 10, size=n, dtype=np.uint8))


@pytest.mark.parametrize("gz", [False, True])
def test_load_split(tmp_path, gz):
  ext = ".gz" if gz else ""
  train_x, train_y = _mnist_like(12)
  test_x, test_y = _mnist_like(5, seed=1)
  for name, array, code in [
      ("train-images-idx3-ubyte", train_x, 0x08),
      ("train-labels-idx1-ubyte", train_y, 0x08),
      ("t10k-images-idx3-ubyte", test_x, 0x08),
      ("t10k-labels-idx1-ubyte", test_y, 0x08)]:
    _write(tmp_path / (name + ext), _idx_bytes(array, code), gz)
  images, labels = idx.load_split(tmp_path, "train")
  assert images.shape == (12, 28, 28, 1) and images.dtype == np.uint8
  assert labels.dtype == np.int32
  np.testing.assert_array_equal(images[..., 0], train_x)
  np.testing.assert_array_equal(labels, train_y)
  images, labels = idx.load_split(str(tmp_path), "test")
  np.testing.assert_array_equal(images[..., 0], test_x)
  np.testing.assert_array_equal(labels, test_y)


def test_load_split_other_names(tmp_path):
  # Some copies use `test-` for `t10k-` and `images.idx3` for `images-idx3`.
  x, y = _mnist_like(4)
  _write(tmp_path / "test-images.idx3-ubyte", _idx_bytes(x, 0x08))
  _write(tmp_path / "test-labels.idx1-ubyte.gz", _idx_bytes(y, 0x08), True)
  images, labels = idx.load_split(tmp_path, "test")
  np.testing.assert_array_equal(images[..., 0], x)
  np.testing.assert_array_equal(labels, y)


# ------------------------------------------------------------------ errors --


def test_bad_magic(tmp_path):
  path = _write(tmp_path / "x", b"\x89PNG\r\n\x1a\n" + bytes(40))
  with pytest.raises(idx.IdxError, match="not an IDX file: it starts with "
                     "89 50 4e 47, expected 00 00"):
    idx.read_idx(path)
  with pytest.raises(idx.IdxError, match="starts with nothing"):
    idx.read_idx(_write(tmp_path / "empty", b""))


def test_unknown_dtype_code(tmp_path):
  data = bytearray(_idx_bytes(np.zeros(4, np.uint8), 0x08))
  data[2] = 0x0A
  with pytest.raises(idx.IdxError, match="unknown IDX dtype code 0x0A"):
    idx.read_idx(_write(tmp_path / "x", bytes(data)))


def test_truncated_and_oversized(tmp_path):
  x, _ = _mnist_like(3)
  data = _idx_bytes(x, 0x08)
  with pytest.raises(idx.IdxError, match=r"is truncated: shape \(3, 28, 28\) "
                     r"of uint8 needs 2352 data bytes, the file has 2351"):
    idx.read_idx(_write(tmp_path / "a", data[:-1]))
  with pytest.raises(idx.IdxError, match="truncated: its header needs 16"):
    idx.read_idx(_write(tmp_path / "b", data[:10]))
  with pytest.raises(idx.IdxError, match="is too long"):
    idx.read_idx(_write(tmp_path / "c", data + b"\0"))
  # A gzip stream cut short.
  packed = gzip.compress(data)
  with pytest.raises(idx.IdxError, match="damaged gzip file"):
    idx.read_idx(_write(tmp_path / "d.gz", packed[:len(packed) // 2]))


def test_wrong_kind_of_file(tmp_path):
  x, y = _mnist_like(3)
  labels = _write(tmp_path / "labels", _idx_bytes(y, 0x08))
  with pytest.raises(idx.IdxError, match=r"not an IDX image file: expected "
                     r"uint8 \[N, H, W\].*got uint8 \[3\]"):
    idx.load_images(labels)
  floats = _write(tmp_path / "floats", _idx_bytes(np.float32(x), 0x0D))
  with pytest.raises(idx.IdxError, match="got float32"):
    idx.load_images(floats)
  with pytest.raises(idx.IdxError, match="not an IDX label file"):
    idx.load_labels(_write(tmp_path / "images", _idx_bytes(x, 0x08)))


def test_split_mistakes(tmp_path):
  x, y = _mnist_like(3)
  _write(tmp_path / "train-images-idx3-ubyte", _idx_bytes(x, 0x08))
  with pytest.raises(idx.IdxError, match="no train labels file in .*: "
                     r"expected train-labels-idx1-ubyte\[.gz\]"):
    idx.load_split(tmp_path)
  _write(tmp_path / "train-labels-idx1-ubyte", _idx_bytes(y[:2], 0x08))
  with pytest.raises(idx.IdxError, match="3 images, 2 labels"):
    idx.load_split(tmp_path)
  with pytest.raises(ValueError, match="split must be one of"):
    idx.load_split(tmp_path, "validation")
  with pytest.raises(idx.IdxError, match="is not a folder"):
    idx.load_split(tmp_path / "nowhere")
  with pytest.raises(FileNotFoundError):
    idx.read_idx(tmp_path / "nowhere")
