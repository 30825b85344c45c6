"""The optimisers: Adam with per-parameter step counts and the lazy-reg correction.

`create_optimizers(config)` is the one optimiser factory. The official loop
runs main and regularisation phases through one Adam per network. A parameter the phase's loss does not depend on has no gradient
there, and torch's Adam then leaves it alone: no moment decay, no step
count. optax's Adam shares one count, so we keep counts per parameter and
let a phase mark parameters inactive (`active` tree of Python bools).
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax


class AdamState(NamedTuple):
  count: Any  # int32 scalar per parameter.
  mu: Any
  nu: Any


def adam(learning_rate: float, b1: float, b2: float,
         eps: float) -> optax.GradientTransformationExtraArgs:
  """Adam; `update(grads, state, params, active=tree_of_bools)`.

  Per parameter with t its own count: m = b1 m + (1 - b1) g,
  v = b2 v + (1 - b2) g^2, update = -lr (m / (1 - b1^t)) /
  (sqrt(v / (1 - b2^t)) + eps). Inactive parameters get a zero update and
  keep their state unchanged.
  """

  def init(params):
    return AdamState(
        count=jax.tree.map(lambda p: jnp.zeros((), jnp.int32), params),
        mu=jax.tree.map(jnp.zeros_like, params),
        nu=jax.tree.map(jnp.zeros_like, params))

  def update(grads, state, params=None, *, active=None, **extra_args):
    del params, extra_args
    if active is None:
      active = jax.tree.map(lambda _: True, grads)

    def one(g, count, m, v, is_active):
      if not is_active:
        return jnp.zeros_like(g), count, m, v
      count = count + 1
      m = b1 * m + (1 - b1) * g
      v = b2 * v + (1 - b2) * jnp.square(g)
      t = count.astype(g.dtype)
      m_hat = m / (1 - b1**t)
      v_hat = v / (1 - b2**t)
      return -learning_rate * m_hat / (jnp.sqrt(v_hat) + eps), count, m, v

    out = jax.tree.map(one, grads, state.count, state.mu, state.nu, active)
    pick = lambda i: jax.tree.map(lambda _, o: o[i], grads, out)  # pylint: disable=unnecessary-lambda-assignment
    return pick(0), AdamState(count=pick(1), mu=pick(2), nu=pick(3))

  return optax.GradientTransformationExtraArgs(init, update)


def create_optimizer(lr: float, betas: tuple[float, float], eps: float,
                     reg_interval: int | None) -> optax.GradientTransformation:
  """Adam with the lazy-regularisation correction of lr and betas.

  With regularisation every `reg_interval` minibatches, main and reg phases
  share one Adam whose lr and betas are corrected by r = k / (k + 1):
  lr * r and beta ** r.
  """
  ratio = reg_interval / (reg_interval + 1) if reg_interval else 1.0
  b1, b2 = betas
  return adam(lr * ratio, b1=b1**ratio, b2=b2**ratio, eps=eps)


def create_optimizers(
    config: ml_collections.ConfigDict,
    reg_intervals: tuple[int | None, int | None] | None = None):
  """(g_tx, d_tx) from the `optim` and `loss` sections.

  Args:
    config: the experiment config (lr, betas, eps from `optim`).
    reg_intervals: (G's, D's) lazy-regularisation interval, None for a
      network without a separate regularisation phase (no correction). By
      default StyleGAN2's: `optim.g_reg_interval` when `loss.pl_weight` is
      on, `optim.d_reg_interval` when `loss.r1_gamma` is on (a
      regularisation turned off drops its correction).
  """
  o = config.optim
  if reg_intervals is None:
    reg_intervals = (o.g_reg_interval if config.loss.pl_weight else None,
                     o.d_reg_interval if config.loss.r1_gamma else None)
  g_interval, d_interval = reg_intervals
  g_tx = create_optimizer(o.g_lr, tuple(o.betas), o.eps, g_interval)
  d_tx = create_optimizer(o.d_lr, tuple(o.betas), o.eps, d_interval)
  return g_tx, d_tx
