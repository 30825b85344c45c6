"""DiffAugment (Zhao et al. 2020): the fixed differentiable policy.

Every operation of the policy runs on every sample (no probability), in the
policy's order, on images in [-1, 1]:

- `color`: brightness + U[-0.5, 0.5), then saturation (deviation from the
  pixel's channel mean times U[0, 2)), then contrast (deviation from the
  sample's mean times U[0.5, 1.5)).
- `translation`: a whole-pixel shift in [-s, s] per axis, s = int(S / 8 +
  1/2), zeros shifted in.
- `cutout`: a square of side k = int(S / 2 + 1/2) set to 0, its centre at a
  uniform whole pixel in [0, S + (1 - k mod 2)), clipped to the image.
"""

import jax
import jax.numpy as jnp

POLICIES = ("color", "translation", "cutout")
_TRANSLATION_RATIO = 1 / 8
_CUTOUT_RATIO = 1 / 2


def color_factors(key: jax.Array, batch_size: int) -> jax.Array:
  """Per-sample factors [N, 3]: brightness in [-0.5, 0.5), saturation in
  [0, 2), contrast in [0.5, 1.5)."""
  u = jax.random.uniform(key, (batch_size, 3))
  return u * jnp.asarray([1.0, 2.0, 1.0]) + jnp.asarray([-0.5, 0.0, 0.5])


def _color(x: jax.Array, key: jax.Array) -> jax.Array:
  f = color_factors(key, x.shape[0])[:, None, None, :]  # [N, 1, 1, 3]
  x = x + f[..., 0:1]
  mean = jnp.mean(x, axis=3, keepdims=True)  # [N, H, W, 1]
  x = (x - mean) * f[..., 1:2] + mean
  mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)  # [N, 1, 1, 1]
  return (x - mean) * f[..., 2:3] + mean


def translation_shifts(key: jax.Array, batch_size: int, size: int
                       ) -> jax.Array:
  """Per-sample (dy, dx) whole-pixel shifts [N, 2], uniform in [-s, s]."""
  s = int(size * _TRANSLATION_RATIO + 0.5)
  return jax.random.randint(key, (batch_size, 2), -s, s + 1)


def _translation(x: jax.Array, key: jax.Array) -> jax.Array:
  n, h, w, _ = x.shape
  shift = translation_shifts(key, n, h)
  sy, sx = int(h * _TRANSLATION_RATIO + 0.5), int(w * _TRANSLATION_RATIO + 0.5)
  padded = jnp.pad(x, ((0, 0), (sy, sy), (sx, sx), (0, 0)))
  # out[y, x] = in[y + dy, x + dx]: the content moves by (-dy, -dx).
  starts = shift + jnp.asarray([sy, sx])  # [N, 2]

  def crop(image, start):
    return jax.lax.dynamic_slice(image, (start[0], start[1], 0),
                                 (h, w, image.shape[-1]))

  return jax.vmap(crop)(padded, starts)  # [N, H, W, C]


def cutout_offsets(key: jax.Array, batch_size: int, size: int) -> jax.Array:
  """Per-sample (y, x) cut-out centres [N, 2], whole pixels."""
  k = int(size * _CUTOUT_RATIO + 0.5)
  return jax.random.randint(key, (batch_size, 2), 0, size + (1 - k % 2))


def _cutout(x: jax.Array, key: jax.Array) -> jax.Array:
  n, h, w, _ = x.shape
  offset = cutout_offsets(key, n, h)
  ky, kx = int(h * _CUTOUT_RATIO + 0.5), int(w * _CUTOUT_RATIO + 0.5)
  y0 = offset[:, 0:1] - ky // 2  # [N, 1]
  x0 = offset[:, 1:2] - kx // 2  # [N, 1]
  rows, cols = jnp.arange(h), jnp.arange(w)
  cut_y = (rows >= y0) & (rows < y0 + ky)  # [N, H]
  cut_x = (cols >= x0) & (cols < x0 + kx)  # [N, W]
  cut = cut_y[:, :, None] & cut_x[:, None, :]  # [N, H, W]
  return x * (~cut)[..., None].astype(x.dtype)


_OPS = {"color": _color, "translation": _translation, "cutout": _cutout}


def parse_policy(policy: str) -> tuple[str, ...]:
  """'color,translation' -> ('color', 'translation'); ValueError if unknown."""
  names = tuple(name.strip() for name in policy.split(",") if name.strip())
  unknown = [name for name in names if name not in _OPS]
  if unknown:
    raise ValueError(f"unknown DiffAugment policy {', '.join(unknown)}; "
                     f"use a comma-separated subset of {', '.join(POLICIES)}")
  return names


def diff_augment(images: jax.Array, key: jax.Array,
                 policy: str = "color,translation,cutout") -> jax.Array:
  """Applies the DiffAugment policy to every image.

  Args:
    images: [N, H, W, C] float in [-1, 1] (any C; `color`'s saturation is
      the identity on one channel).
    key: PRNG key; operation i of `POLICIES` draws from `fold_in(key, i)`.
    policy: comma-separated operations from `POLICIES`, applied in order.

  Returns:
    [N, H, W, C], same dtype; differentiable w.r.t. `images`.
  """
  names = parse_policy(policy)
  if images.ndim != 4:
    raise ValueError("diff_augment expects images [N, H, W, C], got shape "
                     f"{tuple(images.shape)}")
  x = images.astype(jnp.float32)
  for name in names:
    x = _OPS[name](x, jax.random.fold_in(key, POLICIES.index(name)))
  return x.astype(images.dtype)
