"""Image-space corruptions: additive Gaussian noise and cutout."""

import jax
import jax.numpy as jnp


def apply_noise(images: jax.Array, sigma: jax.Array, key: jax.Array
                ) -> jax.Array:
  """Adds N(0, sigma_n^2) noise to every pixel and channel of sample n.

  Args:
    images: [N, H, W, C].
    sigma: [N] per-sample standard deviations (0: unchanged).
    key: PRNG key for the noise field.

  Returns:
    [N, H, W, C], same dtype as `images`.
  """
  noise = jax.random.normal(key, images.shape)  # [N, H, W, C]
  out = images.astype(jnp.float32) + noise * sigma[:, None, None, None]
  return out.astype(images.dtype)


def cutout_mask(center: jax.Array, size: jax.Array, height: int, width: int
                ) -> jax.Array:
  """1 outside, 0 inside each sample's cut-out rectangle.

  A pixel is cut when its centre, in units of the image size, lies less than
  `size / 2` from the rectangle's centre along both x and y.

  Args:
    center: [N, 2] (x, y) rectangle centres in [0, 1).
    size: [N] side lengths relative to the image size (0: nothing cut).
    height: H.
    width: W.

  Returns:
    float32 [N, H, W, 1].
  """
  x = (jnp.arange(width) + 0.5) / width  # [W]
  y = (jnp.arange(height) + 0.5) / height  # [H]
  half = size[:, None] / 2  # [N, 1]
  keep_x = jnp.abs(x - center[:, 0:1]) >= half  # [N, W]
  keep_y = jnp.abs(y - center[:, 1:2]) >= half  # [N, H]
  keep = keep_y[:, :, None] | keep_x[:, None, :]  # [N, H, W]
  return keep[..., None].astype(jnp.float32)
