"""The vanilla conv GAN of the "Vanilla GAN vs StyleGAN" comparison.

G: z -> Linear(channels * s * s), ReLU -> reshape [s, s, channels] -> per 2x
step a ConvTranspose2d(4x4, stride 2, padding 1) with channels halving, ReLU;
the last step outputs img_channels and ends in tanh.
D: per step Conv2d(4x4, stride 2, padding 1) with 64, 128, 256, ... channels,
LeakyReLU 0.2 -> flatten -> Linear(1), a logit (its sigmoid lives in the
loss, `stylegan_jax.losses`). The start map s x s comes from
`classic.upsampling_chain` (4 x 4 for 32, 64, ...; 7 x 7 for 28 x 28).

Both networks are BatchNorm-free, a choice made on purpose: the project's
train state carries no mutable `batch_stats` and its steps apply D and G as
pure functions, and BatchNorm in D would couple the samples of a batch,
which the per-sample gradient penalties (WGAN-GP, R1) assume independent
(Gulrajani et al. drop it from the critic for this reason). Layers are
PyTorch's, with its default initialisers (`classic.torch_uniform_init`), and
the transposed convs compute exactly PyTorch's ConvTranspose2d(k=4, s=2,
p=1) (kernel [4, 4, out, in]: PyTorch's [in, out, 4, 4] weight transposed by
(2, 3, 1, 0)); only the flatten order (here H, W, C) differs from a PyTorch NCHW
view, which permutes Linear units and so leaves the function family and the
init distribution unchanged.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from stylegan_jax.nets import classic

_K = 4  # Kernel size of every (transposed) conv.
_P = 1  # PyTorch padding: with stride 2, the map doubles or halves exactly.


class VanillaGenerator(nn.Module):
  """z [N, z_dim] (, c [N, c_dim]) -> images [N, R, R, img_channels] in [-1, 1].

  Layers: `fc`, then `up0`, `up1`, ... (one per 2x step; the last one is
  the output layer).

  Attributes:
    z_dim: latent size.
    c_dim: label size; 0 for unconditional (c is concatenated to z).
    img_resolution: output size, 4-7 times a power of two (28, 32, 64, ...).
    img_channels: 1 (grayscale) or 3 (RGB).
    channels: feature maps of the start map; step i outputs
      max(channels // 2**(i + 1), channel_min) (img_channels for the last).
    channel_min: fewest feature maps of a hidden layer.
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
    x = classic.torch_dense(self.channels * start * start, x.shape[1], "fc")(x)
    x = jax.nn.relu(x).reshape(n, start, start, self.channels)
    for i in range(steps):
      last = i == steps - 1
      features = (self.img_channels if last
                  else max(self.channels // 2**(i + 1), self.channel_min))
      # PyTorch's ConvTranspose2d fan-in is out_channels * k * k.
      init = classic.torch_uniform_init(features * _K * _K)
      # transpose_kernel: the gradient of a conv, PyTorch's definition; the
      # dilated input is padded by k - 1 - p on each side.
      x = nn.ConvTranspose(
          features, (_K, _K), strides=(2, 2),
          padding=((_K - 1 - _P, _K - 1 - _P),) * 2, transpose_kernel=True,
          kernel_init=init, bias_init=init, name=f"up{i}")(x)  # [N, 2H, 2W, F]
      x = jnp.tanh(x) if last else jax.nn.relu(x)
    return x


class VanillaDiscriminator(nn.Module):
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
  channel_max: int = 512

  @nn.compact
  def __call__(self, img: jax.Array, c: jax.Array | None = None) -> jax.Array:
    """Scores images; returns logits [N, 1]."""
    _, steps = classic.upsampling_chain(self.img_resolution)
    x = classic.conv_discriminator_input(
        img, c, self.img_resolution, self.img_channels, self.c_dim)
    for i in range(steps):
      features = min(self.channels * 2**i, self.channel_max)
      init = classic.torch_uniform_init(x.shape[-1] * _K * _K)
      x = nn.Conv(features, (_K, _K), strides=(2, 2),
                  padding=((_P, _P), (_P, _P)), kernel_init=init,
                  bias_init=init, name=f"conv{i}")(x)  # [N, H/2, W/2, F]
      x = jax.nn.leaky_relu(x, 0.2)
    x = x.reshape(x.shape[0], -1)  # [N, s * s * F]
    return classic.torch_dense(1, x.shape[1], "out")(x)
