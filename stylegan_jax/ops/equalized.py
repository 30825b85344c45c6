"""Stateless layer numerics: bias + activation, equalised dense/conv, mbstd.

Parameters are passed in raw (as stored); the equalised-learning-rate gains
are applied here at run time. Convolution weights are HWIO, dense weights
[in, out], activations NHWC.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_jax.ops import filters

LRELU_ALPHA = 0.2
# Each activation's gain that keeps unit variance (He et al.).
ACTIVATION_GAINS = {"linear": 1.0, "lrelu": math.sqrt(2.0)}


def bias_act(
    x: jax.Array,
    b: jax.Array | None = None,
    act: str = "linear",
    gain: float = 1.0,
    clamp: float | None = None,
) -> jax.Array:
  """x + b, activation, times (activation gain * `gain`), then clamp.

  Args:
    x: activations [..., C] (channels last).
    b: bias [C] or None.
    act: 'linear' or 'lrelu' (slope 0.2).
    gain: extra gain on top of the activation's own gain.
    clamp: if not None, clip to [-clamp, clamp] after the gain.

  Returns:
    Array shaped like `x`.
  """
  if act not in ACTIVATION_GAINS:
    raise ValueError(f"unknown activation {act!r}; use one of "
                     f"{sorted(ACTIVATION_GAINS)}")
  if b is not None:
    x = x + b.astype(x.dtype)
  if act == "lrelu":
    x = jnp.where(x >= 0, x, x * LRELU_ALPHA)
  total_gain = ACTIVATION_GAINS[act] * gain
  if total_gain != 1:
    x = x * total_gain
  if clamp is not None:
    x = jnp.clip(x, -clamp, clamp)
  return x


def dense(
    x: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None,
    lr_multiplier: float = 1.0,
    act: str = "linear",
) -> jax.Array:
  """Equalised-learning-rate fully connected layer.

  Args:
    x: [N, in].
    weight: raw weight [in, out]; used times lr_multiplier / sqrt(in).
    bias: raw bias [out] or None; used times lr_multiplier.
    lr_multiplier: learning-rate multiplier (0.01 in the mapping network).
    act: activation, see `bias_act`.

  Returns:
    [N, out].
  """
  weight_gain = lr_multiplier / math.sqrt(weight.shape[0])
  w = weight.astype(x.dtype) * weight_gain
  b = None
  if bias is not None:
    b = bias.astype(x.dtype)
    if lr_multiplier != 1:
      b = b * lr_multiplier
  return bias_act(x @ w, b, act)


def matmul_resampling() -> bool:
  """Resampling convolutions as matrix products: on CPU only.

  XLA:CPU runs a convolution fast only in its plain NHWC/HWIO form. The
  gradients of a transposed (lhs-dilated) or strided convolution with
  respect to its kernel are dilated convolutions, which it runs with a naive
  loop (10-60x slower here; R1 and path length differentiate them twice).
  As matrix products of shifted slices every derivative stays a matrix
  product or a slice. GPUs and TPUs run the native forms well.
  """
  return jax.default_backend() == "cpu"


def _phase_kernel(w: jax.Array) -> jax.Array:
  """3x3 transposed-conv kernel -> [2 * 2 * Cin, 4 * Cout] phase matrix.

  A stride-2 transposed convolution writes y[2i + s] += w[s] x[i] (per
  axis), so output phase a of input-window position u (x[i + u - 1]) uses
  tap s = (2, 0)[u] for a = 0 and (none, 1)[u] for a = 1.
  """
  _, _, cin, cout = w.shape
  taps = ((2, 0), (None, 1))  # [phase][window position] -> tap.
  zero = jnp.zeros((cin, cout), w.dtype)
  rows = []
  for u in range(2):
    for v in range(2):
      rows.append(jnp.concatenate(
          [zero if taps[a][u] is None or taps[b][v] is None
           else w[taps[a][u], taps[b][v]] for a in range(2)
           for b in range(2)], axis=-1))  # [Cin, 4 * Cout], (a, b, o).
  return jnp.concatenate(rows, axis=0)  # [(u, v, Cin), (a, b, Cout)]


def _up2_conv3x3_matmul(x: jax.Array, w: jax.Array) -> jax.Array:
  """Stride-2 transposed 3x3 conv as one matmul: [N, H, W, Ci] -> 2H+1."""
  n, h, wd, cin = x.shape
  cout = w.shape[-1]
  x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))  # [N, H+2, W+2, Ci]
  patches = jnp.concatenate(
      [x[:, u:u + h + 1, v:v + wd + 1] for u in range(2) for v in range(2)],
      axis=-1)  # [N, H+1, W+1, 4 * Ci]
  y = jnp.dot(patches, _phase_kernel(w).astype(x.dtype))  # [.., 4 * Co]
  y = y.reshape(n, h + 1, wd + 1, 2, 2, cout)
  y = jnp.transpose(y, (0, 1, 3, 2, 4, 5))  # Interleave the phases.
  y = y.reshape(n, 2 * h + 2, 2 * wd + 2, cout)
  return y[:, :2 * h + 1, :2 * wd + 1]  # [N, 2H+1, 2W+1, Co]


def _conv3x3_stride2_matmul(x: jax.Array, w: jax.Array) -> jax.Array:
  """Unpadded stride-2 3x3 conv as one matmul: [N, H, W, Ci] -> (H-1)/2."""
  n, h, wd, cin = x.shape
  ho, wo = (h - 3) // 2 + 1, (wd - 3) // 2 + 1
  patches = jnp.concatenate(
      [x[:, i:i + 2 * ho - 1:2, j:j + 2 * wo - 1:2] for i in range(3)
       for j in range(3)], axis=-1)  # [N, Ho, Wo, 9 * Ci]
  return jnp.dot(patches, w.reshape(9 * cin, -1).astype(x.dtype))


def conv2d_resample(
    x: jax.Array,
    w: jax.Array,
    f: np.ndarray | None = None,
    up: int = 1,
    down: int = 1,
    groups: int = 1,
) -> jax.Array:
  """2-D convolution ('same' padding) with optional 2x up- or downsampling.

  The kernel is applied as a cross-correlation without resampling and as a
  true convolution (flipped) when upsampling, which is how a transposed
  convolution relates to a forward one. On CPU the resampling and 1x1
  convolutions run as matrix products (`matmul_resampling`).

  Args:
    x: [N, H, W, Cin * groups].
    w: kernel [k, k, Cin, Cout * groups] (gains already applied), k 1 or 3.
    f: 2-D resampling filter for up/down (see `filters.setup_filter`).
    up: 1 or 2.
    down: 1 or 2.
    groups: feature groups (the fused modulated conv uses one per sample).

  Returns:
    [N, H * up / down, W * up / down, Cout * groups].
  """
  k = w.shape[0]
  if k not in (1, 3) or w.shape[1] != k:
    raise ValueError(f"only 1x1 and 3x3 kernels are supported, got {w.shape}")
  if up > 1 and down > 1:
    raise ValueError("up- and downsampling at once is not supported")
  if (up > 1 or down > 1) and (f is None or f.shape != (4, 4)):
    raise ValueError("resampling needs a 4-tap filter, e.g. [1, 3, 3, 1]")
  dn = ("NHWC", "HWIO", "NHWC")
  matmul = groups == 1 and matmul_resampling()

  def conv(x, w, stride=1, pad=k // 2, lhs_dilation=(1, 1)):
    if matmul and w.shape[0] == 1 and stride == 1:
      return jnp.dot(x, w[0, 0].astype(x.dtype))  # [N, H, W, Cout]
    return jax.lax.conv_general_dilated(
        x, w.astype(x.dtype), window_strides=(stride, stride),
        padding=((pad, pad), (pad, pad)), lhs_dilation=lhs_dilation,
        dimension_numbers=dn, feature_group_count=groups)

  if up == 1 and down == 1:
    return conv(x, w)
  if k == 1:
    if down > 1:  # Blur, keep every 2nd pixel, then the 1x1 conv.
      return conv(filters.downsample2d(x, f, down), w)
    return filters.upsample2d(conv(x, w), f, up)
  if down > 1:
    x = filters.filter2d(x, f, pad=2)  # [N, H+1, W+1, C]
    if matmul:
      return _conv3x3_stride2_matmul(x, w)  # [N, H/2, W/2, Cout]
    return conv(x, w, stride=down, pad=0)  # [N, H/2, W/2, Cout]
  # Transposed conv with stride 2: zero-stuff, pad 2/2, flipped kernel.
  if matmul:
    x = _up2_conv3x3_matmul(x, w)  # [N, 2H+1, 2W+1, Cout]
  else:
    x = conv(x, w[::-1, ::-1], pad=2, lhs_dilation=(up, up))  # [N, 2H+1, ...]
  return filters.filter2d(x, f, pad=1, gain=up * up)  # [N, 2H, 2W, Cout]


def conv2d(
    x: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None,
    act: str = "linear",
    f: np.ndarray | None = None,
    up: int = 1,
    down: int = 1,
    gain: float = 1.0,
    conv_clamp: float | None = None,
) -> jax.Array:
  """Equalised-learning-rate conv layer: conv, + bias, act, x gain, clamp.

  Args:
    x: [N, H, W, Cin].
    weight: raw kernel [k, k, Cin, Cout]; used times 1 / sqrt(Cin * k * k).
    bias: raw bias [Cout] or None.
    act: activation, see `bias_act`.
    f: resampling filter for `up`/`down`.
    up: 1 or 2.
    down: 1 or 2.
    gain: extra output gain (sqrt(0.5) on resnet branches).
    conv_clamp: clamp magnitude before `gain`; the clamp applied is
      conv_clamp * gain. None disables clamping.

  Returns:
    [N, H', W', Cout].
  """
  k, _, cin, _ = weight.shape
  w = weight * (1 / math.sqrt(cin * k * k))
  x = conv2d_resample(x, w, f, up=up, down=down)
  clamp = conv_clamp * gain if conv_clamp is not None else None
  return bias_act(x, bias, act, gain=gain, clamp=clamp)


def normalize_2nd_moment(x: jax.Array, eps: float = 1e-8) -> jax.Array:
  """Scales each row of [N, F] to unit mean square."""
  return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=1, keepdims=True)
                           + eps)


def minibatch_std(x: jax.Array, group_size: int | None,
                  num_channels: int = 1) -> jax.Array:
  """Appends minibatch standard-deviation features as extra channels.

  Groups are strided: with G = min(group_size, N), sample n belongs to group
  n mod (N / G). Each group's per-feature stddev (biased) is averaged over
  pixels and the C / F channels of each of the F slices, then broadcast to
  every member and pixel.

  Args:
    x: [N, H, W, C]; N must be divisible by the group size.
    group_size: G, or None for the whole batch.
    num_channels: F, number of stddev channels; must divide C.

  Returns:
    [N, H, W, C + F].
  """
  n, h, w, c = x.shape
  g = min(group_size, n) if group_size is not None else n
  if n % g:
    raise ValueError(f"batch {n} is not divisible by mbstd group size {g}")
  f = num_channels
  y = x.reshape(g, n // g, h, w, f, c // f)  # Group index is the outer factor.
  y = y - jnp.mean(y, axis=0)
  y = jnp.mean(jnp.square(y), axis=0)  # [N/G, H, W, F, C/F]
  y = jnp.sqrt(y + 1e-8)
  y = jnp.mean(y, axis=(1, 2, 4))  # [N/G, F]
  y = jnp.tile(y, (g, 1))  # [N, F]; row n is group n mod (N/G).
  y = jnp.broadcast_to(y[:, None, None, :], (n, h, w, f)).astype(x.dtype)
  return jnp.concatenate([x, y], axis=-1)
