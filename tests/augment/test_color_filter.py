"""Colour matrices, grey images, the filter bank, noise and cutout.

References: colour operations applied one by one to pixel colours in NumPy
(hue through SciPy's rotation about the grey axis), the filter through
`scipy.ndimage.correlate1d(mode='mirror')`, band gains through their
sequential definition, hand-worked cutout masks.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial.transform import Rotation

from stylegan_jax.augment import color
from stylegan_jax.augment import corruptions
from stylegan_jax.augment import imgfilter
from stylegan_jax.augment import params as params_lib
from stylegan_jax.augment import specs

N = 16
COLOR = specs.resolve_pipe("color")
FILTER = specs.resolve_pipe("filter")
draw = jax.jit(params_lib.sample_params, static_argnums=(1, 3, 4))
color_matrix = jax.jit(color.color_matrix)
apply_color = jax.jit(color.apply_color)
filter_taps = jax.jit(imgfilter.filter_taps)
apply_filter = jax.jit(imgfilter.apply_filter)


def _images(shape, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def _on(params, op, identity=0.0):
  return np.where(np.asarray(params[op].applied),
                  np.asarray(params[op].value, np.float64), identity)


def test_color_matrix_applies_the_operations_in_order():
  params = draw(jax.random.key(0), N, 0.8, COLOR, 3)
  x = _images((N, 4, 4, 3))
  got = apply_color(x, color_matrix(params))
  v = np.ones(3) / np.sqrt(3)
  b, c = _on(params, "brightness"), _on(params, "contrast", 1.0)
  flip, hue = _on(params, "lumaflip"), _on(params, "hue")
  sat = _on(params, "saturation", 1.0)
  for i in range(N):
    y = x[i].astype(np.float64) + b[i]
    y = y * c[i]
    if flip[i]:
      y = y - 2 * (y @ v)[..., None] * v
    y = y @ Rotation.from_rotvec(v * hue[i]).as_matrix().T
    luma = (y @ v)[..., None] * v
    y = luma + (y - luma) * sat[i]
    np.testing.assert_allclose(got[i], y, rtol=1e-5, atol=1e-5)


def test_grey_images_get_the_channel_mean_of_the_rgb_result():
  params = draw(jax.random.key(1), N, 0.8, COLOR, 3)
  c = color_matrix(params)
  grey = _images((N, 4, 4, 1), seed=1)
  got = apply_color(grey, c)
  rgb = apply_color(np.repeat(grey, 3, axis=-1), c)
  np.testing.assert_allclose(got, rgb.mean(-1, keepdims=True), atol=1e-5)
  # Hue and saturation leave grey alone, so skipping them changes nothing.
  without = {k: v for k, v in params.items() if k not in specs.RGB_ONLY_OPS}
  np.testing.assert_allclose(
      apply_color(grey, color_matrix(without)), got, atol=1e-5)
  # A luma flip alone negates grey.
  flip = {"lumaflip": params_lib.Sampled(jnp.ones(N), jnp.ones(N, bool))}
  np.testing.assert_allclose(
      apply_color(grey, color_matrix(flip)), -grey, atol=1e-6)


def test_filter_bank_splits_a_unit_impulse_into_four_bands():
  bank = imgfilter.filter_bank()
  assert bank.shape == (4, 43)
  impulse = np.zeros(43)
  impulse[21] = 1
  np.testing.assert_allclose(bank.sum(0), impulse, atol=1e-12)
  np.testing.assert_allclose(bank, bank[:, ::-1], atol=1e-15)  # Symmetric.
  # Frequency responses at DC and Nyquist: only the lowest band passes DC,
  # only the highest passes Nyquist.
  alternating = (-1.0) ** np.arange(43)
  np.testing.assert_allclose(bank.sum(1), [1, 0, 0, 0], atol=1e-12)
  np.testing.assert_allclose(np.abs(bank @ alternating), [0, 0, 0, 1],
                             atol=1e-12)


def test_band_gains_follow_the_sequential_definition():
  params = draw(jax.random.key(2), N, 0.9, FILTER, 3)
  got = np.asarray(jax.jit(imgfilter.band_gains)(params))
  t = _on(params, "imgfilter", 1.0)  # [N, 4]
  g = np.ones((N, 4))
  for band in range(4):
    ti = np.ones((N, 4))
    ti[:, band] = t[:, band]
    ti /= np.sqrt((imgfilter.EXPECTED_POWER * ti**2).sum(1, keepdims=True))
    g *= ti
  np.testing.assert_allclose(got, g, rtol=1e-5)


@pytest.mark.parametrize("size", [16, 48])  # smaller and larger than 43 taps
def test_filter_matches_scipy_mirror_correlation(size):
  params = draw(jax.random.key(3), 4, 1.0, FILTER, 3)
  taps = np.asarray(filter_taps(params), np.float64)
  x = _images((4, size, size, 3), seed=size)
  got = apply_filter(x, taps.astype(np.float32))
  for i in range(4):
    ref = ndimage.correlate1d(x[i].astype(np.float64), taps[i], axis=1,
                              mode="mirror")
    ref = ndimage.correlate1d(ref, taps[i], axis=0, mode="mirror")
    np.testing.assert_allclose(got[i], ref, atol=2e-5)


def test_unit_gains_leave_the_image_unchanged():
  ones = {"imgfilter": params_lib.Sampled(jnp.ones((4, 4)),
                                          jnp.zeros((4, 4), bool))}
  x = _images((4, 16, 16, 3))
  got = apply_filter(x, filter_taps(ones))
  np.testing.assert_allclose(got, x, atol=1e-6)


def test_noise_has_each_samples_standard_deviation():
  sigma = np.array([0.0, 0.05, 0.1, 0.3], np.float32)
  x = _images((4, 32, 32, 3))
  got = np.asarray(jax.jit(corruptions.apply_noise)(x, sigma,
                                                    jax.random.key(4)))
  np.testing.assert_array_equal(got[0], x[0])
  delta = (got - x).reshape(4, -1)[1:]
  m = delta.shape[1]
  # Mean within 4 standard errors; std within 4 of its standard errors.
  assert np.all(np.abs(delta.mean(1)) < 4 * sigma[1:] / np.sqrt(m))
  assert np.all(np.abs(delta.std(1) / sigma[1:] - 1) < 4 / np.sqrt(2 * m))


def test_cutout_masks_by_hand():
  center = np.array([[0.5, 0.5], [0.0, 1.0], [0.3, 0.7]], np.float32)
  size = np.array([0.5, 0.5, 0.0], np.float32)
  mask = jax.jit(corruptions.cutout_mask, static_argnums=(2, 3))
  got = np.asarray(mask(center, size, 8, 8))[..., 0]
  expected = np.ones((3, 8, 8))
  expected[0, 2:6, 2:6] = 0  # pixel centres (j + 0.5) / 8 in (0.25, 0.75)
  expected[1, 6:, :2] = 0  # x < 0.25, y > 0.75
  np.testing.assert_array_equal(got, expected)
