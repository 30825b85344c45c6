"""Modulated convolution with demodulation (StyleGAN2, Karras et al. 2020).

Per sample n: w'[o, i] = w[o, i] * s[n, i]; with demodulation every output
channel is rescaled by d[n, o] = rsqrt(sum_{i,kh,kw} w'^2 + 1e-8) (on the raw
weight scale). Two numerically equivalent forms:

* fused: build the per-sample kernels and run one grouped convolution with a
  group per sample (fast on GPUs/TPUs);
* non-fused: scale the input by s, run one shared convolution, scale the
  output by d (fast on CPUs, where grouped convolutions are 10-40x slower).
"""

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_jax.ops import equalized


def default_fused() -> bool:
  """Fused on accelerators, non-fused on CPU."""
  return jax.default_backend() != "cpu"


def modulated_conv2d(
    x: jax.Array,
    weight: jax.Array,
    styles: jax.Array,
    demodulate: bool = True,
    fused: bool = False,
    f: np.ndarray | None = None,
    up: int = 1,
) -> jax.Array:
  """Modulated (and optionally demodulated) convolution.

  Args:
    x: [N, H, W, Cin].
    weight: raw kernel [k, k, Cin, Cout] (no fan-in gain).
    styles: per-sample input scales [N, Cin].
    demodulate: normalise each output channel per sample.
    fused: grouped-conv form (True) or scale-conv-scale form (False).
    f: resampling filter, needed when `up` > 1.
    up: 1 or 2.

  Returns:
    [N, H * up, W * up, Cout].
  """
  n, h, w, cin = x.shape
  k, _, _, cout = weight.shape
  weight = weight.astype(x.dtype)
  styles = styles.astype(x.dtype)
  dcoefs = None
  if demodulate:
    wmod = weight[None] * styles[:, None, None, :, None]  # [N, k, k, Cin, Cout]
    dcoefs = jax.lax.rsqrt(jnp.sum(jnp.square(wmod), axis=(1, 2, 3)) + 1e-8)
    # dcoefs: [N, Cout]

  if not fused:
    x = x * styles[:, None, None, :]  # [N, H, W, Cin]
    x = equalized.conv2d_resample(x, weight, f, up=up)  # [N, H', W', Cout]
    if dcoefs is not None:
      x = x * dcoefs[:, None, None, :]
    return x

  wmod = weight[None] * styles[:, None, None, :, None]  # [N, k, k, Cin, Cout]
  if dcoefs is not None:
    wmod = wmod * dcoefs[:, None, None, None, :]
  # One group per sample: batch folded into channels.
  x = jnp.transpose(x, (1, 2, 0, 3)).reshape(1, h, w, n * cin)
  wmod = jnp.transpose(wmod, (1, 2, 3, 0, 4)).reshape(k, k, cin, n * cout)
  x = equalized.conv2d_resample(x, wmod, f, up=up, groups=n)  # [1, H', W', N*Co]
  ho, wo = x.shape[1], x.shape[2]
  return jnp.transpose(x.reshape(ho, wo, n, cout), (2, 0, 1, 3))
