"""Pure step functions for StyleGAN2's four training phases.

`make_phase_steps` returns `{'g_main', 'g_reg', 'd_main', 'd_reg', 'ema'}`:
plain `(state, batch) -> (state, metrics)` functions (`ema` takes only the
state) for the loop to jit. Python picks which phases run in an iteration
(`phases_for_step`); nothing traced selects a phase. Each phase draws its own
latents and fake labels from a key folded from the state's key, the step and
the phase, so a resumed run draws exactly the same numbers.
"""

from collections.abc import Callable
import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax

from stylegan_jax import losses
from stylegan_jax.nets import Discriminator
from stylegan_jax.nets import Generator
from stylegan_jax.train.state import TrainState
from stylegan_jax.train.state import update_ema

PHASES = ("g_main", "g_reg", "d_main", "d_reg")
# Parameters a regularisation phase's loss does not depend on (the official
# fixtures list them as `zero_grad_params`): the toRGB biases for path length
# (it differentiates w.r.t. ws), D's output bias for R1 (it differentiates
# w.r.t. the image). Like torch's Adam, their optimizer state is left alone.
NO_GRADIENT = {"g_reg": re.compile(r"(^|/)torgb/bias$"),
               "d_reg": re.compile(r"^b4/out/bias$")}
Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]
StepFn = Callable[..., tuple[TrainState, Metrics]]


@dataclasses.dataclass(frozen=True)
class StepConfig:
  """What the steps need from the config (see `configs.base_config`)."""

  batch_size: int
  r1_gamma: float = 10.0
  pl_weight: float = 2.0
  pl_decay: float = 0.01
  pl_batch_shrink: int = 2
  style_mixing_prob: float = 0.9
  g_reg_interval: int = 4
  d_reg_interval: int = 16
  ema_kimg: float = 10.0
  ema_rampup: float | None = None


def phases_for_step(step: int, cfg: StepConfig) -> list[str]:
  """The phases of iteration `step`, in order (both regs run at step 0)."""
  phases = ["g_main"]
  if cfg.pl_weight != 0 and step % cfg.g_reg_interval == 0:
    phases.append("g_reg")
  phases.append("d_main")
  if cfg.r1_gamma != 0 and step % cfg.d_reg_interval == 0:
    phases.append("d_reg")
  return phases


def active_params(params, phase: str):
  """Tree of Python bools: False where `phase`'s loss has no gradient."""
  rule = NO_GRADIENT.get(phase)
  return jax.tree_util.tree_map_with_path(
      lambda path, _: rule is None or not rule.search(
          "/".join(str(getattr(k, "key", k)) for k in path)), params)


def clean_gradients(grads):
  """NaN -> 0, +inf -> 1e5, -inf -> -1e5, as before every optimizer step."""
  return jax.tree.map(
      lambda g: jnp.nan_to_num(g, nan=0.0, posinf=1e5, neginf=-1e5), grads)


def make_phase_steps(
    G: Generator,
    D: Discriminator,
    g_tx: optax.GradientTransformation,
    d_tx: optax.GradientTransformation,
    cfg: StepConfig,
    class_probs: np.ndarray | None = None,
    constrain_batch: Callable[[jax.Array], jax.Array] = lambda x: x,
) -> dict[str, StepFn]:
  """Builds the phase step functions.

  Args:
    G, D: the networks.
    g_tx, d_tx: their optimizers (see `state.create_optimizer`).
    cfg: loss, regularisation and EMA settings.
    class_probs: the training set's label distribution [c_dim] for drawing
      fake labels (None or empty for unconditional models).
    constrain_batch: applied to per-sample arrays created inside a step
      (latents, labels, noise) to pin their sharding to the batch axis.

  Returns:
    {'g_main', 'g_reg', 'd_main', 'd_reg': (state, batch) -> (state, metrics),
     'ema': state -> state}.
  """
  c_dim = G.c_dim
  num_ws = G.num_ws
  probs = None if not c_dim else jnp.asarray(class_probs, jnp.float32)

  def phase_key(state: TrainState, phase: str) -> jax.Array:
    key = jax.random.wrap_key_data(state.key)
    key = jax.random.fold_in(key, state.step)
    return jax.random.fold_in(key, PHASES.index(phase))

  def sample_latents(key, n):
    z_key, c_key = jax.random.split(key)
    z = constrain_batch(jax.random.normal(z_key, (n, G.z_dim)))
    if not c_dim:
      return z, jnp.zeros((n, 0), jnp.float32)
    labels = jax.random.categorical(c_key, jnp.log(probs), shape=(n,))
    return z, constrain_batch(jax.nn.one_hot(labels, c_dim))

  def run_G(params, buffers, z, c, key):
    """Mapping (moving w_avg), style mixing, synthesis with random noise."""
    mix_key, z2_key, noise_key = jax.random.split(key, 3)
    ws, mutated = G.apply({"params": params, "buffers": buffers}, z, c,
                          update_w_avg=True, method=G.map,
                          mutable=["buffers"])
    variables = {"params": params, "buffers": mutated["buffers"]}
    if cfg.style_mixing_prob > 0:
      cut_key, prob_key = jax.random.split(mix_key)
      cutoff = jax.random.randint(cut_key, (), 1, num_ws)
      cutoff = jnp.where(
          jax.random.uniform(prob_key, ()) < cfg.style_mixing_prob,
          cutoff, num_ws)
      z2 = constrain_batch(jax.random.normal(z2_key, z.shape))
      ws2 = G.apply(variables, z2, c, method=G.map)  # w_avg not updated.
      keep = jnp.arange(num_ws)[None, :, None] < cutoff
      ws = jnp.where(keep, ws, ws2)

    def synthesize(ws):
      return G.apply(variables, ws, noise_mode="random", method=G.synthesize,
                     rngs={"noise": noise_key})

    return synthesize, ws, mutated["buffers"]

  def apply_d(d_params, img, c):
    return D.apply({"params": d_params}, img, c)

  def optimizer_step(tx, grads, opt_state, params, prefix, phase):
    grads = clean_gradients(grads)
    updates, opt_state = tx.update(grads, opt_state, params,
                                   active=active_params(params, phase))
    params = optax.apply_updates(params, updates)
    norms = {f"norm/{prefix}_grad": optax.tree_utils.tree_norm(grads),
             f"norm/{prefix}_update": optax.tree_utils.tree_norm(updates),
             f"norm/{prefix}_param": optax.tree_utils.tree_norm(params)}
    return params, opt_state, norms

  def g_main(state: TrainState, batch: Batch):
    del batch  # G's phases draw only latents and labels.
    latent_key, g_key = jax.random.split(phase_key(state, "g_main"))
    z, c = sample_latents(latent_key, cfg.batch_size)

    def loss_fn(g_params):
      synthesize, ws, buffers = run_G(g_params, state.g_buffers, z, c, g_key)
      loss, metrics = losses.g_main_loss(apply_d(state.d_params,
                                                 synthesize(ws), c))
      return loss, (metrics, buffers)

    grads, (metrics, buffers) = jax.grad(loss_fn, has_aux=True)(
        state.g_params)
    params, opt_state, norms = optimizer_step(
        g_tx, grads, state.g_opt_state, state.g_params, "G",
        "g_main")
    state = state.replace(g_params=params, g_opt_state=opt_state,
                          g_buffers=buffers)
    return state, {**metrics, **norms}

  def g_reg(state: TrainState, batch: Batch):
    del batch
    n = cfg.batch_size // cfg.pl_batch_shrink
    latent_key, g_key, noise_key = jax.random.split(
        phase_key(state, "g_reg"), 3)
    z, c = sample_latents(latent_key, n)
    res, ch = G.img_resolution, G.img_channels
    pl_noise = constrain_batch(jax.random.normal(noise_key, (n, res, res, ch))
                               / np.sqrt(res * res))

    def loss_fn(g_params):
      synthesize, ws, buffers = run_G(g_params, state.g_buffers, z, c, g_key)
      loss, metrics = losses.path_length_penalty(
          synthesize, ws, pl_noise, state.pl_mean, cfg.pl_decay,
          cfg.pl_weight)
      return loss * cfg.g_reg_interval, (metrics, buffers)

    grads, (metrics, buffers) = jax.grad(loss_fn, has_aux=True)(
        state.g_params)
    params, opt_state, norms = optimizer_step(
        g_tx, grads, state.g_opt_state, state.g_params, "G_reg",
        "g_reg")
    metrics["reg/pl_lengths"] = jnp.mean(metrics["reg/pl_lengths"])
    state = state.replace(g_params=params, g_opt_state=opt_state,
                          g_buffers=buffers, pl_mean=metrics["reg/pl_mean"])
    return state, {**metrics, **norms}

  def d_main(state: TrainState, batch: Batch):
    latent_key, g_key = jax.random.split(phase_key(state, "d_main"))
    z, c = sample_latents(latent_key, cfg.batch_size)
    # G runs (moving w_avg, as G is in training mode) but is not trained.
    synthesize, ws, buffers = run_G(state.g_params, state.g_buffers, z, c,
                                    g_key)
    fake = jax.lax.stop_gradient(synthesize(ws))

    def loss_fn(d_params):
      return losses.d_main_loss(apply_d(d_params, fake, c),
                                apply_d(d_params, batch["image"],
                                        batch["label"]))

    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.d_params)
    params, opt_state, norms = optimizer_step(
        d_tx, grads, state.d_opt_state, state.d_params, "D",
        "d_main")
    state = state.replace(d_params=params, d_opt_state=opt_state,
                          g_buffers=buffers)
    return state, {**metrics, **norms}

  def d_reg(state: TrainState, batch: Batch):

    def loss_fn(d_params):
      loss, metrics = losses.r1_penalty(
          lambda img, c: apply_d(d_params, img, c), batch["image"],
          batch["label"], cfg.r1_gamma)
      return loss * cfg.d_reg_interval, metrics

    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.d_params)
    params, opt_state, norms = optimizer_step(
        d_tx, grads, state.d_opt_state, state.d_params, "D_reg",
        "d_reg")
    state = state.replace(d_params=params, d_opt_state=opt_state)
    return state, {**metrics, **norms}

  def ema(state: TrainState) -> TrainState:
    return update_ema(state, cfg.batch_size, cfg.ema_kimg, cfg.ema_rampup)

  return {"g_main": g_main, "g_reg": g_reg, "d_main": d_main,
          "d_reg": d_reg, "ema": ema}


def labels_to_one_hot(labels: np.ndarray, c_dim: int) -> np.ndarray:
  """int labels [N] -> float32 one-hot [N, c_dim] ([N, 0] if c_dim is 0)."""
  if not c_dim:
    return np.zeros((len(labels), 0), np.float32)
  return np.eye(c_dim, dtype=np.float32)[labels]
