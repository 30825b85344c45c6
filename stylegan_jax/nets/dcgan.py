"""The DCGAN-style art generator and its discriminator (a Keras recipe).

G: z [100] -> Dense(256 * s * s) -> reshape [s, s, 256] -> per 2x step:
UpSampling2D (nearest) + Conv2D(3x3, 'same', relu) with 128, 64, 32, ...
channels -> Conv2D(img_channels, 3x3, 'same', tanh).
D: per step Conv2D(3x3, stride 2, 'same', relu) with 64, 128, 256, ...
channels -> Flatten -> Dense(1).

The start map s x s comes from `classic.upsampling_chain`: 4 x 4 for 32, 64,
..., and 7 x 7 for 28 x 28 images (7 -> 14 -> 28), so the chain lands exactly
on the resolution without cropping. D halves the image the same number of
times, so it ends at s x s too.

As in the recipe, G's Dense has Keras' default linear activation, and all
layers use Keras' default initialisers (glorot_uniform weights, zero biases).
G's tanh output is already in [-1, 1]. D returns logits: the recipe's final
sigmoid lives in the loss (`stylegan_jax.losses`).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from stylegan_jax.nets import classic


def _conv(features: int, strides: int, name: str) -> nn.Conv:
  """Keras Conv2D(features, 3x3, strides, 'same') with default inits."""
  return nn.Conv(features, (3, 3), strides=(strides, strides),
                 padding="SAME", kernel_init=classic.keras_kernel_init,
                 bias_init=classic.keras_bias_init, name=name)


class DCGANGenerator(nn.Module):
  """z [N, z_dim] (, c [N, c_dim]) -> images [N, R, R, img_channels] in [-1, 1].

  Layers: `fc`, then `conv0`, `conv1`, ... (one per 2x step), then `torgb`.

  Attributes:
    z_dim: latent size.
    c_dim: label size; 0 for unconditional (c is concatenated to z).
    img_resolution: output size, 4-7 times a power of two (28, 32, 64, ...).
    img_channels: 1 (grayscale) or 3 (RGB).
    channels: feature maps of the start map; step i has
      max(channels // 2**(i + 1), channel_min).
    channel_min: fewest feature maps of an upsampling conv.
  """

  z_dim: int = 100
  c_dim: int = 0
  img_resolution: int = 32
  img_channels: int = 3
  channels: int = 256
  channel_min: int = 16

  @nn.compact
  def __call__(self, z: jax.Array, c: jax.Array | None = None) -> jax.Array:
    """Generates images [N, R, R, img_channels]."""
    start, steps = classic.upsampling_chain(self.img_resolution)
    n = z.shape[0]
    x = classic.generator_input(z, c, self.z_dim, self.c_dim)  # [N, z + c]
    x = classic.keras_dense(self.channels * start * start, "fc")(x)
    x = x.reshape(n, start, start, self.channels)  # [N, s, s, channels]
    for i in range(steps):
      x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)  # [N, 2H, 2W, C]
      features = max(self.channels // 2**(i + 1), self.channel_min)
      x = jax.nn.relu(_conv(features, 1, f"conv{i}")(x))
    return jnp.tanh(_conv(self.img_channels, 1, "torgb")(x))  # [N, R, R, C]


class DCGANDiscriminator(nn.Module):
  """images [N, R, R, img_channels] (, c [N, c_dim]) -> logits [N, 1].

  Layers: `conv0`, `conv1`, ... (one per 2x step), then `out`.

  Attributes:
    c_dim: label size; 0 for unconditional (c enters as constant planes).
    img_resolution: input size, 4-7 times a power of two (28, 32, 64, ...).
    img_channels: 1 (grayscale) or 3 (RGB).
    channels: feature maps of the first conv; conv i has
      min(channels * 2**i, channel_max).
    channel_max: most feature maps of a conv.
  """

  c_dim: int = 0
  img_resolution: int = 32
  img_channels: int = 3
  channels: int = 64
  channel_max: int = 256

  @nn.compact
  def __call__(self, img: jax.Array, c: jax.Array | None = None) -> jax.Array:
    """Scores images; returns logits [N, 1]."""
    _, steps = classic.upsampling_chain(self.img_resolution)
    x = classic.conv_discriminator_input(
        img, c, self.img_resolution, self.img_channels, self.c_dim)
    for i in range(steps):
      features = min(self.channels * 2**i, self.channel_max)
      x = jax.nn.relu(_conv(features, 2, f"conv{i}")(x))  # [N, H/2, W/2, F]
    x = x.reshape(x.shape[0], -1)  # Keras' Flatten of NHWC: H, W, C order.
    return classic.keras_dense(1, "out")(x)
