"""Colour augmentation: one 4x4 homogeneous RGB matrix per sample.

`color_matrix` composes brightness, contrast, luma flip, hue rotation and
saturation as `C = saturation @ hue @ lumaflip @ contrast @ brightness`
acting on (r, g, b, 1); the luma axis is v = (1, 1, 1) / sqrt(3).
`apply_color` multiplies every pixel by its sample's matrix. Grey images
(C = 1) are treated as the RGB pixel (g, g, g), transformed, and averaged
back to one channel: brightness adds, contrast scales, the luma flip
negates, and hue and saturation (identities on grey) are skipped.
"""

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_jax.augment import params as params_lib
from stylegan_jax.augment.geometric import matmul

_V = np.array([1.0, 1.0, 1.0, 0.0]) / np.sqrt(3)  # Luma axis.
_VV = np.outer(_V, _V).astype(np.float32)  # Projection onto luma.
# Cross-product matrix [v]_x of the luma axis (for Rodrigues' formula).
_VX = (np.array([[0, -1, 1, 0], [1, 0, -1, 0], [-1, 1, 0, 0], [0, 0, 0, 0]])
       / np.sqrt(3)).astype(np.float32)
_I4 = np.eye(4, dtype=np.float32)
_RGB = np.diag([1.0, 1.0, 1.0, 0.0]).astype(np.float32)  # Scales r, g, b.
_OFFSET = np.zeros((4, 4), np.float32)  # Adds to r, g, b.
_OFFSET[:3, 3] = 1


def color_matrix(params: params_lib.Params) -> jax.Array:
  """Composes the colour operations per sample.

  Args:
    params: from `params.sample_params`; non-colour entries are ignored.

  Returns:
    C [N, 4, 4]: (r, g, b, 1) in -> (r', g', b', 1) out.
  """
  n = params_lib.num_samples(params)
  c = jnp.broadcast_to(jnp.asarray(_I4), (n, 4, 4))

  def on(op, identity=0.0):
    return params_lib.effective(params, op, identity)[:, None, None]

  factors = []
  if "brightness" in params:
    factors.append(_I4 + _OFFSET * on("brightness"))
  if "contrast" in params:
    factors.append(_I4 + _RGB * (on("contrast", 1.0) - 1))
  if "lumaflip" in params:  # Householder reflection through the luma plane.
    factors.append(_I4 - 2 * _VV * on("lumaflip"))
  if "hue" in params:  # Rodrigues: rotation by theta about v.
    theta = on("hue")
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    rot = cos * (_I4 - _VV) + sin * _VX + _VV
    factors.append(rot.at[:, 3, 3].set(1))
  if "saturation" in params:
    factors.append(_VV + (_I4 - _VV) * on("saturation", 1.0))
  for factor in factors:
    c = matmul(jnp.broadcast_to(factor, (n, 4, 4)), c)
  return c


def apply_color(images: jax.Array, c: jax.Array) -> jax.Array:
  """Applies per-sample colour matrices.

  Args:
    images: [N, H, W, C] with C = 3 (RGB) or C = 1 (grey, see the module).
    c: [N, 4, 4] from `color_matrix`.

  Returns:
    [N, H, W, C], same dtype as `images`.
  """
  num_channels = images.shape[-1]
  x = images.astype(jnp.float32)
  if num_channels == 3:
    m = c[:, None, None, :3, :3]  # [N, 1, 1, 3, 3]
    out = jnp.sum(m * x[..., None, :], axis=-1) + c[:, None, None, :3, 3]
  elif num_channels == 1:
    row = jnp.mean(c[:, :3, :], axis=1)  # [N, 4]: mean of the RGB outputs.
    gain = jnp.sum(row[:, :3], axis=1)[:, None, None, None]  # [N, 1, 1, 1]
    out = x * gain + row[:, None, None, 3:]
  else:
    raise ValueError("colour augmentation needs RGB (C = 3) or grey (C = 1) "
                     f"images, got C = {num_channels}")
  return out.astype(images.dtype)
