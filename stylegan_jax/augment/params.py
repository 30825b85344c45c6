"""Per-sample random parameters of the augmentation operations.

`sample_params` draws, for every active operation of a spec, one raw value
per sample (what the operation would do) and whether it runs on that sample
(probability `p * multiplier`). Raw values are drawn for every sample, so
their distributions can be tested directly; the matrix builders substitute
the identity where an operation does not run. All parameters come from one
uniform draw [N, columns] with a fixed column per value and gate, turned
into normal values by the inverse normal CDF.
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


def effective(params: Params, op: str, identity: float = 0.0) -> jax.Array:
  """`op`'s values where it runs on a sample, `identity` elsewhere."""
  value, applied = params[op]
  if value.ndim > applied.ndim:  # one flag for an [N, 2] value
    applied = applied[:, None]
  return jnp.where(applied, value, identity)


def num_samples(params: Params) -> int:
  """N of the parameters (any operation's leading dimension)."""
  return next(iter(params.values())).value.shape[0]


# Columns of the one uniform draw per sample: op -> (values, gates). The
# layout is fixed, so turning one operation on or off leaves the others'
# draws unchanged.
_COLUMNS = {"xflip": (1, 1), "rotate90": (1, 1), "xint": (2, 1),
            "scale": (1, 1), "rotate": (2, 2), "aniso": (1, 1),
            "xfrac": (2, 1), "shear": (1, 1), "zoom": (2, 1),
            "brightness": (1, 1), "contrast": (1, 1), "lumaflip": (1, 1),
            "hue": (1, 1), "saturation": (1, 1), "imgfilter": (4, 4),
            "noise": (1, 1), "cutout": (2, 1)}
_NUM_COLUMNS = sum(v + g for v, g in _COLUMNS.values())


def _layout() -> dict[str, tuple[slice, slice]]:
  out, start = {}, 0
  for op in specs.OPS:
    num_values, num_gates = _COLUMNS[op]
    values = slice(start, start + num_values)
    gates = slice(start + num_values, start + num_values + num_gates)
    out[op] = (values, gates)
    start = gates.stop
  return out


_LAYOUT = _layout()


def _normal(u: jax.Array) -> jax.Array:
  # Inverse normal CDF. `u` comes on a 2^-23 grid in [0, 1); shifting it by
  # half a step makes it symmetric about 1/2 and keeps it off 0.
  return jax.scipy.special.ndtri(u + 2.0**-24)


def _value(op: str, u: jax.Array, z: jax.Array, spec: specs.AugmentSpec
           ) -> jax.Array:
  """`op`'s raw per-sample parameter from uniforms `u` or normals `z` [N, k]."""
  if op in ("xflip", "lumaflip"):
    return (u[:, 0] < 0.5).astype(jnp.float32)  # [N]
  if op == "rotate90":
    return jnp.minimum(jnp.floor(u[:, 0] * 4), 3).astype(jnp.int32)  # [N]
  if op == "xint":  # [N, 2] (x, y), in units of the image size
    return (2 * u - 1) * spec.xint_max
  if op == "scale":
    return jnp.exp2(z[:, 0] * spec.scale_std)
  if op == "rotate":  # [N, 2] (pre, post) angles in radians
    return (2 * u - 1) * np.pi * spec.rotate_max
  if op == "aniso":
    return jnp.exp2(z[:, 0] * spec.aniso_std)
  if op == "xfrac":  # [N, 2] (x, y), in units of the image size
    return z * spec.xfrac_std
  if op == "shear":  # [N] radians; Keras draws the angle in degrees
    return (2 * u[:, 0] - 1) * np.deg2rad(spec.shear_range)
  if op == "zoom":  # [N, 2] (zx, zy)
    return 1 + (2 * u - 1) * spec.zoom_range
  if op == "brightness":
    return z[:, 0] * spec.brightness_std
  if op == "contrast":
    return jnp.exp2(z[:, 0] * spec.contrast_std)
  if op == "hue":
    return (2 * u[:, 0] - 1) * np.pi * spec.hue_max
  if op == "saturation":
    return jnp.exp2(z[:, 0] * spec.saturation_std)
  if op == "imgfilter":  # [N, 4] gain per band, low to high
    return jnp.exp2(z * spec.imgfilter_std)
  if op == "noise":  # [N] standard deviation of the noise
    return jnp.abs(z[:, 0]) * spec.noise_std
  if op == "cutout":  # [N, 2] (x, y) centre in units of the image size
    return u
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
  ops = active_ops(spec, num_channels)
  # One draw for everything: far less code to compile than one per op.
  u = jax.random.uniform(key, (batch_size, _NUM_COLUMNS))  # [N, columns]
  z = _normal(u)  # [N, columns]; only the normal ops' columns are used.
  params = {}
  for op in ops:
    values, gates = _LAYOUT[op]
    applied = u[:, gates] < probability(op, p, spec)
    if op not in ("rotate", "imgfilter"):
      applied = applied[:, 0]
    params[op] = Sampled(_value(op, u[:, values], z[:, values], spec),
                         applied)
  return params
