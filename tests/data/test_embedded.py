"""Tests for the embedded procedural art dataset."""

import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

from stylegan_jax.data import embedded


def _features(images: np.ndarray) -> np.ndarray:
  """Colour and edge statistics, [N, 11], from uint8 [N, H, W, 3]."""
  x = images.astype(np.float32) / 255
  hi, lo = x.max(-1), x.min(-1)
  dx = np.abs(np.diff(x, axis=2)).mean((1, 2, 3))
  dy = np.abs(np.diff(x, axis=1)).mean((1, 2, 3))
  return np.stack([
      *x.mean((1, 2)).T, *x.std((1, 2)).T, (hi - lo).mean((1, 2)), dx, dy,
      (lo > 0.8).mean((1, 2)), (hi < 0.2).mean((1, 2))
  ], axis=1)


def test_render_is_deterministic():
  for style in range(len(embedded.STYLE_NAMES)):
    a = embedded.render(style, 7, 32)
    assert a.dtype == np.uint8 and a.shape == (32, 32, 3)
    assert np.array_equal(a, embedded.render(style, 7, 32))
    assert not np.array_equal(a, embedded.render(style, 8, 32))


def test_make_dataset_is_deterministic_and_balanced():
  images, labels = embedded.make_dataset(53, 16, seed=3)
  assert images.shape == (53, 16, 16, 3) and images.dtype == np.uint8
  assert labels.shape == (53,) and labels.dtype == np.int32
  assert np.array_equal(labels, np.arange(53) % len(embedded.STYLE_NAMES))
  again, _ = embedded.make_dataset(53, 16, seed=3)
  assert np.array_equal(images, again)
  other, _ = embedded.make_dataset(53, 16, seed=4)
  assert not np.array_equal(images, other)
  # Image i is the one `render` draws; batching does not change the bytes.
  for i in (0, 6, 52):
    seed = embedded.image_seed(3, i)
    assert np.array_equal(images[i], embedded.render(labels[i], seed, 16))
  # No two images are the same.
  assert len({im.tobytes() for im in images}) == 53


@pytest.mark.parametrize("resolution", [8, 13, 16, 64])
def test_any_resolution(resolution):
  images, _ = embedded.make_dataset(10, resolution)
  assert images.shape == (10, resolution, resolution, 3)
  # Pictures are not flat: every image has some contrast.
  assert (images.reshape(10, -1).std(axis=1) > 5).all()


def test_large_resolution_matches_small_picture():
  big = embedded.render(0, 1, 1024).astype(np.float32)
  small = embedded.render(0, 1, 32).astype(np.float32)
  pooled = big.reshape(32, 32, 32, 32, 3).mean((1, 3))
  # Same composition at both sizes (lines land on different pixel edges).
  assert np.abs(pooled - small).mean() < 12


def test_styles_are_distinguishable():
  images, labels = embedded.make_dataset(600, 16, seed=1)
  f = _features(images)
  f = (f - f.mean(0)) / f.std(0)
  train, test = slice(0, 300), slice(300, None)
  centroids = np.stack([
      f[train][labels[train] == k].mean(0)
      for k in range(len(embedded.STYLE_NAMES))
  ])
  dist = ((f[test][:, None] - centroids[None]) ** 2).sum(-1)
  accuracy = (dist.argmin(1) == labels[test]).mean()
  assert accuracy > 0.6, accuracy  # Chance is 0.2.


def test_make_dataset_is_fast():
  start = time.perf_counter()
  embedded.make_dataset(2000, 32)
  assert time.perf_counter() - start < 5.0


def test_bad_arguments():
  with pytest.raises(ValueError, match="style"):
    embedded.render(len(embedded.STYLE_NAMES), 0, 16)
  with pytest.raises(ValueError, match="resolution"):
    embedded.render(0, 0, 4)
  with pytest.raises(ValueError, match="seed"):
    embedded.render(0, -1, 16)


def test_embedded_needs_no_tensorflow():
  code = ("import sys; from stylegan_jax.data import embedded; "
          "embedded.render(0, 0, 8); assert 'tensorflow' not in sys.modules")
  subprocess.run([sys.executable, "-c", code], check=True,
                 cwd=pathlib.Path(__file__).resolve().parents[2])
