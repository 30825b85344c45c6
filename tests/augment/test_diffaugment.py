"""DiffAugment against NumPy references built from its drawn parameters."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax.augment import diffaugment

N, S = 8, 16


def _images(shape, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def _key(name, key):
  return jax.random.fold_in(key, diffaugment.POLICIES.index(name))


@pytest.fixture(scope="module")
def run():
  return jax.jit(diffaugment.diff_augment, static_argnums=2)


def test_color_reference(run):
  x = _images((N, S, S, 3))
  key = jax.random.key(0)
  got = run(x, key, "color")
  f = np.asarray(diffaugment.color_factors(_key("color", key), N), np.float64)
  ref = x + f[:, 0, None, None, None]
  mean = ref.mean(axis=3, keepdims=True)
  ref = (ref - mean) * f[:, 1, None, None, None] + mean
  mean = ref.mean(axis=(1, 2, 3), keepdims=True)
  ref = (ref - mean) * f[:, 2, None, None, None] + mean
  np.testing.assert_allclose(got, ref, atol=1e-5)


def test_translation_reference(run):
  x = _images((N, S, S, 3), seed=1)
  key = jax.random.key(1)
  got = np.asarray(run(x, key, "translation"))
  shift = np.asarray(diffaugment.translation_shifts(
      _key("translation", key), N, S))
  for i in range(N):
    dy, dx = shift[i]
    ref = np.zeros_like(x[i])  # out[y, x] = in[y + dy, x + dx], else 0
    for y in range(S):
      for xx in range(S):
        if 0 <= y + dy < S and 0 <= xx + dx < S:
          ref[y, xx] = x[i, y + dy, xx + dx]
    np.testing.assert_array_equal(got[i], ref)


def test_cutout_reference(run):
  x = _images((N, S, S, 3), seed=2)
  key = jax.random.key(2)
  got = np.asarray(run(x, key, "cutout"))
  offset = np.asarray(diffaugment.cutout_offsets(_key("cutout", key), N, S))
  k = S // 2
  for i in range(N):
    ref = x[i].copy()
    rows = np.clip(np.arange(k) + offset[i, 0] - k // 2, 0, S - 1)
    cols = np.clip(np.arange(k) + offset[i, 1] - k // 2, 0, S - 1)
    ref[np.ix_(rows, cols)] = 0
    np.testing.assert_array_equal(got[i], ref)


def test_parameter_ranges_and_frequencies():
  n = 20000
  key = jax.random.key(3)

  @jax.jit
  def draw(key):
    return (diffaugment.color_factors(key, n),
            diffaugment.translation_shifts(key, n, S),
            diffaugment.cutout_offsets(key, n, S))

  f, shift, offset = draw(key)
  f = np.asarray(f, np.float64)
  for column, (lo, hi) in enumerate([(-0.5, 0.5), (0, 2), (0.5, 1.5)]):
    u = f[:, column]
    assert u.min() >= lo and u.max() < hi
    # Mean of a uniform within 4 standard errors.
    assert abs(u.mean() - (lo + hi) / 2) < 4 * (hi - lo) / np.sqrt(12 * n)
  # Whole-pixel shifts uniform on [-2, 2] for S = 16 (int(16 / 8 + 0.5)).
  shift = np.asarray(shift).ravel()
  counts = np.bincount(shift + 2, minlength=5)
  assert counts.size == 5
  q = 1 / 5
  assert np.all(np.abs(counts / shift.size - q)
                < 4 * np.sqrt(q * (1 - q) / shift.size))
  # Cut-out centres uniform on [0, 16] (k = 8 is even: S + 1 values).
  offset = np.asarray(offset).ravel()
  assert offset.min() == 0 and offset.max() == S


def test_gradient_matches_finite_differences():
  # Affine in the image for a fixed key: central differences are exact up
  # to float32 round-off.
  x = _images((2, 8, 8, 3), seed=4)
  w = _images((2, 8, 8, 3), seed=5)
  key = jax.random.key(4)
  f = jax.jit(jax.value_and_grad(
      lambda x: jnp.sum(w * diffaugment.diff_augment(x, key))))
  _, grad = f(x)
  assert np.abs(np.asarray(grad)).sum() > 0
  eps = 0.1
  v = _images(x.shape, seed=6)
  fd = (f(x + eps * v)[0] - f(x - eps * v)[0]) / (2 * eps)
  np.testing.assert_allclose(np.sum(grad * v), fd, rtol=2e-3)


def test_policies_parse_in_order_and_reject_unknown_names():
  assert diffaugment.parse_policy("cutout, color") == ("cutout", "color")
  assert diffaugment.parse_policy("") == ()
  with pytest.raises(ValueError, match="unknown DiffAugment policy flip"):
    diffaugment.diff_augment(np.zeros((1, 8, 8, 3)), jax.random.key(0),
                             "color,flip")
