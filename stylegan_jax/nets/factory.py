"""Networks from an experiment config, and their variables' shapes.

`create_networks` is the one place that reads `config.model`; training set-up
and model loading both use it, so a checkpoint's stored config rebuilds
exactly the networks that were trained. `config.model.arch` picks the family
(`NETWORKS`): StyleGAN2's G and D, or a classic baseline's (`mlp`, `dcgan`,
`vanilla`), whose G maps z straight to images (no W, no noise, no buffers),
or pix2pix's U-Net G and PatchGAN D (source image -> image).
The `abstract_*_variables` helpers give the variables' shapes without
computing anything (for restoring and validating weights). Needs neither
`train/` nor TensorFlow.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from stylegan_jax.nets import pix2pix
from stylegan_jax.nets import progressive
from stylegan_jax.nets.dcgan import DCGANDiscriminator
from stylegan_jax.nets.dcgan import DCGANGenerator
from stylegan_jax.nets.discriminator import Discriminator
from stylegan_jax.nets.generator import Generator
from stylegan_jax.nets.mlp import MLPDiscriminator
from stylegan_jax.nets.mlp import MLPGenerator
from stylegan_jax.nets.vanilla import VanillaDiscriminator
from stylegan_jax.nets.vanilla import VanillaGenerator

# Network family -> (generator class, discriminator class).
NETWORKS: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {
    "stylegan2": (Generator, Discriminator),
    "stylegan2_progressive": (progressive.ProgressiveGenerator,
                              progressive.ProgressiveDiscriminator),
    "mlp": (MLPGenerator, MLPDiscriminator),
    "dcgan": (DCGANGenerator, DCGANDiscriminator),
    "vanilla": (VanillaGenerator, VanillaDiscriminator),
    "pix2pix": (pix2pix.UNetGenerator, pix2pix.PatchDiscriminator),
}


def create_networks(config: ml_collections.ConfigDict,
                    c_dim: int) -> tuple[nn.Module, nn.Module]:
  """G and D from the `model` section and `data.resolution` / `channels`.

  Args:
    config: an experiment config (see `stylegan_jax.configs`).
    c_dim: label size (0 for unconditional); defined by the data.

  Returns:
    (G, D), unbound Linen modules.
  """
  m = config.model
  res, channels = config.data.resolution, config.data.channels
  if m.arch == "pix2pix":
    return create_pix2pix_networks(config)
  if m.arch == "stylegan2_progressive":  # At the final resolution.
    return progressive.create_networks(config, c_dim, channels)
  if m.arch == "mlp":
    common = dict(variant=m.variant, c_dim=c_dim, img_resolution=res,
                  img_channels=channels, hidden=tuple(m.mlp_hidden))
    return MLPGenerator(z_dim=m.z_dim, **common), MLPDiscriminator(**common)
  if m.arch in ("dcgan", "vanilla"):
    g_cls, d_cls = NETWORKS[m.arch]
    common = dict(c_dim=c_dim, img_resolution=res, img_channels=channels)
    G = g_cls(z_dim=m.z_dim, channels=m.g_channels,
              channel_min=m.g_channel_min, **common)
    D = d_cls(channels=m.d_channels, channel_max=m.d_channel_max, **common)
    return G, D
  common = dict(c_dim=c_dim, img_resolution=res, img_channels=channels,
                channel_base=m.channel_base, channel_max=m.channel_max,
                conv_clamp=m.conv_clamp,
                mapping_lr_multiplier=m.mapping_lr_multiplier,
                num_fp16_res=m.num_fp16_res, fp16_dtype=m.fp16_dtype)
  G = Generator(z_dim=m.z_dim, w_dim=m.w_dim, mapping_layers=m.mapping_layers,
                architecture=m.g_architecture, fused_modconv=m.fused_modconv,
                **common)
  D = Discriminator(architecture=m.d_architecture,
                    mbstd_group_size=m.mbstd_group_size,
                    mbstd_num_channels=m.mbstd_num_channels, **common)
  return G, D


def create_pix2pix_networks(
    config: ml_collections.ConfigDict
) -> tuple[pix2pix.UNetGenerator, pix2pix.PatchDiscriminator]:
  """pix2pix's U-Net G and PatchGAN D (`model.pix2pix_*`): RGB -> RGB."""
  m = config.model
  common = dict(img_resolution=config.data.resolution, in_channels=3,
                img_channels=config.data.channels,
                channel_max=m.pix2pix_channel_max, norm=m.pix2pix_norm)
  G = pix2pix.UNetGenerator(channels=m.pix2pix_g_channels,
                            dropout_rate=m.pix2pix_dropout, **common)
  D = pix2pix.PatchDiscriminator(channels=m.pix2pix_d_channels,
                                 num_layers=m.pix2pix_d_layers, **common)
  return G, D


def network_family(G: nn.Module) -> str:
  """The `NETWORKS` key of a generator ('stylegan2', 'mlp', ...)."""
  for name, (g_cls, _) in NETWORKS.items():
    if type(G) is g_cls:  # pylint: disable=unidiomatic-typecheck
      return name
  raise ValueError(f"unknown generator class {type(G).__name__}")


def is_stylegan(G: nn.Module) -> bool:
  """Whether G is StyleGAN's: it maps to W and synthesises separately, with
  noise inputs (StyleGAN2's G and the progressive one)."""
  return hasattr(G, "map") and hasattr(G, "synthesize")


def abstract_generator_variables(G: nn.Module) -> dict[str, Any]:
  """Shapes and dtypes of G's variables, without computing anything."""
  if isinstance(G, pix2pix.UNetGenerator):
    return pix2pix.abstract_generator_variables(G)
  z = jnp.zeros((1, G.z_dim))
  c = jnp.zeros((1, G.c_dim))
  kwargs = {"noise_mode": "const"} if is_stylegan(G) else {}
  return jax.eval_shape(
      lambda: G.init({"params": jax.random.key(0)}, z, c, **kwargs))


def abstract_discriminator_variables(D: nn.Module) -> dict[str, Any]:
  """Shapes and dtypes of D's variables, without computing anything."""
  if isinstance(D, pix2pix.PatchDiscriminator):
    return pix2pix.abstract_discriminator_variables(D)
  res, ch = D.img_resolution, D.img_channels
  img = jnp.zeros((1, res, res, ch))
  c = jnp.zeros((1, D.c_dim))
  return jax.eval_shape(lambda: D.init(jax.random.key(0), img, c))
