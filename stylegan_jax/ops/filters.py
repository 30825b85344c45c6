"""FIR filtering with up/down-sampling (`upfirdn2d`) and the resamplers built on it.

Everything here is NHWC and pure JAX (no custom kernels). The semantics follow
the StyleGAN2 papers' `upfirdn2d`: zero-stuff by `up`, pad (negative pads
crop), convolve every channel with the same 2-D FIR filter (a true convolution,
i.e. the filter is flipped), then keep every `down`-th pixel starting at 0.

Separable filters (every `setup_filter` result) run as two 1-D passes, each a
weighted sum of strided slices of the padded input: elementwise work that
XLA fuses into a loop, where a per-channel (depthwise) convolution is slow
on CPUs (it was over half of a training step's time there). Other filters
use the depthwise convolution.
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

Padding = tuple[int, int, int, int]  # (x0, x1, y0, y1), like the papers' code.


def setup_filter(taps: Sequence[float] = (1, 3, 3, 1)) -> np.ndarray:
  """Separable 2-D FIR filter from 1-D taps, normalised to sum 1.

  Args:
    taps: 1-D filter taps, e.g. the binomial `[1, 3, 3, 1]`.

  Returns:
    float32 array [len(taps), len(taps)].
  """
  f = np.asarray(taps, dtype=np.float64)
  if f.ndim != 1 or f.size == 0:
    raise ValueError(f"resample filter must be a 1-D list of taps, got {taps}")
  f = np.outer(f, f)
  return (f / f.sum()).astype(np.float32)


def _as_padding(pad: int | Sequence[int]) -> Padding:
  if isinstance(pad, int):
    return (pad, pad, pad, pad)
  if len(pad) == 2:
    return (pad[0], pad[1], pad[0], pad[1])
  x0, x1, y0, y1 = pad
  return (x0, x1, y0, y1)


def separable_taps(f: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
  """1-D taps (fy, fx) with outer(fy, fx) == f, or None if f is not rank 1.

  Args:
    f: 2-D filter [fh, fw].

  Returns:
    (fy [fh], fx [fw]) as float64, or None.
  """
  f = np.asarray(f, np.float64)
  total = f.sum()
  if f.ndim != 2 or total == 0:
    return None
  fy, fx = f.sum(axis=1), f.sum(axis=0) / total
  if not np.allclose(np.outer(fy, fx), f, rtol=1e-6,
                     atol=1e-7 * np.abs(f).max()):
    return None
  return fy, fx


def _upfirdn1d(x: jax.Array, taps: np.ndarray, axis: int, up: int,
               down: int, pad0: int, pad1: int) -> jax.Array:
  """`upfirdn2d` along one axis of `x` with 1-D `taps` (gain included)."""
  config = [(0, 0, 0)] * x.ndim
  config[axis] = (pad0, pad1 + up - 1, up - 1)
  x = jax.lax.pad(x, jnp.zeros((), x.dtype), config)  # Stuffed and padded.
  length = (x.shape[axis] - len(taps)) // down + 1
  y = None
  for t, tap in enumerate(taps[::-1]):  # Flipped: a true convolution.
    if tap == 0:
      continue
    term = jax.lax.slice_in_dim(x, t, t + (length - 1) * down + 1,
                                stride=down, axis=axis) * float(tap)
    y = term if y is None else y + term
  if y is None:
    shape = list(x.shape)
    shape[axis] = length
    return jnp.zeros(shape, x.dtype)
  return y


def upfirdn2d(
    x: jax.Array,
    f: np.ndarray,
    up: int = 1,
    down: int = 1,
    pad: int | Sequence[int] = 0,
    gain: float = 1.0,
) -> jax.Array:
  """Upsample, pad, FIR-filter and downsample every channel of `x`.

  Args:
    x: images [N, H, W, C].
    f: 2-D filter [fh, fw] (see `setup_filter`); applied as a true convolution.
    up: integer upsampling factor (zero-stuffing).
    down: integer downsampling factor (keep every `down`-th pixel).
    pad: padding (x0, x1, y0, y1) after upsampling; an int pads all sides.
      Negative values crop.
    gain: overall gain; the filter is scaled by it.

  Returns:
    [N, H', W', C] with H' = (H * up + y0 + y1 - fh) // down + 1.
  """
  x0, x1, y0, y1 = _as_padding(pad)
  taps = separable_taps(f)
  if taps is not None:
    fy, fx = taps
    x = _upfirdn1d(x, fy * gain, 1, up, down, y0, y1)  # [N, H', W, C]
    return _upfirdn1d(x, fx, 2, up, down, x0, x1)  # [N, H', W', C]
  c = x.shape[-1]
  # Interior padding zero-stuffs; the extra (up - 1) at the end matches
  # stuffing every pixel (including the last) with up - 1 trailing zeros.
  x = jax.lax.pad(
      x,
      jnp.zeros((), x.dtype),
      (
          (0, 0, 0),
          (y0, y1 + up - 1, up - 1),
          (x0, x1 + up - 1, up - 1),
          (0, 0, 0),
      ),
  )  # [N, H*up + y0 + y1, W*up + x0 + x1, C]
  # True convolution = cross-correlation with the flipped filter.
  kernel = jnp.asarray(f[::-1, ::-1] * gain, dtype=x.dtype)
  kernel = jnp.tile(kernel[:, :, None, None], (1, 1, 1, c))  # [fh, fw, 1, C]
  return jax.lax.conv_general_dilated(
      x,
      kernel,
      window_strides=(down, down),
      padding="VALID",
      dimension_numbers=("NHWC", "HWIO", "NHWC"),
      feature_group_count=c,
  )


def filter2d(
    x: jax.Array, f: np.ndarray, pad: int | Sequence[int], gain: float = 1.0
) -> jax.Array:
  """FIR filter without resampling; `pad` as in `upfirdn2d`."""
  return upfirdn2d(x, f, pad=pad, gain=gain)


def upsample2d(x: jax.Array, f: np.ndarray, up: int = 2) -> jax.Array:
  """Upsample [N, H, W, C] -> [N, H*up, W*up, C] with filter `f` (gain up^2)."""
  fw = f.shape[0]
  p0, p1 = (fw + up - 1) // 2, (fw - up) // 2
  return upfirdn2d(x, f, up=up, pad=(p0, p1, p0, p1), gain=up * up)


def downsample2d(x: jax.Array, f: np.ndarray, down: int = 2) -> jax.Array:
  """Downsample [N, H, W, C] -> [N, H/down, W/down, C] with filter `f`."""
  fw = f.shape[0]
  p0, p1 = (fw - down + 1) // 2, (fw - down) // 2
  return upfirdn2d(x, f, down=down, pad=(p0, p1, p0, p1))


def box_downsample(x, factor: int = 2):
  """[N, H, W, C] -> [N, H/f, W/f, C]: the mean of each f x f block.

  ProGAN's `downscale2d` (how its datasets' lower levels of detail and its
  discriminator's down-sampled input are made). Works on NumPy and JAX
  arrays alike.
  """
  if factor == 1:
    return x
  n, h, w, c = x.shape
  if h % factor or w % factor:
    raise ValueError(f"box_downsample: {h}x{w} is not divisible by {factor}")
  x = x.reshape(n, h // factor, factor, w // factor, factor, c)
  return x.mean(axis=(2, 4))  # [N, H/f, W/f, C]


def nearest_upsample(x, factor: int = 2):
  """[N, H, W, C] -> [N, H*f, W*f, C]: every pixel repeated f x f times.

  ProGAN's `upscale2d`; exact (copies values). NumPy or JAX arrays.
  """
  if factor == 1:
    return x
  return x.repeat(factor, axis=1).repeat(factor, axis=2)  # [N, fH, fW, C]
