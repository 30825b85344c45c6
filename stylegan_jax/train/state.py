"""The training state: one pytree holding everything that changes.

Also owns creating it (the networks' init plus the optimisers' state), the
G_ema update and the per-iteration bookkeeping (step and image counters).
"""

from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

from stylegan_jax.nets import Discriminator
from stylegan_jax.nets import Generator
from stylegan_jax.train import augmentation

Variables = dict[str, Any]


@flax.struct.dataclass
class TrainState:
  """Everything that changes during training.

  Attributes:
    step: iterations done (also the input iterator's position, in batches).
    nimg: images shown to D so far (cur_nimg in the papers' code).
    g_params, g_buffers: G's parameters and buffers (w_avg, noise_const).
    d_params: D's parameters.
    g_opt_state, d_opt_state: Adam states, shared by main and reg phases.
    ema_params, ema_buffers: G_ema.
    pl_mean: running mean of path lengths.
    key: base RNG key data (uint32); per-phase keys fold in the step.
    augment: the augmentation probability p and ADA's sums of sign(D(real))
      since its last adjustment (`augmentation.init_state`).
  """

  step: jax.Array
  nimg: jax.Array
  g_params: Variables
  g_buffers: Variables
  d_params: Variables
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState
  ema_params: Variables
  ema_buffers: Variables
  pl_mean: jax.Array
  key: jax.Array
  augment: augmentation.AugmentState


def _copy(tree):
  """A copy with its own buffers, so G and G_ema can both be donated."""
  return jax.tree.map(jnp.copy, tree)


def create_train_state(
    key: jax.Array,
    G: Generator,
    D: Discriminator,
    g_tx: optax.GradientTransformation,
    d_tx: optax.GradientTransformation,
    augment_p: float = 0.0,
) -> TrainState:
  """Initialises networks and optimizers; G_ema starts as a copy of G.

  Every leaf has its own buffer (G_ema is copied, not aliased), so the state
  can be donated to a jitted step as it is. `augment_p` is where the
  augmentation probability starts.
  """
  g_key, d_key, train_key = jax.random.split(key, 3)
  z = jnp.zeros((1, G.z_dim))
  c = jnp.zeros((1, G.c_dim))
  g_vars = G.init({"params": g_key}, z, c, noise_mode="const")
  img = jnp.zeros((1, D.img_resolution, D.img_resolution, D.img_channels))
  d_vars = D.init(d_key, img, jnp.zeros((1, D.c_dim)))
  return TrainState(
      step=jnp.zeros((), jnp.int32),
      nimg=jnp.zeros((), jnp.int32),
      g_params=g_vars["params"],
      g_buffers=g_vars["buffers"],
      d_params=d_vars["params"],
      g_opt_state=g_tx.init(g_vars["params"]),
      d_opt_state=d_tx.init(d_vars["params"]),
      ema_params=_copy(g_vars["params"]),
      ema_buffers=_copy(g_vars["buffers"]),
      pl_mean=jnp.zeros((), jnp.float32),
      key=jax.random.key_data(train_key),
      augment=augmentation.init_state(augment_p),
  )


def ema_beta(nimg: jax.Array, batch_size: int, ema_kimg: float,
             ema_rampup: float | None) -> jax.Array:
  """beta = 0.5 ** (batch / ema_nimg), ema_nimg optionally ramped up."""
  ema_nimg = jnp.asarray(ema_kimg * 1000, jnp.float32)
  if ema_rampup is not None:
    ema_nimg = jnp.minimum(ema_nimg, nimg.astype(jnp.float32) * ema_rampup)
  return 0.5 ** (batch_size / jnp.maximum(ema_nimg, 1e-8))


def update_ema(state: TrainState, batch_size: int, ema_kimg: float,
               ema_rampup: float | None) -> TrainState:
  """G_ema <- G + beta (G_ema - G); G_ema's buffers are copied from G."""
  beta = ema_beta(state.nimg, batch_size, ema_kimg, ema_rampup)
  ema_params = jax.tree.map(lambda p, e: p + beta * (e - p), state.g_params,
                            state.ema_params)
  return state.replace(ema_params=ema_params,
                       ema_buffers=_copy(state.g_buffers))


def advance(state: TrainState, batch_size: int) -> TrainState:
  """Counts one finished iteration: step + 1, nimg + batch_size."""
  return state.replace(step=state.step + 1, nimg=state.nimg + batch_size)


def param_count(tree: Variables) -> int:
  return sum(x.size for x in jax.tree.leaves(tree))
