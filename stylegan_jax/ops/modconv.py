"""Modulated convolution with demodulation (StyleGAN2, Karras et al. 2020).

Per sample n: w'[o, i] = w[o, i] * s[n, i]; with demodulation every output
channel is rescaled by d[n, o] = rsqrt(sum_{i,kh,kw} w'^2 + 1e-8) (on the raw
weight scale). Two numerically equivalent forms:

* fused: build the per-sample kernels and run one grouped convolution with a
  group per sample (fast on GPUs/TPUs);
* non-fused: scale the input by s, run one shared convolution, scale the
  output by d (fast on CPUs, where grouped convolutions are 10-40x slower).

The fused form folds the batch into feature groups, which XLA's SPMD
partitioner mishandles when the batch is sharded (compile errors on 1x1
kernels, silently wrong results reported elsewhere). So when a mesh is in
context (`jax.set_mesh`) and the batch is (or, with Auto axes, may be) split
over it, the grouped convolution runs per device inside `jax.shard_map` over
the batch's mesh axes; see `batch_mesh_axes` and `stylegan_jax.sharding`.
Without a mesh in context nothing changes (bit for bit).

Mixed precision: `x` may be bfloat16 or float16 while the weight and styles
stay float32 (the master parameters). Demodulation coefficients (and the
fused per-sample kernels) are computed in float32; each factor is cast to
the dtype of `x` where it meets the activations, so the result has the
dtype of `x`. For float16, as the official code, the weight and styles are
first rescaled to max |.| 1 (the weight also by 1 / sqrt(fan-in)) so the
products cannot overflow; demodulation undoes both scales.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_jax import sharding
from stylegan_jax.ops import equalized


def default_fused() -> bool:
  """Fused on accelerators, non-fused on CPU."""
  return jax.default_backend() != "cpu"


def _grouped_conv(x: jax.Array, wmod: jax.Array, f: np.ndarray | None,
                  up: int) -> jax.Array:
  """Per-sample kernels as one grouped conv: [N, H, W, Ci] -> [N, H', W', Co].

  Args:
    x: [N, H, W, Cin].
    wmod: per-sample kernels [N, k, k, Cin, Cout].
    f: resampling filter, needed when `up` > 1.
    up: 1 or 2.
  """
  n, h, w, cin = x.shape
  k, cout = wmod.shape[1], wmod.shape[-1]
  # One group per sample: batch folded into channels.
  x = jnp.transpose(x, (1, 2, 0, 3)).reshape(1, h, w, n * cin)
  wmod = jnp.transpose(wmod, (1, 2, 3, 0, 4)).reshape(k, k, cin, n * cout)
  x = equalized.conv2d_resample(x, wmod, f, up=up, groups=n)  # [1, H', W', N*Co]
  ho, wo = x.shape[1], x.shape[2]
  return jnp.transpose(x.reshape(ho, wo, n, cout), (2, 0, 1, 3))


def batch_mesh_axes(x: jax.Array) -> tuple[str, ...]:
  """Mesh axes the fused conv must map the batch of `x` over ((): none).

  With no mesh in context (`jax.set_mesh`), or inside a `shard_map` over the
  batch (Manual axes), every array is whole on its device: (). With an Auto
  `data` axis the batch's sharding is the partitioner's choice, so the conv
  is always mapped over `data`. With Explicit axes the batch's sharding is
  part of its type and read from it.
  """
  mesh = jax.sharding.get_abstract_mesh()
  if mesh.empty:
    return ()
  if sharding.DATA_AXIS in mesh.auto_axes:
    return (sharding.DATA_AXIS,)
  if not mesh.explicit_axes:
    return ()
  spec = jax.typeof(x).sharding.spec
  axes = spec[0] if spec else None
  if axes is None:
    return ()
  axes = (axes,) if isinstance(axes, str) else tuple(axes)
  return tuple(a for a in axes if a in mesh.explicit_axes)


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
    x: [N, H, W, Cin], any float dtype (the compute dtype).
    weight: raw kernel [k, k, Cin, Cout] (no fan-in gain), float32.
    styles: per-sample input scales [N, Cin], float32.
    demodulate: normalise each output channel per sample.
    fused: grouped-conv form (True) or scale-conv-scale form (False).
    f: resampling filter, needed when `up` > 1.
    up: 1 or 2.

  Returns:
    [N, H * up, W * up, Cout] in the dtype of `x`.
  """
  n = x.shape[0]
  if demodulate and x.dtype == jnp.float16:  # Pre-normalise: no overflow.
    k, _, cin, _ = weight.shape
    weight = weight * (1 / math.sqrt(k * k * cin) / jnp.max(
        jnp.abs(weight), axis=(0, 1, 2), keepdims=True))  # [k, k, Ci, Co]
    styles = styles / jnp.max(jnp.abs(styles), axis=1, keepdims=True)
  dcoefs = None
  if demodulate:
    # sum_{k,i} (w[k, i, o] s[n, i])^2 as a matmul, without the per-sample
    # kernels [N, k, k, Cin, Cout] (and their gradients).
    w_sq = jnp.sum(jnp.square(weight), axis=(0, 1))  # [Cin, Cout]
    dcoefs = jax.lax.rsqrt(jnp.dot(jnp.square(styles), w_sq) + 1e-8)
    # dcoefs: [N, Cout]

  if not fused:
    x = x * styles.astype(x.dtype)[:, None, None, :]  # [N, H, W, Cin]
    x = equalized.conv2d_resample(x, weight, f, up=up)  # [N, H', W', Cout]
    if dcoefs is not None:
      x = x * dcoefs.astype(x.dtype)[:, None, None, :]
    return x

  wmod = weight[None] * styles[:, None, None, :, None]  # [N, k, k, Cin, Cout]
  if dcoefs is not None:
    wmod = wmod * dcoefs[:, None, None, None, :]
  axes = batch_mesh_axes(x)
  devices = math.prod(dict(jax.sharding.get_abstract_mesh().shape)[a]
                      for a in axes)
  if devices == 1:
    return _grouped_conv(x, wmod, f, up)
  if n % devices:  # Cannot split the batch: the plain form is exact too.
    return modulated_conv2d(x, weight, styles, demodulate, False, f, up)
  spec = jax.sharding.PartitionSpec(axes)
  per_device = jax.shard_map(
      lambda x, wmod: _grouped_conv(x, wmod, f, up), in_specs=(spec, spec),
      out_specs=spec, axis_names=frozenset(axes))
  if jax.sharding.get_abstract_mesh().explicit_axes:
    x, wmod = jax.reshard(x, spec), jax.reshard(wmod, spec)
  return per_device(x, wmod)
