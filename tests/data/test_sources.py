"""The pipeline's digit sources (glyphs, MNIST IDX files) and channel counts.

Expected batches are built in NumPy from the same generators and files:
every image a batch holds must be one of the source's images, converted to
the channel count asked for (`images.to_channels`) and scaled to [-1, 1].
"""

import gzip

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from stylegan_jax import configs
from stylegan_jax import images
from stylegan_jax.data import embedded
from stylegan_jax.data import glyphs
from stylegan_jax.data import idx
from stylegan_jax.data import pipeline

N = 20


def _cfg(**kwargs) -> pipeline.DataConfig:
  data = configs.base_config().data
  data.update({"embedded_num_images": N, "shuffle_buffer": 64, **kwargs})
  return pipeline.DataConfig.from_config(data)


def _batches(cfg, num_batches, batch_size=5):
  it = pipeline.create_input_iterator(cfg, batch_size=batch_size)
  return it, [next(it) for _ in range(num_batches)]


def _lookup(uint8_images, labels):
  """{scaled image bytes: label} for matching batch images to sources."""
  return {images.to_float(im).tobytes(): int(lab)
          for im, lab in zip(uint8_images, labels)}


def _check_batches(batches, expected, shape):
  seen = set()
  for b in batches:
    assert b["image"].shape == (len(b["image"]), *shape)
    for image, label in zip(b["image"], b["label"]):
      assert expected[image.tobytes()] == label
      seen.add(image.tobytes())
  return seen


def test_glyphs_source_conditional():
  it, batches = _batches(
      _cfg(source="glyphs", resolution=28, channels=1, conditional=True), 4)
  assert it.class_names == glyphs.CLASS_NAMES and it.num_examples == N
  assert it.label_counts.tolist() == [2] * 10
  want, labels = glyphs.make_dataset(N, 0, 28)
  seen = _check_batches(batches, _lookup(want, labels), (28, 28, 1))
  assert len(seen) == N  # One epoch: every glyph once.


def test_glyphs_as_rgb_repeat_the_channel():
  _, [batch] = _batches(_cfg(source="glyphs", resolution=16, channels=3), 1)
  want, _ = glyphs.make_dataset(N, 0, 16)
  expected = _lookup(np.repeat(want, 3, axis=-1), np.zeros(N))
  _check_batches([batch], expected, (16, 16, 3))
  assert (batch["label"] == 0).all()


def test_embedded_art_in_grayscale():
  _, batches = _batches(_cfg(source="embedded", resolution=8, channels=1,
                             conditional=True), 2)
  art, labels = embedded.make_dataset(N, 8)
  gray = images.to_channels(art, 1)
  # 0.299 R + 0.587 G + 0.114 B, rounded: check the helper on one pixel.
  r, g, b = art[0, 0, 0].astype(np.float64)
  assert gray[0, 0, 0, 0] == round(0.299 * r + 0.587 * g + 0.114 * b)
  _check_batches(batches, _lookup(gray, labels), (8, 8, 1))


def _write_idx(path, array, code, compress=False):
  header = bytes([0, 0, code, array.ndim]) + b"".join(
      int(d).to_bytes(4, "big") for d in array.shape)
  data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
  path.write_bytes(gzip.compress(data) if compress else data)


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
  """MNIST-style IDX files: 12 random 28 x 28 digits with labels 0-2."""
  root = tmp_path_factory.mktemp("mnist")
  rng = np.random.default_rng(0)
  digits = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
  labels = np.arange(12, dtype=np.uint8) % 3
  _write_idx(root / "train-images-idx3-ubyte.gz", digits, 0x08, True)
  _write_idx(root / "train-labels-idx1-ubyte", labels, 0x08)
  return root, digits[..., None], labels


def test_mnist_source(mnist_dir):
  root, digits, labels = mnist_dir
  it, batches = _batches(_cfg(source="mnist", data_dir=str(root),
                              resolution=28, channels=1, conditional=True),
                         3, batch_size=4)
  assert it.num_examples == 12 and it.class_names == ("0", "1", "2")
  assert it.label_counts.tolist() == [4, 4, 4]
  seen = _check_batches(batches, _lookup(digits, labels), (28, 28, 1))
  assert len(seen) == 12
  # Resized for another resolution (area average of 2x2 blocks), as RGB.
  _, [batch] = _batches(_cfg(source="mnist", data_dir=str(root),
                             resolution=14, channels=3), 1, batch_size=12)
  assert batch["image"].shape == (12, 14, 14, 3)
  small = digits.reshape(12, 14, 2, 14, 2, 1).mean(axis=(2, 4))
  small = np.repeat(np.round(small), 3, axis=-1).astype(np.uint8)
  expected = _lookup(small, np.zeros(12))
  assert all(im.tobytes() in expected for im in batch["image"])


def test_mnist_errors_are_one_line(tmp_path):
  with pytest.raises(idx.IdxError, match="no train images file") as info:
    pipeline.create_input_iterator(
        _cfg(source="mnist", data_dir=str(tmp_path), resolution=28),
        batch_size=2)
  assert "\n" not in str(info.value)
  with pytest.raises(ValueError, match="digit labels"):
    pipeline.create_input_iterator(
        _cfg(source="glyphs", resolution=28, conditional=True,
             label_key="genre"), batch_size=2)


def test_grayscale_matches_the_numpy_helper():
  rgb = np.random.default_rng(1).integers(0, 256, (9, 7, 3), dtype=np.uint8)
  got = pipeline.grayscale(tf.constant(rgb)).numpy()
  np.testing.assert_array_equal(got, images.to_channels(rgb, 1))


def test_image_folder_in_grayscale(tmp_path):
  rng = np.random.default_rng(2)
  rgb = rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
  for i, image in enumerate(rgb):
    Image.fromarray(image).save(tmp_path / f"{i}.png")
  cfg = _cfg(source="image_folder", data_dir=str(tmp_path),
             tfds_dir=str(tmp_path / ".tfds"), resolution=8, channels=1)
  _, [batch] = _batches(cfg, 1, batch_size=6)
  expected = _lookup(images.to_channels(rgb, 1), np.zeros(6))
  _check_batches([batch], expected, (8, 8, 1))


def test_bad_channels():
  with pytest.raises(ValueError, match="channels"):
    _cfg(channels=4)
