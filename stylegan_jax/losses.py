"""GAN losses as pure functions: StyleGAN2's and the classic family.

StyleGAN2's non-saturating G/D losses, R1 and the path-length regulariser,
mode seeking (optional, not in the official algorithm), plus the family the
baselines train with, picked by name (`GAN_LOSSES`, `g_loss`, `d_loss`):
minimax, non-saturating, WGAN (with `gradient_penalty`, WGAN-GP), LSGAN and
hinge.

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


def mode_seeking_penalty(fake: jax.Array,
                         z: jax.Array) -> tuple[jax.Array, Metrics]:
  """Mode seeking (after Mao et al. 2019, MSGAN): mean of 1 / (ratio + eps).

  The batch is two halves of pairs: sample n and sample n + N/2 share their
  label and differ in z. A pair's ratio is the mean absolute difference of
  its images over that of its latents; the penalty falls as G maps
  different z to more different images, which counters a generator that
  gives one image per label (mode collapse within a class). It is taken
  per pair, then averaged: MSGAN's code divides the batch means instead,
  which a few very different pairs (noisy textures of one style) can
  satisfy while the pairs of another style collapse; per pair, the most
  collapsed pairs get the largest gradient.

  Args:
    fake: generated images [N, H, W, C], N even.
    z: their latents [N, z_dim].
  """
  half = fake.shape[0] // 2
  d_img = jnp.mean(jnp.abs(fake[:half] - fake[half:2 * half]),
                   axis=(1, 2, 3))  # [N/2]
  d_z = jnp.mean(jnp.abs(z[:half] - z[half:2 * half]), axis=1)  # [N/2]
  ratio = d_img / d_z  # [N/2]
  loss = jnp.mean(1.0 / (ratio + 1e-5))
  return loss, {"reg/ms_ratio": jnp.mean(ratio), "loss/G_ms": loss}


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


# ------------------------------------------------------------- the family --
# Every loss below reads D's raw outputs (logits); the sigmoid of the
# cross-entropy losses lives here, so they are computed stably with softplus:
# log sigmoid(x) = -softplus(-x) and log(1 - sigmoid(x)) = -softplus(x).

GAN_LOSSES: tuple[str, ...] = (
    "minimax", "non_saturating", "wgan", "lsgan", "hinge")

GP_WEIGHT = 10.0  # WGAN-GP's lambda (Gulrajani et al. 2017).

# name -> per-sample G loss on fake logits ("non_saturating": g_main_loss).
_G_TERMS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "minimax": lambda f: -jax.nn.softplus(f),  # log(1 - sigmoid(f))
    "wgan": lambda f: -f,
    "lsgan": lambda f: 0.5 * jnp.square(f - 1),  # c = 1
    "hinge": lambda f: -f,
}

# name -> per-sample D losses on (real, fake) logits ("minimax" and
# "non_saturating" share one D loss: d_main_loss).
_D_TERMS: dict[str, tuple[Callable[[jax.Array], jax.Array],
                          Callable[[jax.Array], jax.Array]]] = {
    "wgan": (lambda r: -r, lambda f: f),
    "lsgan": (lambda r: 0.5 * jnp.square(r - 1),  # b = 1
              lambda f: 0.5 * jnp.square(f)),  # a = 0
    "hinge": (lambda r: jax.nn.relu(1 - r), lambda f: jax.nn.relu(1 + f)),
}


def _check_loss_name(name: str) -> None:
  if name not in GAN_LOSSES:
    raise ValueError(f"GAN loss must be one of {GAN_LOSSES}, got {name!r}")


def g_loss(name: str, fake_logits: jax.Array) -> tuple[jax.Array, Metrics]:
  """Generator loss of the GAN loss `name`, D(.) being D's logit:

  * `minimax`: mean log(1 - sigmoid(D(G(z)))), the original GAN's G loss
    (Goodfellow et al. 2014), kept faithful. It saturates: while D rejects
    the fakes confidently, early in training, its gradient vanishes and G
    stalls; `non_saturating` is the usual fix.
  * `non_saturating`: mean softplus(-D(G(z))) = -mean log sigmoid(D(G(z)))
    (`g_main_loss`, StyleGAN's).
  * `wgan`: -mean D(G(z)) (D is a critic; pair with `gradient_penalty`).
  * `lsgan`: mean (D(G(z)) - c)^2 / 2 with c = 1 (Mao et al. 2017).
  * `hinge`: -mean D(G(z)) (Lim and Ye 2017; Miyato et al. 2018).

  Args:
    name: one of `GAN_LOSSES`.
    fake_logits: D's outputs on generated images [N, 1].

  Returns:
    (loss, metrics) with `loss/G_main` and `scores/fake`.
  """
  _check_loss_name(name)
  if name == "non_saturating":
    return g_main_loss(fake_logits)
  loss = jnp.mean(_G_TERMS[name](fake_logits))
  return loss, {"loss/G_main": loss,
                "scores/fake": jnp.mean(fake_logits)}


def d_loss(name: str, real_logits: jax.Array,
           fake_logits: jax.Array) -> tuple[jax.Array, Metrics]:
  """Discriminator loss of the GAN loss `name`, D(.) being D's logit:

  * `minimax`, `non_saturating`: the cross-entropy
    mean softplus(D(fake)) + mean softplus(-D(real)) (`d_main_loss`).
  * `wgan`: mean D(fake) - mean D(real), the critic loss; add
    `gradient_penalty` for WGAN-GP.
  * `lsgan`: mean (D(real) - b)^2 / 2 + mean (D(fake) - a)^2 / 2 with a = 0,
    b = 1.
  * `hinge`: mean relu(1 - D(real)) + mean relu(1 + D(fake)).

  R1 (`r1_penalty`) and the gradient penalty combine with any of these by
  adding their losses; their metric names do not collide with these except
  `scores/real`, which they compute from the same real logits.

  Args:
    name: one of `GAN_LOSSES`.
    real_logits: D's outputs on real images [N, 1].
    fake_logits: D's outputs on (gradient-stopped) generated images [N, 1].

  Returns:
    (loss, metrics) with `loss/D_main`, `loss/D_real`, `loss/D_fake`,
    `scores/real` and `scores/fake`.
  """
  _check_loss_name(name)
  if name in ("minimax", "non_saturating"):
    return d_main_loss(fake_logits, real_logits)
  real_term, fake_term = _D_TERMS[name]
  loss_real = jnp.mean(real_term(real_logits))
  loss_fake = jnp.mean(fake_term(fake_logits))
  loss = loss_real + loss_fake
  return loss, {"loss/D_main": loss,
                "loss/D_fake": loss_fake,
                "loss/D_real": loss_real,
                "scores/fake": jnp.mean(fake_logits),
                "scores/real": jnp.mean(real_logits)}


def gradient_penalty(
    d_fn: Callable[[jax.Array, jax.Array | None], jax.Array],
    real: jax.Array,
    fake: jax.Array,
    key: jax.Array,
    weight: float = GP_WEIGHT,
    c: jax.Array | None = None,
) -> tuple[jax.Array, Metrics]:
  """WGAN-GP gradient penalty: weight * mean_n (|g_n| - 1)^2.

  g_n = d sum D(x_hat) / d x_hat_n on random interpolates
  x_hat = eps * real + (1 - eps) * fake, eps = jax.random.uniform(key, [N, 1,
  ..., 1]) (one per image). For a D that scores each image on its own, g_n is
  the gradient of image n's own score; with minibatch stddev it also carries
  the other images' terms, as in R1 (`r1_penalty`). |g_n| is the Euclidean
  norm over all of an image's values; a zero gradient has norm 0 and slope 0
  (not NaN). Differentiating the result differentiates through `jax.vjp`
  (double backprop), as the penalty requires.

  Args:
    d_fn: (images [N, ...], labels [N, c_dim] or None) -> logits [N, 1].
    real: real images [N, H, W, C] (any [N, ...] works).
    fake: generated images, same shape, normally gradient-stopped.
    key: PRNG key for eps.
    weight: lambda (10 in the paper).
    c: labels passed to `d_fn` with the interpolates (None: unconditional).

  Returns:
    (loss, metrics) with `loss/D_gp`, `reg/gp_penalty` (mean (|g| - 1)^2)
    and `reg/gp_grad_norm` (mean |g|).
  """
  if real.shape != fake.shape:
    raise ValueError(f"real and fake images must have the same shape, got "
                     f"{real.shape} and {fake.shape}")
  eps = jax.random.uniform(key, real.shape[:1] + (1,) * (real.ndim - 1),
                           real.dtype)  # [N, 1, ..., 1]
  mixed = eps * real + (1 - eps) * fake
  logits, vjp = jax.vjp(lambda x: d_fn(x, c), mixed)
  (grad,) = vjp(jnp.ones_like(logits))  # d sum(logits) / d mixed.
  sq_norm = jnp.sum(jnp.square(grad), axis=tuple(range(1, grad.ndim)))  # [N]
  nonzero = sq_norm > 0
  norm = jnp.where(nonzero, jnp.sqrt(jnp.where(nonzero, sq_norm, 1)), 0)
  penalty = jnp.square(norm - 1)  # [N]
  loss = weight * jnp.mean(penalty)
  return loss, {"loss/D_gp": loss,
                "reg/gp_penalty": jnp.mean(penalty),
                "reg/gp_grad_norm": jnp.mean(norm)}
