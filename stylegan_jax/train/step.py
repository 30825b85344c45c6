"""StyleGAN2's training algorithm as pure functions.

Public pieces, usable on their own in research code:

* `sample_latents`: z and fake labels drawn as the official loop draws them;
* `map_training` / `generator_forward`: G in training mode (mapping that
  moves `w_avg`, style mixing with a second z, synthesis with random noise);
* `StyleGAN2Step` (an `algorithm.Algorithm`): the four phases (`g_main`,
  `g_reg`, `d_main`, `d_reg`) as methods `(state, batch) -> (state,
  metrics)`; `end_iteration` (G_ema and the step/image counters) and
  `iteration` come from the base class. Its `extra_g_loss` /
  `extra_d_loss` hooks add a term to G's or D's main loss without forking
  this module: a function of the phase's tensors (`PhaseTensors`) returning
  `(loss, metrics)`. Its `augment` settings (`train.augmentation`) augment
  every image D sees, where the official loop does: reals and fakes in
  `d_main`, the reals of R1 in `d_reg` (the penalty is w.r.t. the
  un-augmented reals), the fakes in `g_main`; `end_iteration` also adapts
  ADA's p.

Python picks which phases run in an iteration (`phases_for_step`); nothing
traced selects a phase. Each phase draws its own latents and fake labels from
a key folded from the state's key, the step and the phase, so a resumed run
draws exactly the same numbers.
"""

from collections.abc import Callable, Sequence
import dataclasses
import math
import re
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from stylegan_jax import losses
from stylegan_jax import tree_util
from stylegan_jax.nets import Generator
from stylegan_jax.nets import create_networks
from stylegan_jax.train import algorithm
from stylegan_jax.train import augmentation
from stylegan_jax.train import optim
from stylegan_jax.train import state as state_lib
from stylegan_jax.train.state import TrainState

PHASES = ("g_main", "g_reg", "d_main", "d_reg")
# Parameters a regularisation phase's loss does not depend on (the official
# fixtures list them as `zero_grad_params`): the toRGB biases for path length
# (it differentiates w.r.t. ws), D's output bias for R1 (it differentiates
# w.r.t. the image). Like torch's Adam, their optimizer state is left alone.
NO_GRADIENT = {"g_reg": re.compile(r"(^|/)torgb/bias$"),
               "d_reg": re.compile(r"^b4/out/bias$")}
Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]
Variables = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class StepConfig:
  """The losses' and regularisers' settings (defaults: `configs.py`)."""

  r1_gamma: float
  pl_weight: float
  pl_decay: float
  pl_batch_shrink: int
  style_mixing_prob: float
  g_reg_interval: int
  d_reg_interval: int
  ms_weight: float = 0.0

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "StepConfig":
    return cls(
        r1_gamma=config.loss.r1_gamma,
        pl_weight=config.loss.pl_weight,
        pl_decay=config.loss.pl_decay,
        pl_batch_shrink=config.loss.pl_batch_shrink,
        style_mixing_prob=config.loss.style_mixing_prob,
        g_reg_interval=config.optim.g_reg_interval,
        d_reg_interval=config.optim.d_reg_interval,
        ms_weight=config.loss.ms_weight)


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
  return tree_util.map_with_names(
      lambda name, _: rule is None or not rule.search(name), params)


# ------------------------------------------------------ G in training mode --


def sample_latents(key: jax.Array, n: int, z_dim: int,
                   class_probs=None) -> tuple[jax.Array, jax.Array]:
  """Latents and fake labels as the official loop draws them.

  Args:
    key: a PRNG key.
    n: how many.
    z_dim: latent size.
    class_probs: the training set's label distribution [c_dim] (labels of
      uniformly random training images); None or empty: unconditional.

  Returns:
    (z [n, z_dim] ~ N(0, I), c [n, c_dim] one-hot, [n, 0] if unconditional).
  """
  z_key, c_key = jax.random.split(key)
  z = jax.random.normal(z_key, (n, z_dim))
  if class_probs is None or not len(class_probs):
    return z, jnp.zeros((n, 0), jnp.float32)
  probs = jnp.asarray(class_probs, jnp.float32)
  labels = jax.random.categorical(c_key, jnp.log(probs), shape=(n,))
  return z, jax.nn.one_hot(labels, probs.shape[0])


def map_training(G: Generator, params: Variables, buffers: Variables,
                 z: jax.Array, c: jax.Array, key: jax.Array,
                 style_mixing_prob: float,
                 constrain_batch: Callable[[jax.Array], jax.Array] = (
                     lambda x: x)) -> tuple[jax.Array, Variables]:
  """G's mapping as in training: moves w_avg, then style mixing.

  With probability `style_mixing_prob` (one draw per call, as the official),
  ws from a cutoff drawn uniformly in [1, num_ws) on come from the mapping
  of a second z (same c); that second mapping does not move w_avg.

  Args:
    G: the generator.
    params, buffers: its variables.
    z: [N, z_dim]; c: [N, c_dim].
    key: PRNG key for the mixing draws.
    style_mixing_prob: 0 turns mixing off.
    constrain_batch: applied to per-sample arrays drawn here (the second z).

  Returns:
    (ws [N, num_ws, w_dim], the updated buffers).
  """
  ws, mutated = G.apply({"params": params, "buffers": buffers}, z, c,
                        update_w_avg=True, method=G.map, mutable=["buffers"])
  buffers = mutated["buffers"]
  if style_mixing_prob > 0:
    num_ws = G.num_ws
    cut_key, prob_key, z2_key = jax.random.split(key, 3)
    cutoff = jax.random.randint(cut_key, (), 1, num_ws)
    cutoff = jnp.where(
        jax.random.uniform(prob_key, ()) < style_mixing_prob, cutoff, num_ws)
    z2 = constrain_batch(jax.random.normal(z2_key, z.shape))
    ws2 = G.apply({"params": params, "buffers": buffers}, z2, c,
                  method=G.map)  # w_avg not updated.
    keep = jnp.arange(num_ws)[None, :, None] < cutoff
    ws = jnp.where(keep, ws, ws2)
  return ws, buffers


def synthesize_training(G: Generator, params: Variables, buffers: Variables,
                        ws: jax.Array, key: jax.Array,
                        noise: dict[str, jax.Array] | None = None
                        ) -> jax.Array:
  """ws [N, num_ws, w_dim] -> images [N, H, W, C] with random noise from key."""
  return G.apply({"params": params, "buffers": buffers}, ws,
                 noise_mode="random", noise=noise, method=G.synthesize,
                 rngs={"noise": key})


def generator_forward(G: Generator, params: Variables, buffers: Variables,
                      z: jax.Array, c: jax.Array, key: jax.Array, *,
                      style_mixing_prob: float,
                      noise: dict[str, jax.Array] | None = None,
                      constrain_batch: Callable[[jax.Array], jax.Array] = (
                          lambda x: x)
                      ) -> tuple[jax.Array, jax.Array, Variables]:
  """G as the training phases run it: `map_training`, then random noise.

  Returns:
    (images [N, H, W, C], ws [N, num_ws, w_dim], the updated buffers).
  """
  mix_key, noise_key = jax.random.split(key)
  ws, buffers = map_training(G, params, buffers, z, c, mix_key,
                             style_mixing_prob, constrain_batch)
  img = synthesize_training(G, params, buffers, ws, noise_key, noise)
  return img, ws, buffers


# ------------------------------------------------------------------ phases --


@dataclasses.dataclass(frozen=True)
class PhaseTensors:
  """What an extra-loss hook sees of a phase (None where a phase has none).

  Attributes:
    phase: 'g_main' or 'd_main'.
    key: a PRNG key of the hook's own.
    real, real_c: the real images [N, H, W, C] and labels [N, c_dim].
    fake, fake_c: the generated images and their labels. In `g_main` the
      fakes depend on G's parameters (the hook's loss trains G through
      them); in `d_main` they are gradient-stopped.
    ws: the fakes' ws [N, num_ws, w_dim].
    real_logits, fake_logits: D's logits [N, 1] on them (augmented as D
      sees them when augmentation is on; the images above are not).
    d_fn: (images, c) -> logits with this phase's D parameters, without
      augmentation; in `d_main` the gradient of the hook's loss reaches D
      through it.
  """

  phase: str
  key: jax.Array
  real: jax.Array | None
  real_c: jax.Array | None
  fake: jax.Array
  fake_c: jax.Array
  ws: jax.Array
  real_logits: jax.Array | None
  fake_logits: jax.Array
  d_fn: Callable[[jax.Array, jax.Array], jax.Array]


LossHook = Callable[[PhaseTensors], tuple[jax.Array, Metrics]]


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class StyleGAN2Step(algorithm.Algorithm):
  """The official four-phase training iteration, one method per phase.

  Attributes (besides `Algorithm`'s):
    cfg: loss and regularisation settings.
    extra_g_loss: optional hook whose loss is added to G's main loss.
    extra_d_loss: optional hook whose loss is added to D's main loss.
    augment: what D sees (`augmentation.AugmentSettings`); None: the images
      as they are.
  """

  cfg: StepConfig
  extra_g_loss: LossHook | None = None
  extra_d_loss: LossHook | None = None
  augment: augmentation.AugmentSettings | None = None

  phase_names: ClassVar[tuple[str, ...]] = PHASES

  @classmethod
  def create(cls, config: ml_collections.ConfigDict, c_dim: int, *,
             class_probs: Sequence[float] | None = None,
             constrain_batch: Callable[[jax.Array], jax.Array] = (
                 lambda x: x),
             extra_g_loss: LossHook | None = None,
             extra_d_loss: LossHook | None = None) -> "StyleGAN2Step":
    """The algorithm for an experiment config (see `setup.build`)."""
    G, D = create_networks(config, c_dim)
    g_tx, d_tx = optim.create_optimizers(config)
    return cls(G=G, D=D, g_tx=g_tx, d_tx=d_tx,
               batch_size=config.train.batch_size,
               ema_kimg=config.train.ema_kimg,
               ema_rampup=config.train.ema_rampup,
               class_probs=class_probs, constrain_batch=constrain_batch,
               cfg=StepConfig.from_config(config), extra_g_loss=extra_g_loss,
               extra_d_loss=extra_d_loss,
               augment=augmentation.AugmentSettings.from_config(config))

  def phases(self, step: int) -> list[str]:
    """The phases of iteration `step` (see `phases_for_step`)."""
    return phases_for_step(step, self.cfg)

  @property
  def period(self) -> int:
    return math.lcm(self.cfg.g_reg_interval, self.cfg.d_reg_interval)

  def init_state(self, key: jax.Array) -> TrainState:
    return state_lib.create_train_state(
        key, self.G, self.D, self.g_tx, self.d_tx,
        augment_p=self.augment.initial_p if self.augment else 0.0)

  def end_iteration(self, state: TrainState) -> TrainState:
    """G_ema and the counters, then ADA's adjustment of p when it is due."""
    state = super().end_iteration(state)
    if self.augment is None:
      return state
    return state.replace(augment=self.augment.end_iteration(
        state.augment, state.step, self.batch_size))

  def phase_key(self, state: TrainState, phase: str) -> jax.Array:
    key = jax.random.wrap_key_data(state.key)
    key = jax.random.fold_in(key, state.step)
    return jax.random.fold_in(key, PHASES.index(phase))

  def latents(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    z, c = sample_latents(key, n, self.G.z_dim, self.class_probs)
    return self.constrain_batch(z), self.constrain_batch(c)

  def run_g(self, params, buffers, z, c, key):
    """`generator_forward` with this step's mixing and batch constraint."""
    return generator_forward(self.G, params, buffers, z, c, key,
                             style_mixing_prob=self.cfg.style_mixing_prob,
                             constrain_batch=self.constrain_batch)

  def d_fn(self, d_params: Variables) -> Callable[[jax.Array, jax.Array],
                                                  jax.Array]:
    return lambda img, c: self.D.apply({"params": d_params}, img, c)

  def augmented(self, images: jax.Array, key: jax.Array,
                state: TrainState) -> jax.Array:
    """What D sees of `images` [N, H, W, C] (the images when off)."""
    if self.augment is None:
      return images
    return self.augment.apply(images, key, state.augment["p"])

  @property
  def adaptive(self) -> bool:
    """Whether p adapts (ADA), so that D-main and R1 count signs."""
    return self.augment is not None and self.augment.mode == "ada"

  def _signs(self, state: TrainState, real_logits: jax.Array):
    """Adds sign(D(real)) to ADA's sums; (state, logged metrics).

    The metrics (when augmentation settings are present, whatever the
    mode): `augment/p` and `augment/rt`, this batch's E[sign(D(real))] (the
    log averages it over the logging interval).
    """
    if self.augment is None:
      return state, {}
    metrics = {"augment/p": state.augment["p"],
               "augment/rt": jnp.mean(jnp.sign(real_logits))}
    if self.adaptive:
      state = state.replace(augment=augmentation.accumulate(
          state.augment, real_logits))
    return state, metrics

  def _g_update(self, state, grads, phase, prefix):
    params, opt_state, norms = self.optimizer_step(
        self.g_tx, grads, state.g_opt_state, state.g_params, prefix,
        active=active_params(state.g_params, phase))
    return state.replace(g_params=params, g_opt_state=opt_state), norms

  def _d_update(self, state, grads, phase, prefix):
    params, opt_state, norms = self.optimizer_step(
        self.d_tx, grads, state.d_opt_state, state.d_params, prefix,
        active=active_params(state.d_params, phase))
    return state.replace(d_params=params, d_opt_state=opt_state), norms

  def g_main(self, state: TrainState, batch: Batch):
    """Non-saturating G loss on D(G(z, c)) (+ extra_g_loss); trains G."""
    phase_key = self.phase_key(state, "g_main")
    latent_key, g_key, hook_key = jax.random.split(phase_key, 3)
    _, fake_key = augmentation.phase_keys(phase_key)
    z, c = self.latents(latent_key, self.batch_size)
    if self.cfg.ms_weight:  # Pairs of one label (`mode_seeking_penalty`).
      half = self.batch_size // 2
      c = self.constrain_batch(jnp.concatenate([c[:half], c[:half]]))
    d_fn = self.d_fn(state.d_params)

    def loss_fn(g_params):
      fake, ws, buffers = self.run_g(g_params, state.g_buffers, z, c, g_key)
      fake_logits = d_fn(self.augmented(fake, fake_key, state), c)
      loss, metrics = losses.g_main_loss(fake_logits)
      if self.cfg.ms_weight:
        ms_loss, ms_metrics = losses.mode_seeking_penalty(fake, z)
        loss = loss + self.cfg.ms_weight * ms_loss
        metrics = {**metrics, **ms_metrics}
      if self.extra_g_loss is not None:
        extra, extra_metrics = self.extra_g_loss(PhaseTensors(
            phase="g_main", key=hook_key, real=batch.get("image"),
            real_c=batch.get("label"), fake=fake, fake_c=c, ws=ws,
            real_logits=None, fake_logits=fake_logits, d_fn=d_fn))
        loss = loss + extra
        metrics = {**metrics, **extra_metrics}
      return loss, (metrics, buffers)

    grads, (metrics, buffers) = jax.grad(loss_fn, has_aux=True)(
        state.g_params)
    state, norms = self._g_update(state, grads, "g_main", "G")
    return state.replace(g_buffers=buffers), {**metrics, **norms}

  def g_reg(self, state: TrainState, batch: Batch):
    """Path-length regulariser (x g_reg_interval); trains G."""
    del batch  # Path length draws only latents and labels.
    cfg = self.cfg
    n = self.batch_size // cfg.pl_batch_shrink
    latent_key, g_key, noise_key = jax.random.split(
        self.phase_key(state, "g_reg"), 3)
    z, c = self.latents(latent_key, n)
    res, ch = self.G.img_resolution, self.G.img_channels
    pl_noise = self.constrain_batch(
        jax.random.normal(noise_key, (n, res, res, ch)) / np.sqrt(res * res))
    mix_key, synth_key = jax.random.split(g_key)

    def loss_fn(g_params):
      ws, buffers = map_training(self.G, g_params, state.g_buffers, z, c,
                                 mix_key, cfg.style_mixing_prob,
                                 self.constrain_batch)
      synthesize = lambda w: synthesize_training(  # pylint: disable=unnecessary-lambda-assignment
          self.G, g_params, buffers, w, synth_key)
      loss, metrics = losses.path_length_penalty(
          synthesize, ws, pl_noise, state.pl_mean, cfg.pl_decay,
          cfg.pl_weight)
      return loss * cfg.g_reg_interval, (metrics, buffers)

    grads, (metrics, buffers) = jax.grad(loss_fn, has_aux=True)(
        state.g_params)
    state, norms = self._g_update(state, grads, "g_reg", "G_reg")
    state = state.replace(g_buffers=buffers, pl_mean=metrics["reg/pl_mean"])
    return state, {**metrics, **norms}

  def d_main(self, state: TrainState, batch: Batch):
    """softplus(D(fake)) + softplus(-D(real)) (+ extra_d_loss); trains D."""
    phase_key = self.phase_key(state, "d_main")
    latent_key, g_key, hook_key = jax.random.split(phase_key, 3)
    real_key, fake_key = augmentation.phase_keys(phase_key)
    z, c = self.latents(latent_key, self.batch_size)
    # G runs (moving w_avg, as G is in training mode) but is not trained.
    fake, ws, buffers = self.run_g(state.g_params, state.g_buffers, z, c,
                                   g_key)
    fake = jax.lax.stop_gradient(fake)
    real, real_c = batch["image"], batch["label"]
    fake_seen = self.augmented(fake, fake_key, state)
    real_seen = self.augmented(real, real_key, state)

    def loss_fn(d_params):
      d_fn = self.d_fn(d_params)
      fake_logits = d_fn(fake_seen, c)
      real_logits = d_fn(real_seen, real_c)
      loss, metrics = losses.d_main_loss(fake_logits, real_logits)
      if self.extra_d_loss is not None:
        extra, extra_metrics = self.extra_d_loss(PhaseTensors(
            phase="d_main", key=hook_key, real=real, real_c=real_c,
            fake=fake, fake_c=c, ws=ws, real_logits=real_logits,
            fake_logits=fake_logits, d_fn=d_fn))
        loss = loss + extra
        metrics = {**metrics, **extra_metrics}
      return loss, (metrics, real_logits)

    grads, (metrics, real_logits) = jax.grad(loss_fn, has_aux=True)(
        state.d_params)
    state, sign_metrics = self._signs(state, real_logits)
    state, norms = self._d_update(state, grads, "d_main", "D")
    return state.replace(g_buffers=buffers), {**metrics, **sign_metrics,
                                              **norms}

  def d_reg(self, state: TrainState, batch: Batch):
    """R1 on the reals (x d_reg_interval); trains D.

    With augmentation, D sees the augmented reals and the penalty is the
    gradient w.r.t. the un-augmented ones, as in the official loop; their
    signs count towards ADA's r_t too.
    """
    real_key, _ = augmentation.phase_keys(self.phase_key(state, "d_reg"))

    def d_seen(d_params):
      d_fn = self.d_fn(d_params)
      return lambda img, c: d_fn(self.augmented(img, real_key, state), c)

    def loss_fn(d_params):
      loss, metrics = losses.r1_penalty(
          d_seen(d_params), batch["image"], batch["label"],
          self.cfg.r1_gamma)
      return loss * self.cfg.d_reg_interval, metrics

    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.d_params)
    if self.adaptive:
      real_logits = d_seen(state.d_params)(batch["image"], batch["label"])
      state, _ = self._signs(state, real_logits)
    state, norms = self._d_update(state, grads, "d_reg", "D_reg")
    return state, {**metrics, **norms}
