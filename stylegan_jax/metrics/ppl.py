"""Perceptual path length (Karras et al. 2019) maths, network-agnostic.

This module owns PPL as StyleGAN2-ADA computes it, with the generator and
the LPIPS distance passed in as callables:

1. t ~ U[0, 1) for `sampling='full'`, t = 0 for `'end'`; z0, z1 ~ N(0, I).
2. `space='w'`: ws = mapping(z0), mapping(z1); interpolate linearly at t
   and t + epsilon. `space='z'`: spherical interpolation of z0, z1 at t and
   t + epsilon, then mapping.
3. Both images from `synthesis`; optionally the centre crop (rows 3/8..7/8,
   columns 2/8..6/8 of the image, the face region of FFHQ), then a box
   downsample by `resolution // 256` when that is > 1.
4. distance(img_t, img_t+eps) / epsilon^2 per sample.
5. PPL = the mean of the distances between the 1st (lower) and 99th
   (higher) percentiles, inclusive.

`epsilon` is 1e-4 as in the paper. The official code also re-draws the
synthesis noise buffers for every batch; a `synthesis` callable that uses
constant noise should do the same if it wants that behaviour.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

EPSILON = 1e-4
SPACES = ("w", "z")
SAMPLINGS = ("full", "end")


def _unit(x: jax.Array) -> jax.Array:
  return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def slerp(a: jax.Array, b: jax.Array, t: jax.Array) -> jax.Array:
  """Spherical interpolation of the directions of a and b (unit output).

  Args:
    a, b: [..., D].
    t: broadcastable to [..., 1]; 0 gives a / |a|, 1 gives b / |b|.

  Returns:
    [..., D] unit vectors.
  """
  a, b = _unit(a), _unit(b)
  d = jnp.sum(a * b, axis=-1, keepdims=True)  # [..., 1] cos(angle)
  p = t * jnp.arccos(d)  # [..., 1]
  c = _unit(b - d * a)  # [..., D] orthogonal to a, in the a-b plane
  return _unit(a * jnp.cos(p) + c * jnp.sin(p))


def lerp(a: jax.Array, b: jax.Array, t: jax.Array) -> jax.Array:
  """a + t (b - a), as `torch.lerp`."""
  return a + t * (b - a)


def crop_and_downsample(images: jax.Array, crop: bool) -> jax.Array:
  """The official pre-LPIPS crop and box downsample to <= 256 px.

  Args:
    images: [N, H, W, C] with H == W (when cropping).
    crop: keep rows [3c, 7c) and columns [2c, 6c), c = H // 8.

  Returns:
    [N, h, w, 3]: averaged over factor x factor boxes, factor = H // 256
    of the uncropped size; 1-channel images repeated to 3.
  """
  resolution = images.shape[1]
  if crop:
    if images.shape[1] != images.shape[2]:
      raise ValueError(f"the PPL crop needs square images, got "
                       f"{images.shape[1:3]}")
    c = resolution // 8
    images = images[:, c * 3:c * 7, c * 2:c * 6]  # [N, 4c, 4c, C]
  factor = resolution // 256
  if factor > 1:
    n, h, w, ch = images.shape
    images = images.reshape(n, h // factor, factor, w // factor, factor,
                            ch).mean(axis=(2, 4))
  if images.shape[-1] == 1:
    images = jnp.repeat(images, 3, axis=-1)
  return images


def sample_distances(
    key: jax.Array,
    *,
    mapping: Callable[[jax.Array, jax.Array | None], jax.Array],
    synthesis: Callable[[jax.Array], jax.Array],
    distance: Callable[[jax.Array, jax.Array], jax.Array],
    num: int,
    z_dim: int,
    c: jax.Array | None = None,
    epsilon: float = EPSILON,
    space: str = "w",
    sampling: str = "end",
    crop: bool = False,
) -> jax.Array:
  """One batch of scaled path-length distances; jit-able with the callables.

  Args:
    key: PRNG key.
    mapping: (z [B, z_dim], c [B, c_dim] or None) -> ws [B, num_ws, w_dim].
    synthesis: ws [B, num_ws, w_dim] -> images [B, H, W, C] in [-1, 1].
    distance: (images0, images1) -> [B] (LPIPS, `features.lpips.distance`
      with its params bound).
    num: samples in the batch.
    z_dim: latent size.
    c: [num, c_dim] labels, or None for an unconditional generator.
    epsilon: the finite-difference step.
    space: 'w' (lerp of ws) or 'z' (slerp of zs).
    sampling: 'full' (t ~ U[0, 1)) or 'end' (t = 0).
    crop: apply the official centre crop before the distance.

  Returns:
    [num] distance / epsilon^2.
  """
  if space not in SPACES or sampling not in SAMPLINGS:
    raise ValueError(f"PPL space must be one of {SPACES} and sampling one of "
                     f"{SAMPLINGS}, got {space!r} and {sampling!r}")
  t_key, z_key = jax.random.split(key)
  t = jax.random.uniform(t_key, (num,))
  if sampling == "end":
    t = t * 0
  z0, z1 = jax.random.normal(z_key, (2, num, z_dim))
  cc = None if c is None else jnp.concatenate([c, c])
  if space == "w":
    w0, w1 = jnp.split(mapping(jnp.concatenate([z0, z1]), cc), 2)
    t = t[:, None, None]  # [num, 1, 1]
    wt0, wt1 = lerp(w0, w1, t), lerp(w0, w1, t + epsilon)
  else:
    t = t[:, None]  # [num, 1]
    zt0, zt1 = slerp(z0, z1, t), slerp(z0, z1, t + epsilon)
    wt0, wt1 = jnp.split(mapping(jnp.concatenate([zt0, zt1]), cc), 2)
  images = crop_and_downsample(synthesis(jnp.concatenate([wt0, wt1])), crop)
  return distance(images[:num], images[num:]) / epsilon**2


def path_length(distances: np.ndarray) -> float:
  """PPL: the mean of the distances within the 1st..99th percentiles.

  Args:
    distances: [N] from `sample_distances` batches.

  Returns:
    The mean of d with lo <= d <= hi, lo = the 1st percentile ('lower'),
    hi = the 99th ('higher').
  """
  distances = np.asarray(distances, np.float64).reshape(-1)
  if distances.size == 0:
    raise ValueError("PPL needs at least one distance")
  lo = np.percentile(distances, 1, method="lower")
  hi = np.percentile(distances, 99, method="higher")
  return float(np.mean(distances[(distances >= lo) & (distances <= hi)]))
