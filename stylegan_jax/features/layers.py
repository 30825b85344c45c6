"""Plain (non-equalised) conv, pooling and resizing ops of the feature nets.

This module owns the few PyTorch-semantics ops that the frozen feature
networks (Inception-v3, VGG) share: a cross-correlation with explicit
padding and stride, max and average pooling (with PyTorch's
`count_include_pad=False`), adaptive average pooling, and a bilinear resize
equal to `F.interpolate(mode='bilinear', align_corners=False)` without
antialiasing. Everything is NHWC and runs at full float32 precision
(`Precision.HIGHEST`), so accelerators never drop to TF32/bf16 passes: the
features feed metrics that must match published numbers.
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

HIGHEST = jax.lax.Precision.HIGHEST


def conv2d(
    x: jax.Array,
    kernel: jax.Array,
    *,
    stride: int = 1,
    padding: Sequence[int] = (0, 0),
) -> jax.Array:
  """`torch.nn.functional.conv2d` in NHWC (zero padding, no bias).

  Args:
    x: [N, H, W, C_in].
    kernel: [kh, kw, C_in, C_out] (HWIO).
    stride: the same in both directions.
    padding: (ph, pw) zeros on both sides of H and W.

  Returns:
    [N, (H + 2 ph - kh) // stride + 1, (W + 2 pw - kw) // stride + 1, C_out].
  """
  ph, pw = padding
  return jax.lax.conv_general_dilated(
      x, kernel.astype(x.dtype), window_strides=(stride, stride),
      padding=((ph, ph), (pw, pw)),
      dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=HIGHEST)


def max_pool(x: jax.Array, size: int, stride: int,
             padding: int = 0) -> jax.Array:
  """`F.max_pool2d(x, size, stride, padding)`: pads with -inf, floors sizes.

  Args:
    x: [N, H, W, C].
    size: window side.
    stride: step in both directions.
    padding: -inf pixels on every side.

  Returns:
    [N, (H + 2 padding - size) // stride + 1, (W ...) // stride + 1, C].
  """
  pad = ((0, 0), (padding, padding), (padding, padding), (0, 0))
  return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, size, size, 1),
                               (1, stride, stride, 1), pad)


def avg_pool_exclude_pad(x: jax.Array, size: int = 3) -> jax.Array:
  """`F.avg_pool2d(x, size, 1, size // 2, count_include_pad=False)`.

  Each output is the mean of the window's pixels that lie inside the image,
  so border outputs divide by fewer than size**2 (as the FID Inception
  blocks do; torchvision's own blocks count the zero padding).

  Args:
    x: [N, H, W, C].
    size: odd window side; stride 1, 'same' output size.

  Returns:
    [N, H, W, C].
  """
  p = size // 2
  pad = ((0, 0), (p, p), (p, p), (0, 0))
  window, strides = (1, size, size, 1), (1, 1, 1, 1)
  total = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, pad)
  ones = jnp.ones((1, *x.shape[1:3], 1), x.dtype)  # [1, H, W, 1]
  count = jax.lax.reduce_window(ones, 0.0, jax.lax.add, window, strides, pad)
  return total / count  # [N, H, W, C]


def adaptive_avg_pool(x: jax.Array, size: Sequence[int]) -> jax.Array:
  """`nn.AdaptiveAvgPool2d(size)`: PyTorch's bins, averaged.

  Row bin i spans [floor(i H / h), ceil((i + 1) H / h)); columns alike.

  Args:
    x: [N, H, W, C].
    size: (h, w) output size.

  Returns:
    [N, h, w, C]; the identity when (h, w) == (H, W).
  """
  (in_h, in_w), (out_h, out_w) = x.shape[1:3], size
  if (in_h, in_w) == (out_h, out_w):
    return x
  rows = []
  for i in range(out_h):
    h0, h1 = (i * in_h) // out_h, -((-(i + 1) * in_h) // out_h)
    cols = []
    for j in range(out_w):
      w0, w1 = (j * in_w) // out_w, -((-(j + 1) * in_w) // out_w)
      cols.append(jnp.mean(x[:, h0:h1, w0:w1], axis=(1, 2)))  # [N, C]
    rows.append(jnp.stack(cols, axis=1))  # [N, w, C]
  return jnp.stack(rows, axis=1)  # [N, h, w, C]


def _linear_taps(in_size: int, out_size: int):
  """Source indices and weights of PyTorch's align_corners=False linear mode.

  Follows ATen's CPU kernel: scale = in / out in float32, src = scale *
  (dst + 0.5) - 0.5 as one fused multiply-add rounded to float32 (as the
  compiled kernel computes it; the product of two float32 values is exact in
  float64), clamped at 0; i0 = floor(src), i1 = min(i0 + 1, in - 1),
  lambda1 = src - i0. With these weights the fixtures' resized images are
  matched bit for bit when the blend is also fused.
  """
  scale = np.float64(np.float32(in_size) / np.float32(out_size))
  dst = np.arange(out_size, dtype=np.float64)
  src = (scale * (dst + 0.5) - 0.5).astype(np.float32)
  src = np.maximum(src, np.float32(0))
  i0 = np.minimum(src.astype(np.int64), in_size - 1)  # floor, as src >= 0
  i1 = np.minimum(i0 + 1, in_size - 1)
  lambda1 = np.clip(src - i0.astype(np.float32), 0, 1).astype(np.float32)
  return i0, i1, np.float32(1) - lambda1, lambda1


def resize_bilinear(x: jax.Array, size: Sequence[int]) -> jax.Array:
  """`F.interpolate(x, size, mode='bilinear', align_corners=False)`, NHWC.

  No antialiasing, for up- and down-sampling alike (downsampling therefore
  aliases, exactly as PyTorch's default does). Rows are interpolated first,
  then columns; the weights are PyTorch's float32 weights.

  Args:
    x: [N, H, W, C] float.
    size: (out_h, out_w).

  Returns:
    [N, out_h, out_w, C]; the identity when the size does not change.
  """
  out_h, out_w = size
  if x.shape[1:3] == (out_h, out_w):
    return x
  r0, r1, rw0, rw1 = _linear_taps(x.shape[1], out_h)
  c0, c1, cw0, cw1 = _linear_taps(x.shape[2], out_w)
  dtype = x.dtype
  x = (x[:, r0] * rw0[:, None, None].astype(dtype)
       + x[:, r1] * rw1[:, None, None].astype(dtype))  # [N, out_h, W, C]
  return (x[:, :, c0] * cw0[:, None].astype(dtype)
          + x[:, :, c1] * cw1[:, None].astype(dtype))  # [N, out_h, out_w, C]
