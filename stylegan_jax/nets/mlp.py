"""The MLP GAN on flattened images (784 = 28 x 28 x 1 pixels by default).

Two variants of the classic fully connected GAN, selected by name:

* `keras`: G  z -> Dense 128 relu -> Dense 128 relu -> Dense 784 sigmoid;
           D  x -> Dense 128 relu -> Dense 128 relu -> Dense 1 sigmoid.
           Keras defaults: glorot_uniform weights, zero biases.
* `torch`: G  z -> Linear 128, LeakyReLU 0.2 -> Linear 128, LeakyReLU 0.2 ->
           Linear 784, Tanh;
           D  x -> Linear 128, LeakyReLU 0.2 -> Linear 128, LeakyReLU 0.2 ->
           Linear 1, Sigmoid.
           PyTorch defaults: U(+-1 / sqrt(fan_in)) weights and biases.

Project conventions: images are NHWC in [-1, 1] and D returns logits, its
sigmoid moving into the loss (`stylegan_jax.losses`), which computes the
cross-entropy stably from logits. The keras G's sigmoid output y in [0, 1]
becomes 2y - 1 (= tanh(a / 2) of its pre-activation a), and the keras D maps
its [-1, 1] input back to (x + 1) / 2, the [0, 1] pixels that recipe trains
on; so both networks compute exactly the recipe's functions. The torch
recipe works in [-1, 1] already. Pixels are flattened in row-major H, W, C
order, as a flattened MNIST image is.
"""

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from stylegan_jax.nets import classic

MLP_VARIANTS: tuple[str, ...] = ("keras", "torch")


def _check_variant(variant: str) -> None:
  if variant not in MLP_VARIANTS:
    raise ValueError(
        f"MLP variant must be one of {MLP_VARIANTS}, got {variant!r}")


def _activation(variant: str) -> Callable[[jax.Array], jax.Array]:
  if variant == "keras":
    return jax.nn.relu
  return lambda x: jax.nn.leaky_relu(x, 0.2)


def _dense(variant: str, features: int, fan_in: int, name: str) -> nn.Dense:
  """A fully connected layer with `variant`'s default initialisers."""
  if variant == "keras":
    return classic.keras_dense(features, name)
  return classic.torch_dense(features, fan_in, name)


class MLPGenerator(nn.Module):
  """z [N, z_dim] (, c [N, c_dim]) -> images [N, R, R, img_channels] in [-1, 1].

  Layers are `fc0`, `fc1`, ... (one per hidden size) and `out`.

  Attributes:
    variant: 'keras' or 'torch' (see the module docstring).
    z_dim: latent size.
    c_dim: label size; 0 for unconditional (c is concatenated to z).
    img_resolution, img_channels: output image size.
    hidden: hidden layer widths.
  """

  variant: str = "torch"
  z_dim: int = 100
  c_dim: int = 0
  img_resolution: int = 28
  img_channels: int = 1
  hidden: Sequence[int] = (128, 128)

  @nn.compact
  def __call__(self, z: jax.Array, c: jax.Array | None = None) -> jax.Array:
    """Generates images [N, R, R, img_channels]."""
    _check_variant(self.variant)
    n = z.shape[0]
    x = classic.generator_input(z, c, self.z_dim, self.c_dim)  # [N, z + c]
    act = _activation(self.variant)
    for i, features in enumerate(self.hidden):
      x = act(_dense(self.variant, features, x.shape[1], f"fc{i}")(x))
    res, ch = self.img_resolution, self.img_channels
    x = _dense(self.variant, res * res * ch, x.shape[1], "out")(x)
    # keras: 2 * sigmoid(x) - 1, written as tanh(x / 2); torch: tanh.
    x = jnp.tanh(0.5 * x) if self.variant == "keras" else jnp.tanh(x)
    return x.reshape(n, res, res, ch)  # [N, R, R, C]


class MLPDiscriminator(nn.Module):
  """images [N, R, R, img_channels] (, c [N, c_dim]) -> logits [N, 1].

  Layers are `fc0`, `fc1`, ... (one per hidden size) and `out`.

  Attributes:
    variant: 'keras' or 'torch' (see the module docstring).
    c_dim: label size; 0 for unconditional (c is concatenated to the pixels).
    img_resolution, img_channels: input image size.
    hidden: hidden layer widths.
  """

  variant: str = "torch"
  c_dim: int = 0
  img_resolution: int = 28
  img_channels: int = 1
  hidden: Sequence[int] = (128, 128)

  @nn.compact
  def __call__(self, img: jax.Array, c: jax.Array | None = None) -> jax.Array:
    """Scores images; returns logits [N, 1]."""
    _check_variant(self.variant)
    classic.check_images(img, self.img_resolution, self.img_channels)
    n = img.shape[0]
    c = classic.check_labels(c, self.c_dim, n)
    x = img.astype(jnp.float32).reshape(n, -1)  # [N, R * R * C]
    if self.variant == "keras":
      x = (x + 1) * 0.5  # The recipe's [0, 1] pixels.
    if c is not None:
      x = jnp.concatenate([x, c], axis=1)
    act = _activation(self.variant)
    for i, features in enumerate(self.hidden):
      x = act(_dense(self.variant, features, x.shape[1], f"fc{i}")(x))
    return _dense(self.variant, 1, x.shape[1], "out")(x)  # [N, 1]
