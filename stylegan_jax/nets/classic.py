"""What the classic GAN baselines (`mlp`, `dcgan`, `vanilla`) share.

Owns the pieces the three recipes have in common: their frameworks' default
initialisers (a recipe trains from them, so they are part of the recipe),
label conditioning by concatenation and the start resolution of a 2x
upsampling chain. Each recipe's training settings (loss, optimiser, batch)
live in its experiment file (`experiments/mlp_gan.py`, `dcgan.py`,
`vanilla_gan.py`).

Conditioning (optional, `c_dim > 0`) is the conditional GAN of Mirza and
Osindero (2014): G reads concat(z, c); D reads its input with c appended, to
the flattened image for an MLP and as `c_dim` constant planes for a conv net.
With `c_dim = 0` every network is exactly its recipe.
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

# Keras `Dense` and `Conv2D` defaults: glorot_uniform kernels,
# U(+-sqrt(6 / (fan_in + fan_out))) with both fans multiplied by the receptive
# field (Flax counts them the same way), and zero biases.
keras_kernel_init = nn.initializers.glorot_uniform()
keras_bias_init = nn.initializers.zeros


def torch_uniform_init(fan_in: int) -> nn.initializers.Initializer:
  """PyTorch's default init of Linear/Conv2d/ConvTranspose2d params.

  Weights use kaiming_uniform(a=sqrt(5)): bound gain * sqrt(3 / fan_in) with
  gain = sqrt(2 / (1 + a^2)) = sqrt(1 / 3), i.e. 1 / sqrt(fan_in). Biases
  use U(+-1 / sqrt(fan_in)). So one initialiser serves both.

  Args:
    fan_in: PyTorch's fan-in of the layer's weight: in_features for Linear,
      in_channels * k * k for Conv2d, and out_channels * k * k for
      ConvTranspose2d (PyTorch reads dim 1 of its [in, out, k, k] weight).

  Returns:
    An initialiser drawing U(-1 / sqrt(fan_in), 1 / sqrt(fan_in)).
  """
  bound = 1 / math.sqrt(fan_in)

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


def keras_dense(features: int, name: str) -> nn.Dense:
  """Keras `Dense(features)` with its default initialisers."""
  return nn.Dense(features, kernel_init=keras_kernel_init,
                  bias_init=keras_bias_init, name=name)


def torch_dense(features: int, fan_in: int, name: str) -> nn.Dense:
  """PyTorch `Linear(fan_in, features)` with its default initialisers."""
  init = torch_uniform_init(fan_in)
  return nn.Dense(features, kernel_init=init, bias_init=init, name=name)


def check_labels(c: jax.Array | None, c_dim: int, n: int) -> jax.Array | None:
  """Validates labels: float32 c [n, c_dim], or None when c_dim is 0.

  Args:
    c: one-hot labels [n, c_dim]; None or [n, 0] for an unconditional net.
    c_dim: the network's label size.
    n: batch size.
  """
  if c_dim == 0:
    if c is not None and c.shape[-1] != 0:
      raise ValueError(f"this network is unconditional (c_dim=0) but got "
                       f"labels of shape {c.shape}; pass c=None")
    return None
  if c is None or tuple(c.shape) != (n, c_dim):
    got = None if c is None else tuple(c.shape)
    raise ValueError(f"labels c must be one-hot [{n}, {c_dim}], got {got}")
  return c.astype(jnp.float32)


def generator_input(z: jax.Array, c: jax.Array | None, z_dim: int,
                    c_dim: int) -> jax.Array:
  """Validates z [N, z_dim] and c; returns concat(z, c) [N, z_dim + c_dim]."""
  if z.ndim != 2 or z.shape[1] != z_dim:
    raise ValueError(f"z must be [N, {z_dim}], got {z.shape}")
  x = z.astype(jnp.float32)
  c = check_labels(c, c_dim, z.shape[0])
  return x if c is None else jnp.concatenate([x, c], axis=1)


def check_images(img: jax.Array, img_resolution: int,
                 img_channels: int) -> None:
  """Raises ValueError unless img is [N, img_resolution, img_resolution, C]."""
  expected = (img_resolution, img_resolution, img_channels)
  if img.ndim != 4 or img.shape[1:] != expected:
    raise ValueError(f"images must be [N, {', '.join(map(str, expected))}]"
                     f" (NHWC), got {img.shape}")


def conv_discriminator_input(img: jax.Array, c: jax.Array | None,
                             img_resolution: int, img_channels: int,
                             c_dim: int) -> jax.Array:
  """Validates img and c; returns img with c as constant planes appended.

  Args:
    img: images [N, img_resolution, img_resolution, img_channels].
    c: one-hot labels [N, c_dim]; None when c_dim is 0.
    img_resolution, img_channels, c_dim: the network's sizes.

  Returns:
    float32 [N, R, R, img_channels + c_dim].
  """
  check_images(img, img_resolution, img_channels)
  x = img.astype(jnp.float32)
  c = check_labels(c, c_dim, img.shape[0])
  if c is None:
    return x
  planes = jnp.broadcast_to(c[:, None, None, :],
                            x.shape[:3] + c.shape[-1:])  # [N, R, R, c_dim]
  return jnp.concatenate([x, planes], axis=-1)


def upsampling_chain(img_resolution: int) -> tuple[int, int]:
  """Splits img_resolution = start * 2**steps with start in [4, 7], steps >= 1.

  28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4), 48 -> (6, 3): a generator starts
  from a start x start map and doubles it `steps` times; a discriminator
  halves the image back to start x start.

  Raises:
    ValueError: img_resolution is not of that form.
  """
  start, steps = img_resolution, 0
  while start > 7 and start % 2 == 0:
    start, steps = start // 2, steps + 1
  if steps == 0 or start < 4 or start > 7:
    raise ValueError(
        f"img_resolution must be 4, 5, 6 or 7 times a power of two, at least "
        f"8 (e.g. 28, 32, 64), got {img_resolution}")
  return start, steps
