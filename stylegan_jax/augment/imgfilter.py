"""Image-space filtering: per-sample gains on four frequency bands.

The bands come from a three-level dyadic split with the Symlet-2 (= Daubechies
-2) wavelet h: with the half-band pair L(z) = H(z) H(1/z) / 2 and
B(z) = H(-z) H(-1/z) / 2 (L + B = 1, as h is orthonormal), the bands, low to
high, are L(z) L(z^2) L(z^4), L(z) L(z^2) B(z^4), L(z) B(z^2) and B(z):
symmetric 43-tap filters summing to a unit impulse. A sample's gains
`g` [4] weight them into one filter, applied along x and along y with
reflection padding. Each band's random amplification is normalised so the
expected power of a 1/f image, `[10, 1, 1, 1] / 13` per band, is kept.
"""

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_jax.augment import params as params_lib

_S3 = np.sqrt(3)
# Symlet-2 low-pass taps, closed form (1 -+ sqrt 3, 3 -+ sqrt 3) / (4 sqrt 2).
SYM2 = np.array([1 - _S3, 3 - _S3, 3 + _S3, 1 + _S3]) / (4 * np.sqrt(2))
# Expected power of each band for natural (1/f) images.
EXPECTED_POWER = np.array([10.0, 1.0, 1.0, 1.0]) / 13


def _dilate(f: np.ndarray, factor: int) -> np.ndarray:
  """Taps of F(z^factor): factor - 1 zeros between taps."""
  out = np.zeros((len(f) - 1) * factor + 1)
  out[::factor] = f
  return out


def filter_bank() -> np.ndarray:
  """The four band filters, low to high, float64 [4, 43]."""
  lo = np.convolve(SYM2, SYM2[::-1]) / 2  # L(z), 7 taps
  hi_h = SYM2 * (-1.0) ** np.arange(len(SYM2))  # H(-z)
  hi = np.convolve(hi_h, hi_h[::-1]) / 2  # B(z), 7 taps
  l1, l2, l4 = lo, _dilate(lo, 2), _dilate(lo, 4)
  bands = [
      np.convolve(np.convolve(l1, l2), l4),
      np.convolve(np.convolve(l1, l2), _dilate(hi, 4)),
      np.convolve(l1, _dilate(hi, 2)),
      hi,
  ]
  size = max(len(b) for b in bands)
  return np.stack([np.pad(b, (size - len(b)) // 2) for b in bands])


def band_gains(params: params_lib.Params) -> jax.Array:
  """Per-sample band gains [N, 4], power-normalised.

  Band i amplified by t_i alone has the gains t / sqrt(sum_j e_j t_j^2)
  (t = 1 except at i, e = EXPECTED_POWER); the gains of all bands multiply,
  which comes to g_j = t_j / prod_i sqrt(1 + e_i (t_i^2 - 1)).
  """
  t = params_lib.effective(params, "imgfilter", 1.0)  # [N, 4]
  norm = jnp.prod(jnp.sqrt(1 + EXPECTED_POWER * (t * t - 1)), axis=1)
  return t / norm[:, None]


def filter_taps(params: params_lib.Params) -> jax.Array:
  """Per-sample 1-D filters [N, 43]: the gain-weighted sum of the bands."""
  g = band_gains(params)  # [N, 4]
  bank = jnp.asarray(filter_bank(), jnp.float32)  # [4, 43]
  return jnp.sum(g[:, :, None] * bank, axis=1)  # [N, 43]


def _filter_one(image: jax.Array, taps: jax.Array) -> jax.Array:
  """One image [H, W, C] through a symmetric 1-D filter [K] along x and y."""
  k, c = taps.shape[0], image.shape[-1]
  # Reflection repeats for images smaller than the filter.
  x = jnp.pad(image, ((k // 2, k // 2), (k // 2, k // 2), (0, 0)),
              mode="reflect")[None]  # [1, H + K - 1, W + K - 1, C]
  for kernel in (taps.reshape(1, k, 1, 1), taps.reshape(k, 1, 1, 1)):
    x = jax.lax.conv_general_dilated(
        x, jnp.tile(kernel, (1, 1, 1, c)), window_strides=(1, 1),
        padding="VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=c, precision=jax.lax.Precision.HIGHEST)
  return x[0]  # [H, W, C]


def apply_filter(images: jax.Array, taps: jax.Array) -> jax.Array:
  """Filters every image with its sample's taps along x, then y.

  Args:
    images: [N, H, W, C].
    taps: [N, K] symmetric 1-D filters (K odd), from `filter_taps`.

  Returns:
    [N, H, W, C], same dtype as `images`.
  """
  x = jax.vmap(_filter_one)(images.astype(jnp.float32), taps)  # [N, H, W, C]
  return x.astype(images.dtype)
