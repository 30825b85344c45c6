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
p=1) (`ConvTranspose4x4`, in sub-pixel form; kernel [4, 4, out, in]:
PyTorch's [in, out, 4, 4] weight transposed by (2, 3, 1, 0)); only the
flatten order (here H, W, C) differs from a PyTorch NCHW view, which
permutes Linear units and so leaves the function family and the init
distribution unchanged.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from stylegan_jax.nets import classic

_K = 4  # Kernel size of every (transposed) conv.
_P = 1  # PyTorch padding: with stride 2, the map doubles or halves exactly.


# Sub-pixel taps of ConvTranspose2d(4, stride 2, padding 1): output row
# 2m + r reads padded input rows m + u (u = 0, 1, 2) through kernel row
# _TAPS[r][u] (None: no tap).
_TAPS = ((3, 1, None), (None, 2, 0))


class ConvTranspose4x4(nn.Module):
  """PyTorch's ConvTranspose2d(in, features, 4, stride 2, padding 1), NHWC.

  The same function as a conv over the 2x zero-dilated input (PyTorch's
  definition, tested against it), computed without the zeros: one 3 x 3
  conv over the 1-padded input into 4 * features maps (one per output
  phase (r, s), its kernel gathered from the 4 x 4 one by `_TAPS`), then
  interleaved. About 2x faster on a CPU than the dilated conv.

  Attributes:
    features: output maps.
  """

  features: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x [N, H, W, C] -> [N, 2H, 2W, features]."""
    n, h, w, c = x.shape
    # PyTorch's ConvTranspose2d fan-in is out_channels * k * k.
    init = classic.torch_uniform_init(self.features * _K * _K)
    # [4, 4, out, in]: PyTorch's [in, out, 4, 4] weight transposed (2, 3, 1, 0).
    kernel = self.param("kernel", init, (_K, _K, self.features, c))
    bias = self.param("bias", init, (self.features,))
    zero = jnp.zeros((c, self.features), kernel.dtype)

    def tap(u, v, r, s):  # [in, out]
      a, b = _TAPS[r][u], _TAPS[s][v]
      return zero if a is None or b is None else kernel[a, b].T

    k3 = jnp.stack([jnp.stack([
        jnp.stack([jnp.stack([tap(u, v, r, s) for s in range(2)], axis=1)
                   for r in range(2)], axis=1)  # [in, 2, 2, out]
        for v in range(3)]) for u in range(3)])  # [3, 3, in, 2, 2, out]
    k3 = k3.reshape(3, 3, c, 4 * self.features)
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))  # [N, H+2, W+2, C]
    y = jax.lax.conv_general_dilated(
        xp, k3, (1, 1), "VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"))  # [N, H, W, 4 F]
    y = y.reshape(n, h, w, 2, 2, self.features).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(n, 2 * h, 2 * w, self.features) + bias  # [N, 2H, 2W, F]


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
      x = ConvTranspose4x4(features, name=f"up{i}")(x)  # [N, 2H, 2W, F]
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
