"""Geometric augmentation: 3x3 matrices per sample, applied without leaks.

Coordinates are in pixels, centred on the image (pixel i of a W-wide row sits
at x = i - (W - 1) / 2, y points down). An inverse matrix maps an output
pixel's homogeneous coordinates to the input position it reads. The
full inverse transform of a sample is `b_inv @ g_inv`, run in two steps:

- Pixel blitting (`blit_matrix`: x-flip, quarter turns, integer
  translation) has integer entries and is executed exactly, by copying
  pixels with reflection beyond the borders (`apply_blit`).
- The rest (`general_matrix`) is resampled (`apply_resample`): the image is
  reflection-padded by W - 1 and H - 1 pixels (the widest margin a
  reflection gives), up-sampled 2x with the Symlet-6 wavelet low-pass
  filter, sampled bilinearly at the transformed positions of a 2x output
  grid (zeros beyond the padding), and down-sampled back with the same
  filter reversed. The filter is orthonormal, so the identity returns the
  input up to float32 round-off, and the low-pass steps keep the resampling
  from aliasing (the ADA paper's appendix B).

Two deliberate departures from the official code, which resamples the blits
too and aligns the up-sampled grid at the middle of the filter's 12 taps:
Symlet-6 is not symmetric, so resampling cannot flip or rotate pixels
exactly, and its response is centred at tap 5.10, not 5.5, which shifts
every non-translation transform by up to 0.4 px there. Here the blits are
exact and the grid is aligned at the filter's centroid.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_jax.augment import params as params_lib

# Symlet-6 decomposition low-pass taps: the least-asymmetric choice of roots
# in the spectral factorisation of the Daubechies order-6 product filter
# (derived here; equal to the published tables to 2e-12).
SYM6 = np.array([
    0.015404109327044765, 0.003490712084222084, -0.11799011114851969,
    -0.04831174258569726, 0.49105594192797397, 0.7876411410286499,
    0.33792942172816537, -0.07263752278637611, -0.0210602925123706,
    0.04472490177078129, 0.001767711864253981, -0.0078007083250323725,
])
# Output margin (in up-sampled pixels) that the down-sampling filter eats.
_MARGIN = len(SYM6) // 2


def _matrix(rows, n: int) -> jax.Array:
  """Nested rows of scalars or [N] arrays -> [N, R, C] float32."""
  return jnp.stack([
      jnp.stack([jnp.broadcast_to(jnp.asarray(e, jnp.float32), (n,))
                 for e in row], axis=-1)
      for row in rows
  ], axis=-2)


def matmul(a: jax.Array, b: jax.Array) -> jax.Array:
  """Batched [N, I, J] @ [N, J, K] in exact float32 (no TF32 dot)."""
  return jnp.sum(a[:, :, :, None] * b[:, None, :, :], axis=2)


def translate2d(tx, ty, n: int) -> jax.Array:
  return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], n)


def scale2d(sx, sy, n: int) -> jax.Array:
  return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], n)


def rotate2d(theta, n: int) -> jax.Array:
  c, s = jnp.cos(theta), jnp.sin(theta)
  return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], n)


def _quarter_turns(i: jax.Array, n: int) -> jax.Array:
  # Exact 0 / +-1 entries (cos(pi / 2) is not 0 in float32).
  cos = jnp.asarray([1.0, 0.0, -1.0, 0.0])[i]
  sin = jnp.asarray([0.0, 1.0, 0.0, -1.0])[i]
  return _matrix([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]], n)


def blit_matrix(params: params_lib.Params, size: int) -> jax.Array:
  """Composes the pixel-blitting operations' inverse matrices per sample.

  `b_inv = xflip @ rotate90 @ xint` (identity factors where an operation
  does not run): entries are exact integers, so `apply_blit` executes it by
  copying pixels.

  Args:
    params: from `params.sample_params`; other entries are ignored.
    size: H = W of the images.

  Returns:
    b_inv [N, 3, 3]: output pixel (x, y, 1) -> input pixel (x', y', 1).
  """
  n = params_lib.num_samples(params)
  on = functools.partial(params_lib.effective, params)
  b_inv = jnp.broadcast_to(jnp.eye(3), (n, 3, 3))
  if "xflip" in params:
    b_inv = matmul(b_inv, scale2d(1 - 2 * on("xflip"), 1, n))
  if "rotate90" in params:
    i = on("rotate90", 0).astype(jnp.int32)
    b_inv = matmul(b_inv, _quarter_turns(i, n))
  if "xint" in params:
    t = jnp.round(on("xint") * size)  # [N, 2] whole pixels
    b_inv = matmul(b_inv, translate2d(-t[:, 0], -t[:, 1], n))
  return b_inv


def general_matrix(params: params_lib.Params, height: int, width: int
                   ) -> jax.Array:
  """Composes the other geometric operations' inverse matrices per sample.

  `g_inv = shear @ zoom @ scale @ rotate_pre @ aniso @ rotate_post @ xfrac`
  (identity factors where an operation does not run). It acts after the
  blit (the full inverse transform is `b_inv @ g_inv`). Keras shears and
  zooms before flipping, we after; with the angle's distribution symmetric
  about 0 the two are the same in distribution.

  Args:
    params: from `params.sample_params`; other entries are ignored.
    height: H of the images.
    width: W of the images.

  Returns:
    g_inv [N, 3, 3]: output pixel (x, y, 1) -> input position (x', y', 1).
  """
  n = params_lib.num_samples(params)
  on = functools.partial(params_lib.effective, params)
  factors = []
  if "shear" in params:  # Keras: x' = x - sin(a) y, y' = cos(a) y.
    a = on("shear")
    factors.append(_matrix([[1, -jnp.sin(a), 0], [0, jnp.cos(a), 0],
                            [0, 0, 1]], n))
  if "zoom" in params:
    z = on("zoom", 1.0)  # [N, 2]
    factors.append(scale2d(z[:, 0], z[:, 1], n))
  if "scale" in params:
    s = on("scale", 1.0)
    factors.append(scale2d(1 / s, 1 / s, n))
  if "rotate" in params:
    theta = on("rotate")  # [N, 2] (pre, post)
    factors.append(rotate2d(theta[:, 0], n))
  if "aniso" in params:
    s = on("aniso", 1.0)
    factors.append(scale2d(1 / s, s, n))
  if "rotate" in params:
    factors.append(rotate2d(theta[:, 1], n))
  if "xfrac" in params:
    t = on("xfrac")  # [N, 2]
    factors.append(translate2d(-t[:, 0] * width, -t[:, 1] * height, n))
  g_inv = jnp.broadcast_to(jnp.eye(3), (n, 3, 3))
  for factor in factors:
    g_inv = matmul(g_inv, factor)
  return g_inv


def _reflect(index: jax.Array, size: int) -> jax.Array:
  """Folds integer indices into [0, size) by mirroring about the end pixels."""
  period = 2 * (size - 1)
  index = jnp.mod(index, period)
  return jnp.where(index >= size, period - index, index)


def apply_blit(images: jax.Array, b_inv: jax.Array) -> jax.Array:
  """Copies pixels through integer matrices, reflecting beyond the borders.

  Args:
    images: [N, S, S, C] (square).
    b_inv: [N, 3, 3] from `blit_matrix`.

  Returns:
    [N, S, S, C]: out[n, y, x] = images[n, reflect(y'), reflect(x')].
  """
  size = images.shape[1]
  c = (size - 1) / 2
  coord = jnp.arange(size, dtype=jnp.float32) - c  # centred pixel coords
  b = b_inv[:, :, :, None, None]  # [N, 3, 3, 1, 1]
  xi = b[:, 0, 0] * coord + b[:, 0, 1] * coord[:, None] + b[:, 0, 2]
  yi = b[:, 1, 0] * coord + b[:, 1, 1] * coord[:, None] + b[:, 1, 2]
  cols = _reflect(jnp.round(xi + c).astype(jnp.int32), size)  # [N, S, S]
  rows = _reflect(jnp.round(yi + c).astype(jnp.int32), size)  # [N, S, S]
  return jax.vmap(lambda im, r, q: im[r, q])(images, rows, cols)


def _taps() -> np.ndarray:
  return SYM6 / SYM6.sum()


# Where the filter's impulse response is centred (its centroid, 5.10 of
# 0..11; the middle of its taps would be 5.5).
_CENTROID = float(np.sum(np.arange(len(SYM6)) * _taps()))


def _fir_slices(x: jax.Array, taps: tuple[float, ...], axis: int, start: int,
                count: int, stride: int) -> jax.Array:
  out = 0
  for t, tap in enumerate(taps):
    first = start + t
    part = jax.lax.slice_in_dim(x, first, first + stride * (count - 1) + 1,
                                stride=stride, axis=axis)
    out = out + tap * part
  return out


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4, 5, 6))
def _fir_vjp(x, taps, axis, start, count, stride, size):
  del size  # x.shape[axis], for the backward pass
  return _fir_slices(x, taps, axis, start, count, stride)


def _fir_fwd(x, taps, axis, start, count, stride, size):
  return _fir_vjp(x, taps, axis, start, count, stride, size), None


def _fir_bwd(taps, axis, start, count, stride, size, _, ct):
  # x_bar[j] = sum_t taps[t] ct_stuffed[j - start - t]: zero-stuff, pad once,
  # and correlate with the reversed taps (itself differentiable, for R1).
  if stride > 1:
    shape = list(ct.shape)
    shape[axis] *= stride
    zeros = [jnp.zeros_like(ct)] * (stride - 1)
    ct = jnp.stack([ct] + zeros, axis=axis + 1).reshape(shape)
    ct = jax.lax.slice_in_dim(ct, 0, stride * (count - 1) + 1, axis=axis)
  k, m = len(taps), ct.shape[axis]
  pads = [(0, 0, 0)] * ct.ndim
  pads[axis] = (k - 1 + start, size - start - m, 0)
  ct = jax.lax.pad(ct, jnp.zeros((), ct.dtype), pads)
  return (_fir(ct, taps[::-1], axis, 0, size),)


_fir_vjp.defvjp(_fir_fwd, _fir_bwd)


def _fir(x: jax.Array, taps, axis: int, start: int, count: int,
         stride: int = 1) -> jax.Array:
  """out[i] = sum_t taps[t] x[start + t + stride i], i < count, along `axis`.

  Shifted slices rather than a grouped convolution, which XLA's CPU backend
  runs ~25x slower on few-channel images; with a hand-written backward pass
  (pad once, correlate with the reversed taps), as autodiff's one padded
  copy per tap is ~10x slower. Reverse mode only: `jax.jvp` and `jacfwd`
  through it raise.
  """
  taps = tuple(float(t) for t in taps)
  return _fir_vjp(x, taps, axis, start, count, stride, x.shape[axis])


def _upsample_axis(x: jax.Array, axis: int) -> jax.Array:
  """Size L -> 2L along `axis`: zero-stuff, then filter with 2 * taps.

  Polyphase: U[2m] = sum_e g[5 - 2e] P[m + e], U[2m + 1] = sum_e g[6 - 2e]
  P[m + e] (g = 2 taps, zeros beyond P), interleaved.
  """
  g = 2 * _taps()
  size = x.shape[axis]
  pad = [(0, 0)] * x.ndim
  pad[axis] = (3, 3)
  x = jnp.pad(x, pad)  # zeros beyond the (already reflected) image
  even = _fir(x, g[11::-2], axis, 0, size)  # U[2m]
  odd = _fir(x, g[10::-2], axis, 1, size)  # U[2m + 1]
  out = jnp.stack([even, odd], axis=axis + 1)
  shape = list(even.shape)
  shape[axis] = 2 * size
  return out.reshape(shape)


def _upsample(x: jax.Array) -> jax.Array:
  """[N, H, W, C] -> [N, 2H, 2W, C] with the Symlet-6 low-pass filter.

  Up-sampled pixel k lies at (k + 5 - _CENTROID) / 2 in input pixels.
  """
  return _upsample_axis(_upsample_axis(x, 2), 1)


def _downsample(x: jax.Array) -> jax.Array:
  """[N, 2H + 12, 2W + 12, C] -> [N, H, W, C] (drops the margin).

  D[n] = sum_b taps[b] y[2n + 1 + b]: a correlation with the up-sampling
  filter, reading the output grid around 2n + 1 + _CENTROID.
  """
  taps = _taps()
  h, w = x.shape[1] // 2 - _MARGIN, x.shape[2] // 2 - _MARGIN
  x = _fir(x, taps, 2, 1, w, stride=2)  # [N, 2H + 12, W, C]
  return _fir(x, taps, 1, 1, h, stride=2)  # [N, H, W, C]


def _bilinear(image: jax.Array, x0: jax.Array, fx: jax.Array, y0: jax.Array,
              fy: jax.Array) -> jax.Array:
  """Samples one [Hu, Wu, C] image bilinearly; 0 outside.

  Args:
    image: [Hu, Wu, C].
    x0: int32 [Ho, Wo], the column left of each sampling position.
    fx: [Ho, Wo] its fraction in [0, 1) towards x0 + 1.
    y0: int32 [Ho, Wo], the row above.
    fy: [Ho, Wo] its fraction towards y0 + 1.

  Returns:
    [Ho, Wo, C].
  """
  hu, wu, _ = image.shape
  # The four neighbours and their weights, gathered at once: [Ho, Wo, 4].
  xs = x0[..., None] + jnp.array([0, 1, 0, 1])
  ys = y0[..., None] + jnp.array([0, 0, 1, 1])
  wx = jnp.stack([1 - fx, fx, 1 - fx, fx], axis=-1)
  wy = jnp.stack([1 - fy, 1 - fy, fy, fy], axis=-1)
  inside = (xs >= 0) & (xs < wu) & (ys >= 0) & (ys < hu)
  weight = jnp.where(inside, wx * wy, 0)  # [Ho, Wo, 4]
  taps = image[jnp.clip(ys, 0, hu - 1), jnp.clip(xs, 0, wu - 1)]  # [.., 4, C]
  return jnp.sum(weight[..., None] * taps, axis=-2)  # [Ho, Wo, C]


def apply_resample(images: jax.Array, g_inv: jax.Array) -> jax.Array:
  """Resamples every image through its matrix, without border leaks.

  Args:
    images: [N, H, W, C] float.
    g_inv: [N, 3, 3] from `general_matrix` (output -> input pixels).

  Returns:
    [N, H, W, C], same dtype as `images`.
  """
  _, h, w, _ = images.shape
  my, mx = h - 1, w - 1
  x = jnp.pad(images, ((0, 0), (my, my), (mx, mx), (0, 0)),
              mode="reflect")  # [N, H + 2my, W + 2mx, C]
  x = _upsample(x)  # [N, 2(H + 2my), 2(W + 2mx), C]
  # The 2x output grid, with the down-sampling filter's margin on each side.
  # Output pixel k reads input pixel (k - 1 - _CENTROID) / 2 (`_downsample`),
  # which is up-sampled pixel k + 2m - 6 (`_upsample`, after the padding m).
  ho, wo = 2 * h + 2 * _MARGIN, 2 * w + 2 * _MARGIN
  kx, ky = jnp.arange(wo), jnp.arange(ho)
  xo = (kx - 1 - _CENTROID) / 2 - (w - 1) / 2  # [Wo] centred input pixels
  yo = (ky - 1 - _CENTROID) / 2 - (h - 1) / 2  # [Ho]
  # Only the displacement g_inv @ p - p goes through float arithmetic, so
  # the identity and whole-pixel translations sample exact pixel centres.
  g = g_inv[:, :, :, None, None] - jnp.eye(3)[:, :, None, None]
  dx = g[:, 0, 0] * xo + g[:, 0, 1] * yo[:, None] + g[:, 0, 2]  # [N, Ho, Wo]
  dy = g[:, 1, 0] * xo + g[:, 1, 1] * yo[:, None] + g[:, 1, 2]  # [N, Ho, Wo]
  fx, fy = jnp.floor(2 * dx), jnp.floor(2 * dy)
  x0 = (kx + 2 * mx - 6) + fx.astype(jnp.int32)  # [N, Ho, Wo]
  y0 = (ky[:, None] + 2 * my - 6) + fy.astype(jnp.int32)  # [N, Ho, Wo]
  x = jax.vmap(_bilinear)(x, x0, 2 * dx - fx, y0, 2 * dy - fy)  # [N, Ho, ..]
  return _downsample(x).astype(images.dtype)
