"""StyleGAN2 losses as pure functions.

Each returns `(loss, metrics)`: a scalar to differentiate and a small dict of
scalars worth logging (slash names: `loss/...`, `scores/...`, `reg/...`).
Networks enter as closures (`d_fn(img, c) -> logits`, `synthesis_fn(ws) ->
img`), so the same functions serve the training step and research code.
The lazy-regularisation interval factor is applied by the caller.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

Metrics = dict[str, jax.Array]


def g_main_loss(fake_logits: jax.Array) -> tuple[jax.Array, Metrics]:
  """Non-saturating generator loss: mean softplus(-D(G(z))).

  Args:
    fake_logits: D's logits on generated images [N, 1].
  """
  loss = jnp.mean(jax.nn.softplus(-fake_logits))
  return loss, {"loss/G_main": loss,
                "scores/fake": jnp.mean(fake_logits)}


def d_main_loss(fake_logits: jax.Array,
                real_logits: jax.Array) -> tuple[jax.Array, Metrics]:
  """Discriminator loss: mean softplus(D(fake)) + mean softplus(-D(real)).

  Args:
    fake_logits: logits on (gradient-stopped) generated images [N, 1].
    real_logits: logits on real images [N, 1].
  """
  loss_fake = jnp.mean(jax.nn.softplus(fake_logits))
  loss_real = jnp.mean(jax.nn.softplus(-real_logits))
  loss = loss_fake + loss_real
  return loss, {"loss/D_main": loss,
                "loss/D_fake": loss_fake,
                "loss/D_real": loss_real,
                "scores/fake": jnp.mean(fake_logits),
                "scores/real": jnp.mean(real_logits)}


def r1_penalty(
    d_fn: Callable[[jax.Array, jax.Array], jax.Array],
    real: jax.Array,
    c: jax.Array,
    r1_gamma: float,
) -> tuple[jax.Array, Metrics]:
  """R1 gradient penalty: mean_n (r1_gamma / 2) * |d sum D(real) / d real_n|^2.

  Differentiating the result differentiates through `jax.grad` (double
  backprop), as the penalty requires.

  Args:
    d_fn: (images [N, H, W, C], labels [N, c_dim]) -> logits [N, 1].
    real: real images [N, H, W, C].
    c: labels [N, c_dim].
    r1_gamma: penalty weight.
  """
  real_logits, vjp = jax.vjp(lambda x: d_fn(x, c), real)
  (grad,) = vjp(jnp.ones_like(real_logits))  # d sum(logits) / d real.
  penalty = jnp.sum(jnp.square(grad), axis=(1, 2, 3))  # [N]
  loss = jnp.mean(penalty * (r1_gamma / 2))
  return loss, {"loss/D_r1": loss,
                "reg/r1_penalty": jnp.mean(penalty),
                "scores/real": jnp.mean(real_logits)}


def path_lengths(
    synthesis_fn: Callable[[jax.Array], jax.Array],
    ws: jax.Array,
    pl_noise: jax.Array,
) -> jax.Array:
  """Per-sample path lengths [N]: sqrt(mean_ws(sum_wdim(g_n^2))).

  g = d sum(img * pl_noise) / d ws, with img = synthesis_fn(ws).

  Args:
    synthesis_fn: ws [N, num_ws, w_dim] -> images [N, H, W, C].
    ws: [N, num_ws, w_dim].
    pl_noise: randn_like(images) / sqrt(H * W), [N, H, W, C].
  """
  img, vjp = jax.vjp(synthesis_fn, ws)
  (grad,) = vjp(pl_noise.astype(img.dtype))  # [N, num_ws, w_dim]
  return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grad), axis=2), axis=1))


def path_length_penalty(
    synthesis_fn: Callable[[jax.Array], jax.Array],
    ws: jax.Array,
    pl_noise: jax.Array,
    pl_mean: jax.Array,
    pl_decay: float = 0.01,
    pl_weight: float = 2.0,
    stop_mean_gradient: bool = False,
) -> tuple[jax.Array, Metrics]:
  """Path-length regulariser with its running mean.

  pl_lengths_n = sqrt(mean_ws(sum_wdim(g_n^2))), g = d sum(img * pl_noise) / d ws;
  pl_mean_new = pl_mean + pl_decay * (mean(pl_lengths) - pl_mean);
  loss = mean(pl_weight * (pl_lengths - pl_mean_new)^2).

  As in the official code, `pl_mean_new` inside the loss is not
  gradient-stopped (the gradient also flows through mean(pl_lengths));
  `stop_mean_gradient=True` treats it as a constant instead. The caller
  stores `metrics['reg/pl_mean']` as the new running mean.

  Args:
    synthesis_fn: ws [N, num_ws, w_dim] -> images [N, H, W, C].
    ws: [N, num_ws, w_dim].
    pl_noise: randn_like(images) / sqrt(H * W), [N, H, W, C].
    pl_mean: running mean before this update (scalar).
    pl_decay: running-mean decay.
    pl_weight: penalty weight.
    stop_mean_gradient: detach the updated mean inside the loss.
  """
  pl_lengths = path_lengths(synthesis_fn, ws, pl_noise)  # [N]
  pl_mean_new = pl_mean + pl_decay * (jnp.mean(pl_lengths) - pl_mean)
  target = (jax.lax.stop_gradient(pl_mean_new) if stop_mean_gradient
            else pl_mean_new)
  penalty = jnp.square(pl_lengths - target)  # [N]
  loss = jnp.mean(penalty * pl_weight)
  return loss, {"loss/G_pl": loss,
                "reg/pl_penalty": jnp.mean(penalty),
                "reg/pl_lengths": jnp.mean(pl_lengths),
                "reg/pl_mean": jax.lax.stop_gradient(pl_mean_new)}
