"""Discriminator: image (and label) -> logit, blocks from full res down to 4x4.

Owns the `orig`/`skip`/`resnet` block wiring, the 4x4 epilogue (minibatch
stddev, conv, fc, out) and conditioning by projection onto a label embedding
produced by a label-only mapping network. Each block's output features are
sown into the `features` collection as `res{res}` (read them with
`apply(..., mutable=["features"])`).

Mixed precision (the official `num_fp16_res`): the blocks at the highest
`num_fp16_res` resolutions (`synthesis.block_dtype`) cast their inputs
(features and, when they read it, the image) to a low-precision dtype and
compute in it; parameters stay float32, and the 4x4 epilogue, the label
mapping and the logits are float32.
"""

from collections.abc import Sequence
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from stylegan_jax.nets.modules import Conv2d
from stylegan_jax.nets.modules import Dense
from stylegan_jax.nets.mapping import MappingNetwork
from stylegan_jax.nets.mapping import check_labels
from stylegan_jax.nets.synthesis import ARCHITECTURES
from stylegan_jax.nets.synthesis import block_dtype
from stylegan_jax.nets.synthesis import block_resolutions
from stylegan_jax.nets.synthesis import channels_at
from stylegan_jax.ops import filters
from stylegan_jax.ops import equalized


class DiscriminatorBlock(nn.Module):
  """One resolution: [fromRGB] -> conv0 -> conv1 (down 2) [+ skip]."""

  first: bool  # The highest-resolution block, which always reads the image.
  tmp_channels: int
  out_channels: int
  architecture: str = "resnet"
  conv_clamp: float | None = None
  resample_filter: Sequence[float] = (1, 3, 3, 1)
  dtype: Any = jnp.float32  # Compute dtype; x and img are cast to it.

  @nn.compact
  def __call__(self, x: jax.Array | None, img: jax.Array | None):
    """x [N, R, R, tmp] or None, img [N, R, R, C] or None -> halves both.

    Both outputs are in `dtype`.
    """
    f = filters.setup_filter(self.resample_filter)
    if x is not None:
      x = x.astype(self.dtype)
    conv_kwargs = dict(act="lrelu", conv_clamp=self.conv_clamp,
                       resample_filter=self.resample_filter)
    if self.first or self.architecture == "skip":
      img = img.astype(self.dtype)
      y = Conv2d(self.tmp_channels, 1, name="fromrgb", **conv_kwargs)(img)
      x = y if x is None else x + y
      img = filters.downsample2d(img, f) if self.architecture == "skip" else None
    conv0 = Conv2d(self.tmp_channels, 3, name="conv0", **conv_kwargs)
    conv1 = Conv2d(self.out_channels, 3, down=2, name="conv1", **conv_kwargs)
    if self.architecture == "resnet":
      skip = Conv2d(self.out_channels, 1, use_bias=False, down=2,
                    resample_filter=self.resample_filter, name="skip")
      y = skip(x, gain=math.sqrt(0.5))
      x = conv1(conv0(x), gain=math.sqrt(0.5))
      x = y + x
    else:
      x = conv1(conv0(x))
    return x, img


class DiscriminatorEpilogue(nn.Module):
  """4x4: [fromRGB] -> mbstd -> conv -> fc -> out [-> cmap projection]."""

  channels: int
  cmap_dim: int
  architecture: str = "resnet"
  mbstd_group_size: int | None = 4
  mbstd_num_channels: int = 1
  conv_clamp: float | None = None

  @nn.compact
  def __call__(self, x: jax.Array, img: jax.Array | None,
               cmap: jax.Array | None) -> jax.Array:
    """x [N, 4, 4, C], img [N, 4, 4, img_C] ('skip'), cmap [N, cmap_dim].

    Computes in float32 whatever the dtype of x and img.
    """
    x = x.astype(jnp.float32)
    if self.architecture == "skip":  # This fromRGB is never clamped.
      img = img.astype(jnp.float32)
      x = x + Conv2d(self.channels, 1, act="lrelu", name="fromrgb")(img)
    if self.mbstd_num_channels > 0:
      x = equalized.minibatch_std(x, self.mbstd_group_size,
                               self.mbstd_num_channels)  # [N, 4, 4, C + F]
    x = Conv2d(self.channels, 3, act="lrelu", conv_clamp=self.conv_clamp,
               name="conv")(x)
    # Flatten in NCHW order (c * 16 + h * 4 + w), the fc weights' row order.
    x = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)  # [N, C*16]
    x = Dense(self.channels, act="lrelu", name="fc")(x)
    x = Dense(self.cmap_dim or 1, name="out")(x)  # [N, cmap_dim or 1]
    if self.cmap_dim > 0:
      x = jnp.sum(x * cmap, axis=1, keepdims=True) * (
          1 / math.sqrt(self.cmap_dim))
    return x


class Discriminator(nn.Module):
  """img [N, H, W, img_channels] in [-1, 1], c [N, c_dim] -> logits [N, 1].

  Attributes:
    c_dim: label size; 0 for unconditional.
    img_resolution, img_channels: input image size.
    architecture: 'orig', 'skip' or 'resnet' (default).
    channel_base, channel_max: feature maps per resolution.
    conv_clamp: clamp conv outputs (None: no clamping).
    cmap_dim: label-embedding size (default: channels at 4x4).
    mbstd_group_size, mbstd_num_channels: minibatch stddev settings.
    mapping_layers, mapping_lr_multiplier: the label mapping network.
    resample_filter: 1-D FIR taps for down-sampling.
    num_fp16_res, fp16_dtype: mixed precision; the blocks at the highest
      num_fp16_res resolutions compute in fp16_dtype ('bfloat16' or
      'float16'; see `synthesis.block_dtype`). 0: float32 everywhere.
  """

  c_dim: int = 0
  img_resolution: int = 256
  img_channels: int = 3
  architecture: str = "resnet"
  channel_base: int = 32768
  channel_max: int = 512
  conv_clamp: float | None = None
  cmap_dim: int | None = None
  mbstd_group_size: int | None = 4
  mbstd_num_channels: int = 1
  mapping_layers: int = 8
  mapping_lr_multiplier: float = 0.01
  resample_filter: Sequence[float] = (1, 3, 3, 1)
  num_fp16_res: int = 0
  fp16_dtype: str = "bfloat16"

  @nn.compact
  def __call__(self, img: jax.Array, c: jax.Array | None = None) -> jax.Array:
    """Scores images; returns logits [N, 1]."""
    if self.architecture not in ARCHITECTURES:
      raise ValueError(f"architecture must be one of {ARCHITECTURES}, "
                       f"got {self.architecture!r}")
    expected = (self.img_resolution, self.img_resolution, self.img_channels)
    if img.shape[1:] != expected:
      raise ValueError(f"images must be [N, {', '.join(map(str, expected))}]"
                       f" (NHWC), got {img.shape}")
    check_labels(c, self.c_dim, "this discriminator")

    def ch(res):
      return channels_at(res, self.channel_base, self.channel_max)

    x = None
    img = img.astype(jnp.float32)
    for res in reversed(block_resolutions(self.img_resolution)[1:]):
      x, img = DiscriminatorBlock(
          first=res == self.img_resolution, tmp_channels=ch(res),
          out_channels=ch(res // 2), architecture=self.architecture,
          conv_clamp=self.conv_clamp, resample_filter=self.resample_filter,
          dtype=block_dtype(res, self.img_resolution, self.num_fp16_res,
                            self.fp16_dtype),
          name=f"b{res}")(x, img)
      if not self.is_initializing():  # Features are outputs, not variables.
        self.sow("features", f"res{res}", x)
    cmap_dim = 0
    cmap = None
    if self.c_dim > 0:
      cmap_dim = self.cmap_dim if self.cmap_dim is not None else ch(4)
      cmap = MappingNetwork(
          z_dim=0, c_dim=self.c_dim, w_dim=cmap_dim, num_ws=None,
          num_layers=self.mapping_layers,
          lr_multiplier=self.mapping_lr_multiplier, w_avg_beta=None,
          name="mapping")(None, c)
    return DiscriminatorEpilogue(
        channels=ch(4), cmap_dim=cmap_dim, architecture=self.architecture,
        mbstd_group_size=self.mbstd_group_size,
        mbstd_num_channels=self.mbstd_num_channels,
        conv_clamp=self.conv_clamp, name="b4")(x, img, cmap)
