"""Full-reference image-quality metrics: PSNR, SSIM and MS-SSIM.

This module owns the per-image, weight-free similarity measures used to
compare two batches of images pixel for pixel (projection quality, the
projector's MS-SSIM loss, reconstruction checks). Everything is pure JAX:
jit-able, differentiable and batched over the leading axis, so a
batch-sharded input keeps its sharding.

Conventions: images are NHWC floats in [-1, 1], hence ``data_range=2.0`` by
default; every function returns one value per image, shape [N].

SSIM follows Wang et al. (2004) with the settings scikit-image documents as
matching the paper (``gaussian_weights=True, sigma=1.5,
use_sample_covariance=False``): an 11x11 Gaussian window (sigma 1.5, taps
normalised to sum 1), K1 = 0.01, K2 = 0.03, population (co)variances, each
colour channel scored separately and the channels averaged. Like
scikit-image, the SSIM map is averaged only where the window lies fully
inside the image (a (win_size - 1) // 2 border is dropped), so a 'valid'
convolution gives exactly the values scikit-image keeps.

MS-SSIM follows Wang, Simoncelli and Bovik (2003): contrast-structure terms
at five scales (2x2 average pooling between scales) and the full SSIM at
the coarsest one, combined with the weights (0.0448, 0.2856, 0.3001,
0.2363, 0.1333). See `ms_ssim` for how small images and negative terms are
handled.
"""

from collections.abc import Sequence
import functools

import jax
import jax.numpy as jnp
import numpy as np

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def psnr(a: jax.Array, b: jax.Array, data_range: float = 2.0) -> jax.Array:
  """Peak signal-to-noise ratio per image, in dB.

  Matches ``skimage.metrics.peak_signal_noise_ratio(a_i, b_i,
  data_range=data_range)`` for each image: the mean squared error is taken
  over all pixels and channels of an image. Identical images give +inf.

  Args:
    a: reference images, [N, H, W, C].
    b: images to score, [N, H, W, C].
    data_range: max minus min possible pixel value (2.0 for [-1, 1]).

  Returns:
    PSNR in dB, [N].
  """
  _check_pair(a, b)
  return _psnr(a, b, data_range=float(data_range))


def ssim(
    a: jax.Array,
    b: jax.Array,
    data_range: float = 2.0,
    *,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> jax.Array:
  """Mean structural similarity per image (Wang et al. 2004).

  With the defaults this equals, per image,
  ``skimage.metrics.structural_similarity(a_i, b_i, data_range=data_range,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
  channel_axis=-1)``. (scikit-image ties the window to sigma as
  ``2 * int(3.5 * sigma + 0.5) + 1``; here both are given, and the defaults
  agree.)

  Args:
    a: reference images, [N, H, W, C]; H and W at least ``win_size``.
    b: images to score, [N, H, W, C].
    data_range: max minus min possible pixel value (2.0 for [-1, 1]).
    win_size: odd side of the Gaussian window.
    sigma: standard deviation of the Gaussian window, in pixels.
    k1: luminance stabiliser, C1 = (k1 * data_range)**2.
    k2: contrast stabiliser, C2 = (k2 * data_range)**2.

  Returns:
    SSIM averaged over the valid region and the channels, [N].
  """
  _check_pair(a, b)
  _check_window(a.shape, win_size)
  return _ssim(
      a,
      b,
      data_range=float(data_range),
      win_size=int(win_size),
      sigma=float(sigma),
      k1=float(k1),
      k2=float(k2),
  )


def ms_ssim(
    a: jax.Array,
    b: jax.Array,
    data_range: float = 2.0,
    *,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> jax.Array:
  """Multi-scale structural similarity per image (Wang et al. 2003).

  Scale 1 is the input; each further scale is a 2x2 average pool of the
  previous one (an odd last row or column is dropped). For each channel,
  MS-SSIM = prod_{j<M} cs_j**w_j * ssim_M**w_M, where cs_j is the mean
  contrast-structure term at scale j and ssim_M the mean SSIM (luminance
  times contrast-structure) at the coarsest scale M, both averaged over the
  valid region as in `ssim`. Channels are averaged at the end, as in
  ``tf.image.ssim_multiscale``.

  Small images: a scale is only used while the image there is at least
  ``win_size`` pixels on each side, so with the default 11x11 window all
  five scales need min(H, W) >= 176; smaller images use the largest M that
  fits (e.g. three scales at 64x64, one at 16x16) and the first M weights,
  renormalised to sum to 1. With M = 1 the result equals `ssim` (for
  positive SSIM). Images smaller than the window raise ValueError.

  Negative terms (anti-correlated structure) are clamped to 0 before the
  fractional powers, as in ``tf.image.ssim_multiscale``; the clamp is done
  so that the gradient there is 0 rather than NaN. For a loss use
  ``1 - ms_ssim(a, b)``.

  Args:
    a: reference images, [N, H, W, C]; H and W at least ``win_size``.
    b: images to score, [N, H, W, C].
    data_range: max minus min possible pixel value (2.0 for [-1, 1]).
    weights: per-scale exponents, finest first.
    win_size: odd side of the Gaussian window.
    sigma: standard deviation of the Gaussian window, in pixels.
    k1: luminance stabiliser, C1 = (k1 * data_range)**2.
    k2: contrast stabiliser, C2 = (k2 * data_range)**2.

  Returns:
    MS-SSIM averaged over the channels, [N].
  """
  _check_pair(a, b)
  _check_window(a.shape, win_size)
  return _ms_ssim(
      a,
      b,
      data_range=float(data_range),
      weights=tuple(float(x) for x in weights),
      win_size=int(win_size),
      sigma=float(sigma),
      k1=float(k1),
      k2=float(k2),
  )


# Jitted cores: plain calls compile once per shape instead of dispatching
# op by op; inside a caller's jit they simply inline.
_STATIC = ("data_range", "win_size", "sigma", "k1", "k2")


@functools.partial(jax.jit, static_argnames=("data_range",))
def _psnr(a, b, *, data_range):
  a, b = _as_float(a), _as_float(b)
  mse = jnp.mean(jnp.square(a - b), axis=(1, 2, 3))  # [N]
  return 10.0 * jnp.log10(data_range**2 / mse)


@functools.partial(jax.jit, static_argnames=_STATIC)
def _ssim(a, b, *, data_range, win_size, sigma, k1, k2):
  window = _gaussian_window(win_size, sigma)
  ssim_c, _ = _ssim_terms(
      _as_float(a), _as_float(b), window, data_range, k1, k2
  )  # [N, C]
  return jnp.mean(ssim_c, axis=-1)


@functools.partial(jax.jit, static_argnames=_STATIC + ("weights",))
def _ms_ssim(a, b, *, data_range, weights, win_size, sigma, k1, k2):
  num_scales = ms_ssim_num_scales(a.shape[1:3], win_size, len(weights))
  w = np.asarray(weights[:num_scales], np.float64)
  w = w / w.sum()
  window = _gaussian_window(win_size, sigma)
  a, b = _as_float(a), _as_float(b)
  log_terms = []
  for j in range(num_scales):
    if j > 0:
      a, b = _avg_pool2(a), _avg_pool2(b)
    ssim_c, cs_c = _ssim_terms(a, b, window, data_range, k1, k2)  # [N, C]
    if w[j] == 0:  # term**0 == 1, even for a clamped term (0 * -inf is NaN)
      continue
    term = ssim_c if j == num_scales - 1 else cs_c
    log_terms.append(float(w[j]) * _safe_log(term))
  # Summing logs then exp is prod(relu(term)**w); exp(-inf) gives exact 0.
  per_channel = jnp.exp(sum(log_terms, jnp.zeros_like(ssim_c)))  # [N, C]
  return jnp.mean(per_channel, axis=-1)


def ms_ssim_num_scales(
    spatial_shape: Sequence[int], win_size: int = 11, max_scales: int = 5
) -> int:
  """Number of MS-SSIM scales used for images of a given size.

  Args:
    spatial_shape: (H, W).
    win_size: side of the SSIM window.
    max_scales: number of weights available.

  Returns:
    The largest M <= max_scales such that halving (with floor) M - 1 times
    leaves both sides at least ``win_size``; 0 if the image is too small.
  """
  h, w = spatial_shape
  m = 0
  while m < max_scales and min(h, w) >= win_size:
    m += 1
    h, w = h // 2, w // 2
  return m


def _ssim_terms(
    a: jax.Array,
    b: jax.Array,
    window: np.ndarray,
    data_range: float,
    k1: float,
    k2: float,
) -> tuple[jax.Array, jax.Array]:
  """Mean SSIM and mean contrast-structure per image and channel.

  Args:
    a: [N, H, W, C] float.
    b: [N, H, W, C] float.
    window: 1-D normalised Gaussian taps, [K].
    data_range: pixel value range.
    k1: luminance stabiliser.
    k2: contrast stabiliser.

  Returns:
    (ssim, cs), each averaged over the valid region, [N, C].
  """
  # Centre each image-channel first: the moments are shift-invariant, and
  # E[x^2] - E[x]^2 on centred data loses far less to float32 cancellation.
  a_mean = jnp.mean(a, axis=(1, 2), keepdims=True)  # [N, 1, 1, C]
  b_mean = jnp.mean(b, axis=(1, 2), keepdims=True)  # [N, 1, 1, C]
  x, y = a - a_mean, b - b_mean  # [N, H, W, C]
  stats = jnp.concatenate([x, y, x * x, y * y, x * y], axis=-1)  # [N,H,W,5C]
  stats = _separable_valid_filter(stats, window)  # [N, H-K+1, W-K+1, 5C]
  ux, uy, uxx, uyy, uxy = jnp.split(stats, 5, axis=-1)  # 5 x [N, h, w, C]
  vx = uxx - ux * ux
  vy = uyy - uy * uy
  vxy = uxy - ux * uy
  ux, uy = ux + a_mean, uy + b_mean  # back to the true local means
  c1 = (k1 * data_range) ** 2
  c2 = (k2 * data_range) ** 2
  luminance = (2 * ux * uy + c1) / (ux * ux + uy * uy + c1)  # [N, h, w, C]
  cs = (2 * vxy + c2) / (vx + vy + c2)  # [N, h, w, C]
  return (
      jnp.mean(luminance * cs, axis=(1, 2)),
      jnp.mean(cs, axis=(1, 2)),
  )


def _separable_valid_filter(x: jax.Array, taps: np.ndarray) -> jax.Array:
  """Depthwise 'valid' correlation with the outer product of ``taps``.

  Args:
    x: [N, H, W, C].
    taps: [K] (symmetric).

  Returns:
    [N, H - K + 1, W - K + 1, C].
  """
  c = x.shape[-1]
  k = len(taps)
  taps = jnp.asarray(taps, x.dtype)
  kh = jnp.broadcast_to(taps[:, None, None, None], (k, 1, 1, c))  # [K,1,1,C]
  kw = jnp.broadcast_to(taps[None, :, None, None], (1, k, 1, c))  # [1,K,1,C]
  conv = functools.partial(
      jax.lax.conv_general_dilated,
      window_strides=(1, 1),
      padding="VALID",
      dimension_numbers=("NHWC", "HWIO", "NHWC"),
      feature_group_count=c,
      precision=jax.lax.Precision.HIGHEST,  # no TF32/bf16 passes on GPU
  )
  x = conv(x, kh)  # [N, H-K+1, W, C]
  return conv(x, kw)  # [N, H-K+1, W-K+1, C]


def _gaussian_window(win_size: int, sigma: float) -> np.ndarray:
  """Normalised 1-D Gaussian taps, [win_size], as scipy.ndimage builds."""
  if win_size % 2 != 1:
    raise ValueError(f"win_size must be odd, got {win_size}.")
  r = (win_size - 1) // 2
  t = np.arange(-r, r + 1, dtype=np.float64)
  g = np.exp(-0.5 * (t / sigma) ** 2)
  return g / g.sum()


def _avg_pool2(x: jax.Array) -> jax.Array:
  """2x2 average pool with stride 2, dropping an odd last row/column."""
  n, h, w, c = x.shape
  x = x[:, : h // 2 * 2, : w // 2 * 2]
  x = x.reshape(n, h // 2, 2, w // 2, 2, c)  # [N, H/2, 2, W/2, 2, C]
  return jnp.mean(x, axis=(2, 4))  # [N, H/2, W/2, C]


def _safe_log(x: jax.Array) -> jax.Array:
  """log(max(x, 0)) with a zero (not NaN) gradient where x <= 0."""
  positive = x > 0
  return jnp.where(positive, jnp.log(jnp.where(positive, x, 1.0)), -jnp.inf)


def _as_float(x: jax.Array) -> jax.Array:
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    x = x.astype(jnp.float32)
  return x


def _check_pair(a: jax.Array, b: jax.Array) -> None:
  if a.shape != b.shape:
    raise ValueError(f"Shapes differ: {a.shape} vs {b.shape}.")
  if a.ndim != 4:
    raise ValueError(f"Expected [N, H, W, C] images, got shape {a.shape}.")


def _check_window(shape: Sequence[int], win_size: int) -> None:
  if min(shape[1], shape[2]) < win_size:
    raise ValueError(
        f"Images {shape[1]}x{shape[2]} are smaller than the {win_size}x"
        f"{win_size} SSIM window."
    )
