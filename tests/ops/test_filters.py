"""Tests for `stylegan_jax.ops.filters` against a NumPy reference.

`np_upfirdn2d` spells out the semantics with loops and `np.pad`: zero-stuff
by `up` (up - 1 zeros after every sample), pad (negative pads crop), true 2-D
convolution with the filter per channel, keep every `down`-th pixel from 0.
The other op test modules import it.
"""

import jax
from jax import test_util as jtu
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax.ops import filters


def np_upfirdn2d(x, f, up=1, down=1, pad=(0, 0, 0, 0), gain=1.0):
  """NumPy upfirdn2d; x [N, H, W, C], f [fh, fw], pad (x0, x1, y0, y1)."""
  x = np.asarray(x, np.float64)
  f = np.asarray(f, np.float64)
  n, h, w, c = x.shape
  x0, x1, y0, y1 = pad
  s = np.zeros((n, h * up, w * up, c))
  s[:, ::up, ::up, :] = x  # up - 1 zeros after every sample.
  s = np.pad(s, ((0, 0), (max(y0, 0), max(y1, 0)), (max(x0, 0), max(x1, 0)),
                 (0, 0)))
  s = s[:, max(-y0, 0):s.shape[1] - max(-y1, 0),
        max(-x0, 0):s.shape[2] - max(-x1, 0)]
  fh, fw = f.shape
  oh, ow = s.shape[1] - fh + 1, s.shape[2] - fw + 1
  out = np.zeros((n, oh, ow, c))
  # True convolution: out[i, j] = sum_ab f[a, b] s[i + fh-1 - a, j + fw-1 - b].
  for a in range(fh):
    for b in range(fw):
      out += f[a, b] * s[:, fh - 1 - a:fh - 1 - a + oh,
                         fw - 1 - b:fw - 1 - b + ow]
  return out[:, ::down, ::down] * gain


def _image(shape=(2, 7, 9, 3), seed=0):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# Non-square, non-symmetric filter: catches a missing flip and x/y swaps.
_ASYM = np.random.default_rng(1).uniform(0.1, 1.0, size=(3, 4)).astype(
    np.float32)
_BLUR = filters.setup_filter([1, 3, 3, 1])


@pytest.mark.parametrize("f", [_ASYM, _BLUR], ids=["asym3x4", "blur4x4"])
@pytest.mark.parametrize(
    "up,down,pad,gain",
    [
        (1, 1, (0, 0, 0, 0), 1.0),
        (1, 1, (2, 1, 0, 3), 1.0),
        (2, 1, (2, 1, 2, 1), 4.0),
        (1, 2, (1, 1, 1, 1), 1.0),
        (2, 1, (-1, 2, 3, -2), 3.0),
        (1, 2, (-2, 1, 2, -1), 0.5),
        (3, 2, (1, -2, 0, 3), 2.0),
        (2, 2, (2, 2, 2, 2), 1.5),
    ],
)
def test_upfirdn2d_matches_numpy(f, up, down, pad, gain):
  x = _image()
  got = np.asarray(filters.upfirdn2d(jnp.asarray(x), f, up=up, down=down,
                                     pad=pad, gain=gain))
  want = np_upfirdn2d(x, f, up, down, pad, gain)
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_upfirdn2d_int_pad_pads_all_sides():
  x = _image()
  got = filters.upfirdn2d(jnp.asarray(x), _ASYM, up=2, pad=2)
  want = np_upfirdn2d(x, _ASYM, 2, 1, (2, 2, 2, 2))
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


def test_upfirdn2d_is_a_true_convolution():
  # An impulse convolved with f gives f itself (a cross-correlation would
  # give f flipped); this pins the reference above too.
  x = np.zeros((1, 1, 1, 1), np.float32)
  x[0, 0, 0, 0] = 1.0
  fh, fw = _ASYM.shape
  got = filters.upfirdn2d(jnp.asarray(x), _ASYM,
                          pad=(fw - 1, fw - 1, fh - 1, fh - 1))
  np.testing.assert_allclose(np.asarray(got)[0, :, :, 0], _ASYM, rtol=1e-6)


def test_upfirdn2d_output_shape_formula():
  x = jnp.zeros((1, 5, 6, 2))
  y = filters.upfirdn2d(x, _ASYM, up=3, down=2, pad=(1, 0, 2, -1))
  fh, fw = _ASYM.shape
  assert y.shape == (1, (5 * 3 + 2 - 1 - fh) // 2 + 1,
                     (6 * 3 + 1 + 0 - fw) // 2 + 1, 2)


def test_setup_filter_normalised_outer_product():
  f = filters.setup_filter([1, 3, 3, 1])
  assert f.shape == (4, 4) and f.dtype == np.float32
  np.testing.assert_allclose(f.sum(), 1.0, rtol=1e-6)
  taps = np.array([1, 3, 3, 1], np.float64)
  np.testing.assert_allclose(f, np.outer(taps, taps) / 64, rtol=1e-6)
  g = filters.setup_filter([1, 2, 5])
  np.testing.assert_allclose(g, np.outer([1, 2, 5], [1, 2, 5]) / 64,
                             rtol=1e-6)
  with pytest.raises(ValueError):
    filters.setup_filter([[1, 2], [3, 4]])
  with pytest.raises(ValueError):
    filters.setup_filter([])


def test_resampling_shapes():
  x = jnp.zeros((2, 5, 6, 3))
  assert filters.upsample2d(x, _BLUR).shape == (2, 10, 12, 3)
  assert filters.upsample2d(x, _BLUR, up=4).shape == (2, 20, 24, 3)
  x = jnp.zeros((2, 8, 6, 3))
  assert filters.downsample2d(x, _BLUR).shape == (2, 4, 3, 3)
  x = jnp.zeros((2, 8, 12, 3))
  assert filters.downsample2d(x, _BLUR, down=4).shape == (2, 2, 3, 3)


def test_constant_image_survives_resampling_in_interior():
  x = jnp.full((1, 8, 8, 2), 0.7, jnp.float32)
  up = np.asarray(filters.upsample2d(x, _BLUR))
  down = np.asarray(filters.downsample2d(x, _BLUR))
  np.testing.assert_allclose(up[:, 2:-2, 2:-2], 0.7, rtol=1e-6)
  np.testing.assert_allclose(down[:, 1:-1, 1:-1], 0.7, rtol=1e-6)
  # The zero padding does show at the border (so the interior crop matters).
  assert abs(up[0, 0, 0, 0] - 0.7) > 0.05
  assert abs(down[0, 0, 0, 0] - 0.7) > 0.05


def test_resamplers_match_reference_padding():
  x = _image((1, 6, 5, 2), seed=3)
  np.testing.assert_allclose(
      np.asarray(filters.upsample2d(jnp.asarray(x), _BLUR)),
      np_upfirdn2d(x, _BLUR, up=2, pad=(2, 1, 2, 1), gain=4),
      rtol=1e-5, atol=1e-6)
  x = _image((1, 6, 8, 2), seed=4)
  np.testing.assert_allclose(
      np.asarray(filters.downsample2d(jnp.asarray(x), _BLUR)),
      np_upfirdn2d(x, _BLUR, down=2, pad=(1, 1, 1, 1)),
      rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("up,down,pad", [(2, 1, (2, 1, 1, 2)),
                                         (1, 2, (1, 0, 0, 1))])
def test_upfirdn2d_gradients(up, down, pad):
  x = jnp.asarray(_image((1, 3, 4, 2), seed=5))
  fn = jax.jit(lambda x: filters.upfirdn2d(x, _ASYM, up=up, down=down,
                                           pad=pad, gain=2.0))
  jtu.check_grads(fn, (x,), order=1, modes=["rev"])
