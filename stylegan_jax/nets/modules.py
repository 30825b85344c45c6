"""Equalised-learning-rate dense and conv layers as Linen modules.

Parameters are stored raw and initialised from N(0, 1) (divided by the
learning-rate multiplier for dense layers), so every layer learns at the same
rate whatever its fan-in; the gains are applied in `stylegan_jax.ops.equalized`.
Parameter names (`weight`, `bias`) follow the official networks so that
weights convert by name.
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from stylegan_jax.ops import filters
from stylegan_jax.ops import equalized


def normal_init(scale: float = 1.0):
  return lambda key, shape: jax.random.normal(key, shape, jnp.float32) * scale


def constant_init(value: float):
  return lambda key, shape: jnp.full(shape, value, jnp.float32)


class Dense(nn.Module):
  """Fully connected layer; weight [in, out], bias [out]."""

  features: int
  act: str = "linear"
  lr_multiplier: float = 1.0
  bias_init: float = 0.0
  use_bias: bool = True

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[N, in] -> [N, features]."""
    weight = self.param("weight", normal_init(1 / self.lr_multiplier),
                        (x.shape[-1], self.features))
    bias = None
    if self.use_bias:
      bias = self.param("bias", constant_init(self.bias_init),
                        (self.features,))
    return equalized.dense(x, weight, bias, self.lr_multiplier, self.act)


class Conv2d(nn.Module):
  """Conv layer with optional 2x resampling; weight [k, k, in, out]."""

  features: int
  kernel_size: int
  act: str = "linear"
  use_bias: bool = True
  up: int = 1
  down: int = 1
  conv_clamp: float | None = None
  resample_filter: Sequence[float] = (1, 3, 3, 1)

  @nn.compact
  def __call__(self, x: jax.Array, gain: float = 1.0) -> jax.Array:
    """[N, H, W, in] -> [N, H * up / down, W * up / down, features]."""
    k = self.kernel_size
    weight = self.param("weight", normal_init(),
                        (k, k, x.shape[-1], self.features))
    bias = None
    if self.use_bias:
      bias = self.param("bias", nn.initializers.zeros, (self.features,))
    return equalized.conv2d(
        x, weight, bias, self.act, filters.setup_filter(self.resample_filter),
        up=self.up, down=self.down, gain=gain, conv_clamp=self.conv_clamp)
