"""Progressively grown StyleGAN networks (ProGAN / StyleGAN 1 growing).

Built from the StyleGAN2 blocks (`SynthesisBlock`, `DiscriminatorBlock`,
`DiscriminatorEpilogue`), wired as ProGAN grows its networks: every
resolution has its own toRGB (G) and fromRGB (D) layer, and a training stage
uses the blocks up to its resolution `img_resolution`. Parameters for every
resolution up to `max_resolution` are created at `init` whatever the stage,
so the variables' shapes never change while the networks grow.

While a new resolution R fades in (`fading=True`), with alpha going 0 -> 1:

* G's image is `(1 - alpha) * up(toRGB_{R/2}(x_{R/2})) + alpha *
  toRGB_R(x_R)`, `up` the nearest-neighbour up-sampling (ProGAN's
  `upscale2d`); at alpha 0 it is exactly the R/2 network's image, up-sampled,
  and at alpha 1 exactly the new block's image.
* D's input path is `(1 - alpha) * fromRGB_{R/2}(down(img)) + alpha *
  block_R(fromRGB_R(img))`, `down` the 2x2 box average (`downscale2d`),
  which then runs through the blocks below R.

G reads alpha from its `alpha` buffer (like ProGAN's `lod` variable, set by
the training loop, so a checkpoint's G_ema renders what training saw); D
takes it as an argument. The block wiring is `orig` or `resnet` (the skip
architectures already blend resolutions in image space and do not grow).

`create_networks(config, c_dim, ...)` builds them from an experiment config
(at the final resolution; the training algorithm re-clones them per stage),
`generator_uses` / `discriminator_uses` say which parameters a stage
trains, and `to_stylegan2` turns fully grown networks into the plain
StyleGAN2 `Generator` / `Discriminator` they equal (for exports).
"""

from collections.abc import Mapping, Sequence
import re
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from stylegan_jax import tree_util
from stylegan_jax.nets.discriminator import Discriminator
from stylegan_jax.nets.discriminator import DiscriminatorBlock
from stylegan_jax.nets.discriminator import DiscriminatorEpilogue
from stylegan_jax.nets.generator import Generator
from stylegan_jax.nets.mapping import MappingNetwork
from stylegan_jax.nets.mapping import check_labels
from stylegan_jax.nets.modules import Conv2d
from stylegan_jax.nets.synthesis import NOISE_MODES
from stylegan_jax.nets.synthesis import SynthesisBlock
from stylegan_jax.nets.synthesis import block_resolutions
from stylegan_jax.nets.synthesis import channels_at
from stylegan_jax.nets.synthesis import noise_layer_names
from stylegan_jax.nets.synthesis import num_ws_for
from stylegan_jax.nets.synthesis import ws_windows
from stylegan_jax.ops import filters
from stylegan_jax.ops import modconv

ARCHITECTURES = ("orig", "resnet")  # Block wiring that can grow.


def _check(architecture: str, img_resolution: int,
           max_resolution: int, fading: bool) -> None:
  if architecture not in ARCHITECTURES:
    raise ValueError(f"progressive networks need architecture 'orig' or "
                     f"'resnet', got {architecture!r}")
  if img_resolution not in block_resolutions(max_resolution):
    raise ValueError(f"img_resolution={img_resolution} must be a power of "
                     f"two in [4, max_resolution={max_resolution}]")
  if fading and img_resolution == 4:
    raise ValueError("the 4x4 stage cannot fade in (there is no lower one)")


def blend(low: jax.Array, high: jax.Array, alpha: float | jax.Array
          ) -> jax.Array:
  """(1 - alpha) * low + alpha * high: exactly low at 0 and high at 1."""
  return (1 - alpha) * low + alpha * high


class ProgressiveSynthesis(nn.Module):
  """ws [N, num_ws, w_dim] -> images [N, R, R, img_channels], R the stage's.

  Attributes:
    w_dim: intermediate-latent size.
    img_resolution: the stage's output resolution R.
    max_resolution: the final resolution (blocks exist up to it).
    fading: blend the R/2 image in with `alpha` (see the module docstring).
    img_channels, channel_base, channel_max, architecture, conv_clamp,
      resample_filter, fused_modconv: as `SynthesisNetwork`.
  """

  w_dim: int
  img_resolution: int
  max_resolution: int
  fading: bool = False
  img_channels: int = 3
  channel_base: int = 32768
  channel_max: int = 512
  architecture: str = "orig"
  conv_clamp: float | None = None
  resample_filter: Sequence[float] = (1, 3, 3, 1)
  fused_modconv: bool = False

  @property
  def num_ws(self) -> int:
    return num_ws_for(self.img_resolution)

  @nn.compact
  def __call__(self, ws: jax.Array, alpha: float | jax.Array = 1.0,
               noise_mode: str = "random",
               noise: Mapping[str, jax.Array] | None = None) -> jax.Array:
    """Synthesises the stage's images.

    Args:
      ws: [N, num_ws, w_dim], num_ws that of the stage's resolution.
      alpha: fade-in coefficient in [0, 1] (used when `fading`).
      noise_mode: 'random', 'const' or 'none' (see `SynthesisNetwork`).
      noise: optional explicit noise maps by layer name
        (`noise_layer_names(img_resolution)`), each [N, res, res, 1].

    Returns:
      [N, img_resolution, img_resolution, img_channels], about [-1, 1].
    """
    _check(self.architecture, self.img_resolution, self.max_resolution,
           self.fading)
    if noise_mode not in NOISE_MODES:
      raise ValueError(f"noise_mode must be one of {NOISE_MODES}, "
                       f"got {noise_mode!r}")
    if ws.shape[1:] != (self.num_ws, self.w_dim):
      raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], "
                       f"got {ws.shape}")
    noise = dict(noise or {})
    unknown = sorted(set(noise) - set(noise_layer_names(self.img_resolution)))
    if unknown:
      raise ValueError(f"no noise layers named {unknown}; valid: "
                       f"{noise_layer_names(self.img_resolution)}")
    top = self.img_resolution
    if self.is_initializing():  # Create every resolution's parameters.
      top = self.max_resolution
      extra = num_ws_for(top) - ws.shape[1]
      ws = jnp.concatenate([ws, jnp.repeat(ws[:, -1:], extra, axis=1)], 1)
    x, images = None, {}
    for res, start, count in ws_windows(top, "skip"):  # A toRGB per block.
      block = SynthesisBlock(
          in_channels=(channels_at(res // 2, self.channel_base,
                                   self.channel_max) if res > 4 else 0),
          out_channels=channels_at(res, self.channel_base, self.channel_max),
          resolution=res, img_channels=self.img_channels, is_last=True,
          architecture=self.architecture, conv_clamp=self.conv_clamp,
          resample_filter=self.resample_filter,
          fused_modconv=self.fused_modconv, name=f"b{res}")
      layer_noise = {k.split("/")[1]: v for k, v in noise.items()
                     if k.startswith(f"b{res}/")}
      x, images[res] = block(x, None, ws[:, start:start + count], noise_mode,
                             layer_noise)
      if not self.is_initializing():  # Features are outputs, not variables.
        self.sow("features", f"res{res}", x)
    res = self.img_resolution
    img = images[res]  # [N, R, R, C]
    if self.fading:
      low = filters.nearest_upsample(images[res // 2])  # [N, R, R, C]
      img = blend(low, img, alpha)
    return img


class ProgressiveGenerator(Generator):
  """A `Generator` whose synthesis grows (`ProgressiveSynthesis`).

  `img_resolution` is the stage's output resolution and `num_ws` its ws
  count (the mapping network broadcasts to it, so style mixing picks its
  cutoff among the layers in use, as StyleGAN 1 does); `max_resolution`
  (default: `img_resolution`) is the final one. Its buffers hold `alpha`,
  the fade-in coefficient `synthesize` uses when `fading` (1 at init; the
  training algorithm sets it from the image count).
  """

  architecture: str = "orig"
  max_resolution: int | None = None
  fading: bool = False

  def setup(self):
    if self.num_fp16_res:
      raise ValueError("progressive networks compute in float32: use "
                       "num_fp16_res=0")
    self.mapping = MappingNetwork(
        z_dim=self.z_dim, c_dim=self.c_dim, w_dim=self.w_dim,
        num_ws=self.num_ws, num_layers=self.mapping_layers,
        embed_features=self.mapping_embed_features,
        layer_features=self.mapping_layer_features,
        lr_multiplier=self.mapping_lr_multiplier, w_avg_beta=self.w_avg_beta)
    fused = self.fused_modconv
    self.synthesis = ProgressiveSynthesis(
        w_dim=self.w_dim, img_resolution=self.img_resolution,
        max_resolution=self.max_resolution or self.img_resolution,
        fading=self.fading, img_channels=self.img_channels,
        channel_base=self.channel_base, channel_max=self.channel_max,
        architecture=self.architecture, conv_clamp=self.conv_clamp,
        resample_filter=tuple(self.resample_filter),
        fused_modconv=modconv.default_fused() if fused is None else fused)
    self.alpha = self.variable("buffers", "alpha", jnp.ones, (), jnp.float32)

  def synthesize(self, ws: jax.Array, noise_mode: str = "random",
                 noise: Mapping[str, jax.Array] | None = None) -> jax.Array:
    """ws [N, num_ws, w_dim] -> images [N, R, R, C] at the `alpha` buffer."""
    return self.synthesis(ws, self.alpha.value, noise_mode, noise)


class ProgressiveDiscriminator(nn.Module):
  """img [N, R, R, img_channels], c [N, c_dim], alpha -> logits [N, 1].

  Attributes:
    c_dim: label size; 0 for unconditional.
    img_resolution: the stage's input resolution R.
    max_resolution: the final resolution (default: img_resolution).
    fading: blend the down-sampled input path in with `alpha`.
    img_channels, architecture ('orig' or 'resnet'), channel_base,
      channel_max, conv_clamp, cmap_dim, mbstd_group_size,
      mbstd_num_channels, mapping_layers, mapping_lr_multiplier,
      resample_filter: as `Discriminator`.
  """

  c_dim: int = 0
  img_resolution: int = 256
  max_resolution: int | None = None
  fading: bool = False
  img_channels: int = 3
  architecture: str = "orig"
  channel_base: int = 32768
  channel_max: int = 512
  conv_clamp: float | None = None
  cmap_dim: int | None = None
  mbstd_group_size: int | None = 4
  mbstd_num_channels: int = 1
  mapping_layers: int = 8
  mapping_lr_multiplier: float = 0.01
  resample_filter: Sequence[float] = (1, 3, 3, 1)

  @nn.compact
  def __call__(self, img: jax.Array, c: jax.Array | None = None,
               alpha: float | jax.Array = 1.0) -> jax.Array:
    """Scores images at the stage's resolution; returns logits [N, 1]."""
    max_res = self.max_resolution or self.img_resolution
    _check(self.architecture, self.img_resolution, max_res, self.fading)
    expected = (self.img_resolution, self.img_resolution, self.img_channels)
    if img.shape[1:] != expected:
      raise ValueError(f"images must be [N, {', '.join(map(str, expected))}]"
                       f" (NHWC), got {img.shape}")
    check_labels(c, self.c_dim, "this discriminator")

    def ch(res):
      return channels_at(res, self.channel_base, self.channel_max)

    resolutions = block_resolutions(max_res)
    fromrgb = {res: Conv2d(ch(res), 1, act="lrelu",
                           conv_clamp=self.conv_clamp if res > 4 else None,
                           resample_filter=self.resample_filter,
                           name=f"fromrgb{res}") for res in resolutions}
    blocks = {res: DiscriminatorBlock(
        first=False, tmp_channels=ch(res), out_channels=ch(res // 2),
        architecture=self.architecture, conv_clamp=self.conv_clamp,
        resample_filter=self.resample_filter, name=f"b{res}")
              for res in resolutions[1:]}
    top, fading = self.img_resolution, self.fading
    img = img.astype(jnp.float32)
    if self.is_initializing():  # Create every resolution's parameters.
      top, fading = max_res, False
      img = filters.nearest_upsample(img, max_res // self.img_resolution)
      for res in resolutions[:-1]:
        fromrgb[res](filters.box_downsample(img, max_res // res))

    x = fromrgb[top](img)  # [N, R, R, ch(R)]
    for res in reversed(resolutions[1:resolutions.index(top) + 1]):
      x, _ = blocks[res](x, None)  # [N, res/2, res/2, ch(res/2)]
      if res == top and fading:
        low = fromrgb[res // 2](filters.box_downsample(img))
        x = blend(low, x, alpha)
      if not self.is_initializing():  # Features are outputs, not variables.
        self.sow("features", f"res{res}", x)
    cmap_dim, cmap = 0, None
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
        conv_clamp=self.conv_clamp, name="b4")(x, None, cmap)


def create_networks(config: ml_collections.ConfigDict, c_dim: int,
                    img_channels: int = 3
                    ) -> tuple[ProgressiveGenerator, ProgressiveDiscriminator]:
  """G and D at the final resolution, from the `model` section.

  The training algorithm clones them per stage (`img_resolution`,
  `fading`); their variables are the same at every stage.
  """
  m, res = config.model, config.data.resolution
  common = dict(c_dim=c_dim, img_resolution=res, max_resolution=res,
                img_channels=img_channels, channel_base=m.channel_base,
                channel_max=m.channel_max, conv_clamp=m.conv_clamp,
                mapping_lr_multiplier=m.mapping_lr_multiplier)
  G = ProgressiveGenerator(z_dim=m.z_dim, w_dim=m.w_dim,
                           mapping_layers=m.mapping_layers,
                           architecture=m.g_architecture,
                           fused_modconv=m.fused_modconv, **common)
  D = ProgressiveDiscriminator(architecture=m.d_architecture,
                               mbstd_group_size=m.mbstd_group_size,
                               mbstd_num_channels=m.mbstd_num_channels,
                               **common)
  return G, D


def generator_uses(name: str, resolution: int, fading: bool) -> bool:
  """Whether G's parameter `name` ('synthesis/b8/conv0/weight') is in use.

  The mapping network, the blocks up to `resolution`, and the toRGB of
  `resolution` (and of `resolution / 2` while fading) are.
  """
  m = re.match(r"synthesis/b(\d+)/(\w+)", name)
  if m is None:
    return True
  res = int(m.group(1))
  if m.group(2) == "torgb":
    return res == resolution or (fading and res == resolution // 2)
  return res <= resolution


def discriminator_uses(name: str, resolution: int, fading: bool) -> bool:
  """Whether D's parameter `name` ('b8/conv0/weight') is in use.

  The epilogue, the label mapping, the blocks up to `resolution`, and the
  fromRGB of `resolution` (and of `resolution / 2` while fading) are.
  """
  m = re.match(r"(fromrgb|b)(\d+)/", name)
  if m is None:
    return True
  res = int(m.group(2))
  if m.group(1) == "fromrgb":
    return res == resolution or (fading and res == resolution // 2)
  return res <= resolution


def to_stylegan2(G: ProgressiveGenerator, g_variables: dict[str, Any],
                 D: ProgressiveDiscriminator | None = None,
                 d_variables: dict[str, Any] | None = None):
  """A fully grown network as the plain StyleGAN2 one it equals.

  At its final resolution and not fading, a progressive G is a StyleGAN2
  `Generator` (same `architecture`) whose lower blocks' toRGB layers are
  unused, and a progressive D is a `Discriminator` whose top block reads the
  image with `fromrgb{res}`. The result works wherever StyleGAN2 networks do
  (exports, the tools, the official layout) and gives the same outputs.

  Args:
    G, g_variables: the generator and its variables.
    D, d_variables: optionally the discriminator and its variables.

  Returns:
    (Generator, its variables, Discriminator or None, its variables or None).
  """
  res = G.max_resolution or G.img_resolution
  if G.img_resolution != res:
    raise ValueError(f"only a fully grown generator converts: it is at "
                     f"{G.img_resolution} of {res}")
  fields = {f: getattr(G, f) for f in Generator.__dataclass_fields__
            if f not in ("parent", "name")}
  plain_g = Generator(**fields)
  params = tree_util.flatten(g_variables["params"])
  params = {k: v for k, v in params.items()
            if not re.match(r"synthesis/b(\d+)/torgb/", k)
            or k.startswith(f"synthesis/b{res}/")}
  buffers = {k: v for k, v in tree_util.flatten(
      g_variables["buffers"]).items() if k != "alpha"}
  g_out = {"params": tree_util.unflatten(params),
           "buffers": tree_util.unflatten(buffers)}
  if D is None:
    return plain_g, g_out, None, None
  fields = {f: getattr(D, f) for f in Discriminator.__dataclass_fields__
            if f not in ("parent", "name", "num_fp16_res", "fp16_dtype")}
  # (Progressive networks compute in float32: no mixed-precision fields.)
  fields["img_resolution"] = D.max_resolution or D.img_resolution
  plain_d = Discriminator(**fields)
  params = {}
  for k, v in tree_util.flatten(d_variables["params"]).items():
    m = re.match(r"fromrgb(\d+)/(.*)", k)
    if m is None:
      params[k] = v
    elif int(m.group(1)) == fields["img_resolution"]:
      params[f"b{m.group(1)}/fromrgb/{m.group(2)}"] = v
  return plain_g, g_out, plain_d, {"params": tree_util.unflatten(params)}
