"""Per-sample random parameters of the augmentation operations.

`sample_params` draws, for every active operation of a spec, one raw value
per sample (what the operation would do) and whether it runs on that sample
(probability `p * multiplier`). Raw values are drawn for every sample, so
their distributions can be tested directly; the matrix builders substitute
the identity where an operation does not run. Each operation draws from its
own key (`fold_in(key, index in OPS)`), so turning one operation on or off
leaves the others' draws unchanged.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_jax.augment import specs


class Sampled(NamedTuple):
  """One operation's draws: `value` [N, ...] and `applied` bool [N, ...]."""

  value: jax.Array
  applied: jax.Array


Params = dict[str, Sampled]


def _log2_normal(key: jax.Array, shape, std: float) -> jax.Array:
  return jnp.exp2(jax.random.normal(key, shape) * std)


def _uniform(key: jax.Array, shape, lo: float, hi: float) -> jax.Array:
  return jax.random.uniform(key, shape, minval=lo, maxval=hi)


def _draw(op: str, key: jax.Array, n: int, spec: specs.AugmentSpec
          ) -> jax.Array:
  """The raw per-sample parameter of `op`."""
  if op in ("xflip", "lumaflip"):
    return jax.random.bernoulli(key, 0.5, (n,)).astype(jnp.float32)  # [N]
  if op == "rotate90":
    return jax.random.randint(key, (n,), 0, 4)  # [N] quarter turns
  if op == "xint":  # [N, 2] (x, y), in units of the image size
    return _uniform(key, (n, 2), -spec.xint_max, spec.xint_max)
  if op == "scale":
    return _log2_normal(key, (n,), spec.scale_std)
  if op == "rotate":  # [N, 2] (pre, post) angles in radians
    return _uniform(key, (n, 2), -np.pi * spec.rotate_max,
                    np.pi * spec.rotate_max)
  if op == "aniso":
    return _log2_normal(key, (n,), spec.aniso_std)
  if op == "xfrac":  # [N, 2] (x, y), in units of the image size
    return jax.random.normal(key, (n, 2)) * spec.xfrac_std
  if op == "shear":  # [N] radians; Keras draws the angle in degrees
    limit = np.deg2rad(spec.shear_range)
    return _uniform(key, (n,), -limit, limit)
  if op == "zoom":  # [N, 2] (zx, zy)
    return _uniform(key, (n, 2), 1 - spec.zoom_range, 1 + spec.zoom_range)
  if op == "brightness":
    return jax.random.normal(key, (n,)) * spec.brightness_std
  if op == "contrast":
    return _log2_normal(key, (n,), spec.contrast_std)
  if op == "hue":
    return _uniform(key, (n,), -np.pi * spec.hue_max, np.pi * spec.hue_max)
  if op == "saturation":
    return _log2_normal(key, (n,), spec.saturation_std)
  if op == "imgfilter":  # [N, 4] gain per band, low to high
    return _log2_normal(key, (n, 4), spec.imgfilter_std)
  if op == "noise":  # [N] standard deviation of the noise
    return jnp.abs(jax.random.normal(key, (n,))) * spec.noise_std
  if op == "cutout":  # [N, 2] (x, y) centre in units of the image size
    return jax.random.uniform(key, (n, 2))
  raise ValueError(f"unknown augment op {op!r}")


def probability(op: str, p: jax.Array | float, spec: specs.AugmentSpec
                ) -> jax.Array:
  """Probability that `op` runs on a sample; [4] per band for `imgfilter`."""
  p = jnp.asarray(p, jnp.float32)
  if op == "rotate":
    # Pre- and post-rotation each with q, so P(pre or post) = rotate * p.
    return 1 - jnp.sqrt(jnp.clip(1 - spec.rotate * p, 0, 1))
  if op == "imgfilter":
    return spec.imgfilter * p * jnp.asarray(spec.imgfilter_bands, jnp.float32)
  return getattr(spec, op) * p


def active_ops(spec: specs.AugmentSpec, num_channels: int) -> tuple[str, ...]:
  """The operations of `spec` that run on images with `num_channels`."""
  ops = spec.active(specs.OPS)
  if num_channels == 1:
    ops = tuple(op for op in ops if op not in specs.RGB_ONLY_OPS)
  return ops


def sample_params(
    key: jax.Array,
    batch_size: int,
    p: jax.Array | float,
    spec: specs.AugmentSpec,
    num_channels: int = 3,
) -> Params:
  """Draws every active operation's per-sample parameters.

  Args:
    key: PRNG key.
    batch_size: N, the number of samples.
    p: overall augmentation probability (may be traced).
    spec: the pipeline (see `specs.resolve_pipe`).
    num_channels: 1 skips the colour-only operations (hue, saturation).

  Returns:
    op name -> `Sampled(value, applied)`. Values: [N] for xflip, lumaflip
    (0/1 floats), rotate90 (int 0-3), scale, aniso, shear (radians),
    brightness, contrast, hue (radians), saturation, noise (its std); [N, 2]
    for xint, xfrac (x, y in units of the image size), zoom (zx, zy), cutout
    (centre x, y in [0, 1)), rotate (pre, post radians); [N, 4] for
    imgfilter. `applied` has the shape of the value except for [N, 2] values
    (one flag [N] per sample) and `rotate` ([N, 2]: pre, post).
  """
  params = {}
  for op in active_ops(spec, num_channels):
    op_key = jax.random.fold_in(key, specs.OPS.index(op))
    value_key, gate_key = jax.random.split(op_key)
    value = _draw(op, value_key, batch_size, spec)
    if op in ("rotate", "imgfilter"):
      shape = value.shape
    else:
      shape = (batch_size,)
    gate = jax.random.uniform(gate_key, shape)
    params[op] = Sampled(value, gate < probability(op, p, spec))
  return params
