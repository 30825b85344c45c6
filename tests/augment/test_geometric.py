"""Geometric stage: exact pixel blits, matrix composition, the resampler.

NumPy references are written here: flips, quarter turns and reflected
shifts with `np.flip`, `np.rot90` and `np.pad(mode='reflect')`; matrices
composed in float64 from the drawn parameters; and analytic resampling of a
smooth image.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax.augment import geometric
from stylegan_jax.augment import params as params_lib
from stylegan_jax.augment import specs
from stylegan_jax.ops import filters

# The resampler's float32 round-off (two 12-tap filters per axis, then the
# identity by orthonormality); measured ~2e-7.
ROUND_OFF = 1e-6

resample = jax.jit(geometric.apply_resample)
draw = jax.jit(params_lib.sample_params, static_argnums=(1, 3))
blit_matrix = jax.jit(geometric.blit_matrix, static_argnums=1)


def _images(shape, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def _shift_reflect(image, tx, ty):
  """out[y, x] = image[y - ty, x - tx], reflected beyond the borders."""
  s = image.shape[0]
  padded = np.pad(image, ((s, s), (s, s), (0, 0)), mode="reflect")
  return padded[s - ty:2 * s - ty, s - tx:2 * s - tx]


def _rot(theta):
  c, s = np.cos(theta), np.sin(theta)
  return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _diag(sx, sy):
  return np.diag([sx, sy, 1.0])


def _translate(tx, ty):
  return np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1.0]])


def _on(params, op, identity=0.0):
  value = np.asarray(params[op].value, np.float64)
  applied = np.asarray(params[op].applied)
  if value.ndim > applied.ndim:
    applied = applied[:, None]
  return np.where(applied, value, identity)


@pytest.mark.parametrize("size", [16, 12])
def test_blits_reproduce_numpy_flips_turns_and_reflected_shifts(size):
  n = 24
  x = _images((n, size, size, 3))
  spec = specs.resolve_pipe("blit")
  params = draw(jax.random.key(1), n, 0.8, spec)
  b_inv = blit_matrix(params, size)
  got = np.asarray(jax.jit(geometric.apply_blit)(x, b_inv))
  flip = _on(params, "xflip")
  turns = _on(params, "rotate90").astype(int)
  shift = np.round(_on(params, "xint") * size).astype(int)
  assert flip.any() and (turns > 0).any() and np.abs(shift).max() > 0
  for i in range(n):
    ref = x[i, :, ::-1] if flip[i] else x[i]
    ref = np.rot90(ref, turns[i], axes=(0, 1))  # Counter-clockwise.
    ref = _shift_reflect(ref, shift[i, 0], shift[i, 1])
    np.testing.assert_array_equal(got[i], ref)


def test_blit_matrix_composes_flip_turns_then_shift():
  n = 32
  params = draw(jax.random.key(2), n, 0.9, specs.resolve_pipe("blit"))
  got = np.asarray(blit_matrix(params, 16))
  for i in range(n):
    f = _diag(1 - 2 * _on(params, "xflip")[i], 1)
    r = _rot(np.pi / 2 * _on(params, "rotate90")[i])
    t = -np.round(_on(params, "xint")[i] * 16)
    ref = f @ r @ _translate(*t)
    np.testing.assert_allclose(got[i], ref, atol=1e-6)
    np.testing.assert_array_equal(got[i], np.round(got[i]))  # Integers.


def test_general_matrix_composes_in_the_documented_order():
  n, h, w = 32, 16, 16
  spec = specs.AugmentSpec(scale=1, rotate=1, aniso=1, xfrac=1, shear=1,
                           zoom=1, shear_range=30)  # Visible shear.
  params = draw(jax.random.key(3), n, 0.7, spec)
  got = np.asarray(jax.jit(geometric.general_matrix, static_argnums=(1, 2))(
      params, h, w))
  a = _on(params, "shear")
  z = _on(params, "zoom", 1.0)
  s = _on(params, "scale", 1.0)
  theta = _on(params, "rotate")
  an = _on(params, "aniso", 1.0)
  t = _on(params, "xfrac")
  for i in range(n):
    shear = np.array([[1, -np.sin(a[i]), 0], [0, np.cos(a[i]), 0],
                      [0, 0, 1]])
    ref = (shear @ _diag(*z[i]) @ _diag(1 / s[i], 1 / s[i])
           @ _rot(theta[i, 0]) @ _diag(1 / an[i], an[i]) @ _rot(theta[i, 1])
           @ _translate(-t[i, 0] * w, -t[i, 1] * h))
    np.testing.assert_allclose(got[i], ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size,channels", [(16, 3), (12, 1)])
def test_resampling_the_identity_returns_the_input(size, channels):
  x = _images((4, size, size, channels), seed=size)
  g_inv = jnp.broadcast_to(jnp.eye(3), (4, 3, 3))
  np.testing.assert_allclose(resample(x, g_inv), x, atol=ROUND_OFF)


def test_resampling_whole_pixel_translations_reflects_at_the_borders():
  x = _images((4, 16, 16, 3), seed=5)
  shifts = [(3, -2), (-5, 0), (0, 7), (-1, -1)]
  g_inv = np.stack([_translate(-tx, -ty) for tx, ty in shifts])
  got = resample(x, jnp.asarray(g_inv, jnp.float32))
  for i, (tx, ty) in enumerate(shifts):
    np.testing.assert_allclose(got[i], _shift_reflect(x[i], tx, ty),
                               atol=ROUND_OFF)


def test_scale_and_rotation_match_analytic_resampling():
  # f(x, y) = sin(a x + 0.3) cos(b y + 0.2), x, y in pixels from the centre,
  # periods of 32 and 64 pixels: smooth against the 2x sampling grid.
  size, a, b = 32, 2 * np.pi / 32, 2 * np.pi / 64

  def f(x, y):
    return np.sin(a * x + 0.3) * np.cos(b * y + 0.2)

  coord = np.arange(size) - (size - 1) / 2
  xx, yy = np.meshgrid(coord, coord)
  image = f(xx, yy)[None, :, :, None].astype(np.float32)
  cases = {  # name -> g_inv (output -> input)
      "zoom in 1.25": _diag(1 / 1.25, 1 / 1.25),
      "zoom out 0.8": _diag(1 / 0.8, 1 / 0.8),
      "rotate 30": _rot(np.pi / 6),
      "rotate 90": _rot(np.pi / 2),
      "rotate 180": _rot(np.pi),
      "aniso 1.3 + rotate -50": _diag(1 / 1.3, 1.3) @ _rot(-0.87),
  }
  g_inv = np.stack(list(cases.values()))
  got = np.asarray(resample(np.repeat(image, len(cases), 0),
                            jnp.asarray(g_inv, jnp.float32)))[..., 0]
  # Bilinear interpolation on the half-pixel grid errs by at most
  # (h^2 / 8) (|f_xx| + |f_yy|) = (0.25 / 8) (a^2 + b^2) = 1.5e-3; allow
  # twice that for the wavelet filters' pass-band ripple. Measured: 1.0e-3
  # to 1.8e-3. (With the official grid alignment, 0.2 px off: 8e-3 for
  # the zoom, 0.079 for the half turn.)
  tol = 2 * 0.25 / 8 * (a * a + b * b)
  for i, name in enumerate(cases):
    x_in = g_inv[i, 0, 0] * xx + g_inv[i, 0, 1] * yy
    y_in = g_inv[i, 1, 0] * xx + g_inv[i, 1, 1] * yy
    # Compare where the input position lies inside the image (away from
    # the reflected border, where the extension has a kink).
    inside = (np.abs(x_in) < 0.4 * size) & (np.abs(y_in) < 0.4 * size)
    err = np.abs(got[i] - f(x_in, y_in))[inside]
    assert inside.sum() > 100
    assert err.max() < tol, (name, err.max(), tol)


def test_wavelet_resampling_steps_match_upfirdn2d():
  # The resampler's separable shifted-slice filters against the package's
  # general upfirdn2d with the 2-D Symlet-6 filter: zero-stuff and filter
  # (gain 4) up; correlate (flipped filter) and keep every second pixel down.
  f = filters.setup_filter(geometric.SYM6)
  x = _images((2, 9, 10, 3), seed=6)
  y = _images((2, 2 * 8 + 12, 2 * 7 + 12, 3), seed=7)

  @jax.jit
  def both(x, y):
    up = filters.upfirdn2d(x, f, up=2, pad=(6, 5, 6, 5), gain=4)
    down = filters.upfirdn2d(y, f[::-1, ::-1], down=2, pad=(-1, -1, -1, -1))
    return up, geometric._upsample(x), down, geometric._downsample(y)

  up, our_up, down, our_down = both(x, y)
  np.testing.assert_allclose(our_up, up, atol=1e-6)
  np.testing.assert_allclose(our_down, down, atol=1e-6)


@pytest.mark.parametrize("stride", [1, 2])
def test_hand_written_fir_backward_matches_autodiff(stride):
  # The resampler's FIR has its own backward pass (pad once, correlate with
  # the reversed taps); autodiff of the plain shifted slices is the
  # reference, for the gradient and for the gradient of a gradient (R1).
  x = _images((2, 5, 30, 3), seed=8)
  taps = tuple(np.random.default_rng(9).normal(size=7))
  count = 10 if stride == 2 else 22
  fast = lambda x: geometric._fir(x, taps, 2, 1, count, stride)
  plain = lambda x: geometric._fir_slices(x, taps, 2, 1, count, stride)
  w = _images(fast(x).shape, seed=10)

  def grad_norm(f):
    return jax.grad(lambda x: jnp.sum(
        jax.grad(lambda x: jnp.sum(w * f(x) ** 2))(x) ** 2))

  @jax.jit
  def both(x):
    return ([jax.vjp(f, x)[1](w)[0] for f in (fast, plain)],
            [grad_norm(f)(x) for f in (fast, plain)])

  (vjp_fast, vjp_plain), (gg_fast, gg_plain) = both(x)
  np.testing.assert_allclose(vjp_fast, vjp_plain, atol=1e-5)
  np.testing.assert_allclose(gg_fast, gg_plain, rtol=1e-4, atol=1e-3)
