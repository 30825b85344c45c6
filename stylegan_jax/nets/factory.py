"""Networks from an experiment config, and their variables' shapes.

`create_networks` is the one place that reads `config.model`; training set-up
and model loading both use it, so a checkpoint's stored config rebuilds
exactly the networks that were trained. The `abstract_*_variables` helpers
give the variables' shapes without computing anything (for restoring and
validating weights). Needs neither `train/` nor TensorFlow.
"""

from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from stylegan_jax.nets import progressive
from stylegan_jax.nets.discriminator import Discriminator
from stylegan_jax.nets.generator import Generator


def create_networks(config: ml_collections.ConfigDict, c_dim: int,
                    img_channels: int = 3) -> tuple[Generator, Discriminator]:
  """G and D from the `model` section and `data.resolution`.

  Args:
    config: an experiment config (see `stylegan_jax.configs`).
    c_dim: label size (0 for unconditional); defined by the data.
    img_channels: image channels.

  Returns:
    (G, D), unbound Linen modules.
  """
  m = config.model
  if m.arch == "stylegan2_progressive":  # At the final resolution.
    return progressive.create_networks(config, c_dim, img_channels)
  common = dict(c_dim=c_dim, img_resolution=config.data.resolution,
                img_channels=img_channels, channel_base=m.channel_base,
                channel_max=m.channel_max, conv_clamp=m.conv_clamp,
                mapping_lr_multiplier=m.mapping_lr_multiplier)
  G = Generator(z_dim=m.z_dim, w_dim=m.w_dim, mapping_layers=m.mapping_layers,
                architecture=m.g_architecture, fused_modconv=m.fused_modconv,
                **common)
  D = Discriminator(architecture=m.d_architecture,
                    mbstd_group_size=m.mbstd_group_size,
                    mbstd_num_channels=m.mbstd_num_channels, **common)
  return G, D


def abstract_generator_variables(G: Generator) -> dict[str, Any]:
  """Shapes and dtypes of G's variables, without computing anything."""
  z = jnp.zeros((1, G.z_dim))
  c = jnp.zeros((1, G.c_dim))
  return jax.eval_shape(
      lambda: G.init({"params": jax.random.key(0)}, z, c, noise_mode="const"))


def abstract_discriminator_variables(D: Discriminator) -> dict[str, Any]:
  """Shapes and dtypes of D's variables, without computing anything."""
  res, ch = D.img_resolution, D.img_channels
  img = jnp.zeros((1, res, res, ch))
  c = jnp.zeros((1, D.c_dim))
  return jax.eval_shape(lambda: D.init(jax.random.key(0), img, c))
