"""pix2pix's networks (Isola et al. 2017): the U-Net G and the PatchGAN D.

Both follow the paper's appendix (6.1) and its reference code. `Ck` is a
4x4 convolution with stride 2 and k filters, then normalisation, then a
ReLU; `CDk` adds dropout (rate 0.5) after the normalisation.

* G, `UNetGenerator`: encoder C64-C128-C256-C512-C512-..., down to 1x1
  (log2(R) layers for R x R images, 8 at 256 px), decoder
  CD512-CD512-CD512-C512-C256-C128-C64 mirrored back up, with a skip
  connection from encoder layer i to the decoder layer of the same size
  (concatenated channels), then a 4x4 stride-2 transposed conv to the image
  channels and tanh. The layers are pre-activated as in the reference code:
  encoder layer i is LeakyReLU(0.2) -> conv -> norm of layer i-1's output;
  decoder layers apply ReLU to [up, skip] first. The first encoder layer
  has no norm (as in the paper), nor has the innermost one (its 1x1 map
  would normalise to zero; the reference code drops it too). Dropout is on
  in the three innermost decoder layers, in training only here: `render`,
  the held-out metrics and `translate` use `train=False`; `translate
  --dropout` runs it as the paper does at test time.
* D, `PatchDiscriminator`: the 70x70 PatchGAN on the source and the image
  concatenated along channels: C64 (no norm, stride 2), C128, C256 (stride
  2), C512 (stride 1), then a stride-1 conv to one logit per patch. Every
  ReLU is a LeakyReLU(0.2). `patch_layers` lists the (kernel, stride) stack
  and `receptive_field` computes the patch size from it (70 for 3 layers).

Normalisation (`norm`): 'instance' (the default) normalises each image on
its own: exactly the paper's batch norm at its usual batch size 1 ("instance
normalisation", as the paper calls it, which it also applies at test
time), and per image at any batch size, so an output never depends on the
rest of its batch, on the batch size or on how the batch is sharded.
'batch' uses the statistics of the current batch in training and at test
time, as the paper does for its batch-4 experiments (no running averages:
the paper never uses them, so neither network keeps state beyond its
parameters). 'none' turns it off. The affine scale is initialised from
N(1, 0.02), convolution weights from N(0, 0.02), biases at zero (the
paper's initialisation).
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

NORMS = ("instance", "batch", "none")
_EPS = 1e-5  # torch's batch/instance norm epsilon.
_INIT_STD = 0.02
_LEAK = 0.2
_KERNEL = 4


def _weight_init(key, shape, dtype=jnp.float32):
  return _INIT_STD * jax.random.normal(key, shape, dtype)


def _conv(features: int, stride: int, use_bias: bool, name: str) -> nn.Conv:
  """4x4 conv with padding 1 (halves the size at stride 2)."""
  return nn.Conv(features, (_KERNEL, _KERNEL), strides=(stride, stride),
                 padding=((1, 1), (1, 1)), use_bias=use_bias,
                 kernel_init=_weight_init, name=name)


def _deconv(features: int, use_bias: bool, name: str) -> nn.ConvTranspose:
  """4x4 transposed conv, stride 2 (torch's padding 1): doubles the size."""
  pad = _KERNEL - 1 - 1  # Padding of the dilated input for torch's p=1.
  return nn.ConvTranspose(features, (_KERNEL, _KERNEL), strides=(2, 2),
                          padding=((pad, pad), (pad, pad)), use_bias=use_bias,
                          kernel_init=_weight_init, name=name)


class Norm(nn.Module):
  """Instance or batch normalisation with an affine scale and bias.

  Attributes:
    kind: 'instance' (statistics per image and channel over H, W) or
      'batch' (per channel over N, H, W); both use the population variance,
      as torch does when it normalises.
  """

  kind: str = "instance"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x [N, H, W, C] -> normalised, scaled and shifted, [N, H, W, C]."""
    axes = (1, 2) if self.kind == "instance" else (0, 1, 2)
    mean = jnp.mean(x, axis=axes, keepdims=True)  # [N or 1, 1, 1, C]
    var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
    ch = x.shape[-1]
    scale = self.param(
        "scale", lambda k, s: 1.0 + _INIT_STD * jax.random.normal(k, s),
        (ch,))
    bias = self.param("bias", nn.initializers.zeros, (ch,))
    return (x - mean) * jax.lax.rsqrt(var + _EPS) * scale + bias


def _check_norm(norm: str) -> None:
  if norm not in NORMS:
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def unet_channels(img_resolution: int, channels: int,
                  channel_max: int) -> list[int]:
  """The encoder's widths, outermost first: min(channels * 2**i, max).

  log2(img_resolution) layers take the image down to 1x1 (64, 128, 256,
  512, 512, 512, 512, 512 at 256 px, as in the paper).
  """
  num_layers = int(np.log2(img_resolution))
  if 2**num_layers != img_resolution or num_layers < 2:
    raise ValueError(f"img_resolution must be a power of two >= 4, got "
                     f"{img_resolution}")
  return [min(channels * 2**i, channel_max) for i in range(num_layers)]


class UNetGenerator(nn.Module):
  """source [N, R, R, in_channels] -> image [N, R, R, img_channels] in [-1, 1].

  Layers: `down0` ... `down{L-1}` (encoder, `down0` outermost) with norms
  `down{i}_norm`, then `up{L-1}` ... `up1` (decoder, innermost first) with
  `up{i}_norm`, then `up0` (to the image channels, tanh). `up{i}` produces
  the size of `down{i - 1}`'s output, which is concatenated to it.

  Attributes:
    img_resolution: R, a power of two (256 in the paper).
    in_channels: channels of the source image.
    img_channels: channels of the output image.
    channels: width of the outermost layer (ngf, 64 in the paper).
    channel_max: the widest layer (ngf * 8 = 512 in the paper).
    norm: 'instance', 'batch' or 'none' (see the module docstring).
    dropout_rate: dropout of the innermost decoder layers.
    num_dropout: how many decoder layers (innermost first) use dropout.
  """

  img_resolution: int = 256
  in_channels: int = 3
  img_channels: int = 3
  channels: int = 64
  channel_max: int = 512
  norm: str = "instance"
  dropout_rate: float = 0.5
  num_dropout: int = 3

  @property
  def c_dim(self) -> int:
    """Labels: none (the training loop asks every G for its c_dim)."""
    return 0

  @nn.compact
  def __call__(self, source: jax.Array, train: bool = False) -> jax.Array:
    """Translates `source`.

    Args:
      source: [N, R, R, in_channels] in [-1, 1].
      train: apply dropout (needs a 'dropout' RNG stream).

    Returns:
      [N, R, R, img_channels] in [-1, 1].
    """
    _check_norm(self.norm)
    res = self.img_resolution
    if source.shape[1:] != (res, res, self.in_channels):
      raise ValueError(f"expected sources [N, {res}, {res}, "
                       f"{self.in_channels}], got {source.shape}")
    widths = unet_channels(res, self.channels, self.channel_max)
    num_layers = len(widths)
    use_norm = self.norm != "none"

    skips = []
    x = source.astype(jnp.float32)
    for i, width in enumerate(widths):
      normed = use_norm and 0 < i < num_layers - 1
      if i:
        x = nn.leaky_relu(x, _LEAK)
      x = _conv(width, 2, not normed, f"down{i}")(x)  # [N, R/2^(i+1), ., w]
      if normed:
        x = Norm(self.norm, name=f"down{i}_norm")(x)
      skips.append(x)

    x = skips.pop()  # The 1x1 bottleneck.
    for i in reversed(range(1, num_layers)):
      x = _deconv(widths[i - 1], not use_norm, f"up{i}")(nn.relu(x))
      if use_norm:
        x = Norm(self.norm, name=f"up{i}_norm")(x)
      if num_layers - 1 - i < self.num_dropout:  # The innermost layers.
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
      x = jnp.concatenate([x, skips.pop()], axis=-1)  # [N, s, s, 2 w]
    x = _deconv(self.img_channels, True, "up0")(nn.relu(x))  # [N, R, R, C]
    return jnp.tanh(x)


def patch_layers(num_layers: int = 3) -> list[tuple[int, int]]:
  """The PatchGAN's (kernel, stride) per conv, input first.

  `num_layers` stride-2 convs, then a stride-1 conv and the stride-1 output
  conv, all 4x4 with padding 1 (the reference code's n_layers).
  """
  return [(_KERNEL, 2)] * num_layers + [(_KERNEL, 1)] * 2


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
  """Input pixels seen by one output of a conv stack, per side.

  Walking back from one output: r <- (r - 1) * stride + kernel.
  """
  r = 1
  for kernel, stride in reversed(layers):
    r = (r - 1) * stride + kernel
  return r


def patch_output_size(img_resolution: int, num_layers: int = 3) -> int:
  """Side of D's logit map for R x R inputs (30 at 256 px, 3 layers)."""
  size = img_resolution
  for kernel, stride in patch_layers(num_layers):
    size = (size + 2 - kernel) // stride + 1
  return size


class PatchDiscriminator(nn.Module):
  """(source, image) -> one logit per patch [N, P, P, 1].

  Layers: `conv0` ... `conv{L}` with norms `conv{i}_norm` (none on
  `conv0`), then `out`.

  Attributes:
    img_resolution: R.
    in_channels: channels of the source image.
    img_channels: channels of the (real or generated) image.
    channels: width of the first layer (ndf, 64 in the paper).
    channel_max: the widest layer (ndf * 8 = 512).
    num_layers: stride-2 layers (3: the 70x70 PatchGAN).
    norm: 'instance', 'batch' or 'none'.
  """

  img_resolution: int = 256
  in_channels: int = 3
  img_channels: int = 3
  channels: int = 64
  channel_max: int = 512
  num_layers: int = 3
  norm: str = "instance"

  @property
  def receptive_field(self) -> int:
    return receptive_field(patch_layers(self.num_layers))

  @nn.compact
  def __call__(self, source: jax.Array, image: jax.Array) -> jax.Array:
    """Scores each patch of `image` as a translation of `source`.

    Args:
      source: [N, R, R, in_channels] in [-1, 1].
      image: [N, R, R, img_channels] in [-1, 1].

    Returns:
      Logits [N, P, P, 1], P = `patch_output_size(R, num_layers)`.
    """
    _check_norm(self.norm)
    res = self.img_resolution
    if (source.shape[1:] != (res, res, self.in_channels)
        or image.shape[1:] != (res, res, self.img_channels)):
      raise ValueError(f"expected [N, {res}, {res}, C] sources and images, "
                       f"got {source.shape} and {image.shape}")
    if patch_output_size(res, self.num_layers) < 1:
      raise ValueError(f"{self.num_layers} layers leave no patches of a "
                       f"{res} px image")
    x = jnp.concatenate([source, image], axis=-1).astype(jnp.float32)
    layers = patch_layers(self.num_layers)
    for i, (_, stride) in enumerate(layers[:-1]):
      width = min(self.channels * 2**i, self.channel_max)
      normed = i > 0 and self.norm != "none"
      x = _conv(width, stride, not normed, f"conv{i}")(x)  # [N, s, s, w]
      if normed:
        x = Norm(self.norm, name=f"conv{i}_norm")(x)
      x = nn.leaky_relu(x, _LEAK)
    return _conv(1, layers[-1][1], True, "out")(x)  # [N, P, P, 1]


def abstract_generator_variables(G: UNetGenerator):
  """Shapes and dtypes of G's variables, no compute.

  Returns:
    {'params': ..., 'buffers': {}}: G keeps no buffers; the empty
    collection matches the training state's `g_buffers` field (and the
    StyleGAN generators' variables).
  """
  source = jnp.zeros((1, G.img_resolution, G.img_resolution, G.in_channels))
  variables = jax.eval_shape(lambda: G.init(jax.random.key(0), source))
  return {"params": variables["params"], "buffers": {}}


def abstract_discriminator_variables(D: PatchDiscriminator):
  """Shapes and dtypes of D's variables ({'params': ...}), no compute."""
  res = D.img_resolution
  source = jnp.zeros((1, res, res, D.in_channels))
  image = jnp.zeros((1, res, res, D.img_channels))
  return jax.eval_shape(lambda: D.init(jax.random.key(0), source, image))
