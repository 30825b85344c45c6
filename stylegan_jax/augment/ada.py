"""The ADA controller: adapt the augmentation probability p to D's overfitting.

D's overfitting is measured by r_t = E[sign(D(real))] over an interval of
iterations. `accumulate_signs` sums signs and counts into a `SignStats`
pytree of scalars, so a data-parallel step can add them across devices
(`jax.lax.psum` under `shard_map`, or a plain sum of a batch-sharded array
under `jit`) and hosts. Every `interval` iterations, `update_p` moves p by
`sign(r_t - target) * batch_size * interval / (ada_kimg * 1000)`, floored at
0, so p can go from 0 to 1 in `ada_kimg` thousand images; the caller then
resets the statistics with `init_sign_stats()`.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp


class SignStats(NamedTuple):
  """Sum of sign(D(real)) and the number of logits summed (float32 [])."""

  sign_sum: jax.Array
  count: jax.Array


def init_sign_stats() -> SignStats:
  return SignStats(jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32))


def accumulate_signs(stats: SignStats, real_logits: jax.Array) -> SignStats:
  """Adds the signs of D's logits on real images [N, ...] to `stats`."""
  signs = jnp.sign(real_logits.astype(jnp.float32))
  return SignStats(stats.sign_sum + jnp.sum(signs),
                   stats.count + jnp.float32(signs.size))


def update_p(
    p: jax.Array | float,
    sign_sum: jax.Array | float,
    count: jax.Array | float,
    *,
    target: float = 0.6,
    batch_size: int,
    interval: int = 4,
    ada_kimg: float = 500,
) -> jax.Array:
  """The new augmentation probability after one adjustment interval.

  Args:
    p: current probability (float32 scalar).
    sign_sum: sum of sign(D(real)) over the interval, all devices.
    count: number of logits in `sign_sum`; with 0 nothing is known and p is
      returned unchanged.
    target: the r_t that p is steered towards.
    batch_size: global images per iteration.
    interval: iterations between adjustments.
    ada_kimg: thousands of images for p to move by 1.

  Returns:
    float32 scalar `max(p + sign(r_t - target) * step, 0)`.
  """
  if batch_size <= 0 or interval <= 0 or ada_kimg <= 0:
    raise ValueError("update_p needs batch_size, interval and ada_kimg > 0, "
                     f"got {batch_size}, {interval}, {ada_kimg}")
  p = jnp.asarray(p, jnp.float32)
  count = jnp.asarray(count, jnp.float32)
  r_t = jnp.asarray(sign_sum, jnp.float32) / jnp.maximum(count, 1)
  step = batch_size * interval / (ada_kimg * 1000)
  new_p = jnp.maximum(p + jnp.sign(r_t - target) * step, 0)
  return jnp.where(count > 0, new_p, p)
