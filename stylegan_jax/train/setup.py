"""Config sections -> networks, optimizers, step settings and the state.

TensorFlow-free, so that tools (generation, projection, conversion) can
rebuild a trained model from a checkpoint's config without the input
pipeline.
"""

import functools

import jax
import ml_collections

from stylegan_jax import sharding
from stylegan_jax.nets import Discriminator
from stylegan_jax.nets import Generator
from stylegan_jax.train import state as state_lib
from stylegan_jax.train import step as step_lib


def create_networks(config: ml_collections.ConfigDict,
                    c_dim: int) -> tuple[Generator, Discriminator]:
  """G and D from the `model` and `data` sections."""
  m = config.model
  res = config.data.resolution
  common = dict(c_dim=c_dim, img_resolution=res, img_channels=3,
                channel_base=m.channel_base, channel_max=m.channel_max,
                conv_clamp=m.conv_clamp)
  G = Generator(z_dim=m.z_dim, w_dim=m.w_dim, mapping_layers=m.mapping_layers,
                mapping_lr_multiplier=m.mapping_lr_multiplier,
                architecture=m.g_architecture, fused_modconv=m.fused_modconv,
                **common)
  D = Discriminator(architecture=m.d_architecture,
                    mbstd_group_size=m.mbstd_group_size,
                    mbstd_num_channels=m.mbstd_num_channels,
                    mapping_lr_multiplier=m.mapping_lr_multiplier, **common)
  return G, D


def step_config(config: ml_collections.ConfigDict) -> step_lib.StepConfig:
  return step_lib.StepConfig(
      batch_size=config.train.batch_size,
      r1_gamma=config.loss.r1_gamma,
      pl_weight=config.loss.pl_weight,
      pl_decay=config.loss.pl_decay,
      pl_batch_shrink=config.loss.pl_batch_shrink,
      style_mixing_prob=config.loss.style_mixing_prob,
      g_reg_interval=config.optim.g_reg_interval,
      d_reg_interval=config.optim.d_reg_interval,
      ema_kimg=config.train.ema_kimg,
      ema_rampup=config.train.ema_rampup)


def create_optimizers(config: ml_collections.ConfigDict):
  o = config.optim
  g_tx = state_lib.create_optimizer(o.g_lr, tuple(o.betas), o.eps,
                                    o.g_reg_interval if config.loss.pl_weight
                                    else None)
  d_tx = state_lib.create_optimizer(o.d_lr, tuple(o.betas), o.eps,
                                    o.d_reg_interval if config.loss.r1_gamma
                                    else None)
  return g_tx, d_tx


def create_state(config, G, D, g_tx, d_tx, mesh):
  """(abstract state with shardings, a function creating the real state)."""
  key = jax.random.key(config.train.seed)
  init = functools.partial(state_lib.create_train_state, key, G, D, g_tx,
                           d_tx)
  abstract = jax.eval_shape(init)
  replicated = sharding.replicated(mesh)
  shardings = jax.tree.map(lambda _: replicated, abstract)
  abstract = jax.tree.map(
      lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
      abstract, shardings)
  return abstract, shardings, jax.jit(init, out_shardings=shardings)
