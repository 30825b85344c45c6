"""The classic GAN baselines' training algorithm (`mlp`, `dcgan`, `vanilla`).

`ClassicGAN` (an `algorithm.Algorithm`) trains the baseline networks of
`nets/mlp.py`, `nets/dcgan.py` and `nets/vanilla.py` with the loss family of
`losses.py`, in the shared set-up, loop, state and checkpoints. Its phases:

* `d_main`: one D step on the iteration's real batch and as many fakes:
  the loss `loss.gan_loss` (`losses.d_loss`), plus WGAN-GP's gradient
  penalty on random real/fake interpolates when `loss.gp_weight` > 0, plus
  R1 (`loss.r1_gamma` > 0) folded into the same loss when
  `optim.d_reg_interval` is 1;
* `d_reg`: R1 alone, lazily: x d_reg_interval every `d_reg_interval`-th
  iteration when that interval is > 1 (as StyleGAN2 does, with the
  optimiser's lazy correction of D's lr and betas);
* `g_main`: one G step (`losses.g_loss`) after the D step of every
  `train.n_critic`-th iteration.

So an iteration is one D step with its own real batch: `nimg` counts the
images D has seen (an epoch is one pass of D over the data), and with
n_critic = 5 G steps once every 5 iterations, after the 5th critic step, as
in WGAN-GP's Algorithm 1. G_ema is updated after every iteration
(`train.ema_kimg` 0 makes it equal G exactly, the recipes' own behaviour).

The fakes of a D step take the real batch's labels (the same distribution as
drawing them from the data's label distribution, and the penalty's
interpolates then keep one label); G's step draws its labels from the
data's distribution, as StyleGAN2 does. Each phase draws from a key folded
from the state's key, the step and the phase, so a resumed run draws the
same numbers.
"""

from collections.abc import Callable, Sequence
import dataclasses
import math
import re
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import ml_collections

from stylegan_jax import losses
from stylegan_jax import tree_util
from stylegan_jax.errors import ConfigError
from stylegan_jax.nets import create_networks
from stylegan_jax.train import algorithm
from stylegan_jax.train import augmentation
from stylegan_jax.train import optim
from stylegan_jax.train import step as step_lib
from stylegan_jax.train.state import TrainState

PHASES = ("d_main", "d_reg", "g_main")
# D's output bias has no gradient in R1 (it differentiates w.r.t. the image);
# like torch's Adam, the lazy R1 phase leaves its optimiser state alone.
_NO_R1_GRADIENT = re.compile(r"^out/bias$")
Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]
Variables = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class ClassicConfig:
  """The baselines' loss settings (defaults: `configs.py`).

  Attributes:
    gan_loss: a name in `losses.GAN_LOSSES`.
    gp_weight: WGAN-GP's lambda; 0 turns the gradient penalty off.
    r1_gamma: R1's weight; 0 turns it off.
    d_reg_interval: R1 every this many D steps (lazy, x interval); 1 folds
      it into every D step's loss.
    n_critic: D steps per G step.
  """

  gan_loss: str
  gp_weight: float
  r1_gamma: float
  d_reg_interval: int
  n_critic: int

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "ClassicConfig":
    return cls(gan_loss=config.loss.gan_loss,
               gp_weight=config.loss.gp_weight,
               r1_gamma=config.loss.r1_gamma,
               d_reg_interval=config.optim.d_reg_interval,
               n_critic=config.train.n_critic)

  @property
  def lazy_r1(self) -> bool:
    """Whether R1 runs as its own phase (`d_reg`)."""
    return self.r1_gamma != 0 and self.d_reg_interval > 1


def classic_phases(step: int, cfg: ClassicConfig) -> list[str]:
  """The phases of iteration `step`: D, lazy R1 if due, then G if due.

  R1 runs at iterations 0, d_reg_interval, ...; G after the D step of
  iterations n_critic - 1, 2 n_critic - 1, ...
  """
  phases = ["d_main"]
  if cfg.lazy_r1 and step % cfg.d_reg_interval == 0:
    phases.append("d_reg")
  if step % cfg.n_critic == cfg.n_critic - 1:
    phases.append("g_main")
  return phases


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class ClassicGAN(algorithm.Algorithm):
  """A classic GAN's training iteration, one method per phase.

  Attributes (besides `Algorithm`'s):
    cfg: the loss settings.
  """

  cfg: ClassicConfig

  phase_names: ClassVar[tuple[str, ...]] = PHASES

  @classmethod
  def create(cls, config: ml_collections.ConfigDict, c_dim: int, *,
             class_probs: Sequence[float] | None = None,
             constrain_batch: Callable[[jax.Array], jax.Array] = (
                 lambda x: x),
             **hooks: Any) -> "ClassicGAN":
    """The algorithm for an experiment config (see `setup.build`)."""
    if hooks:
      raise ConfigError(
          f"{', '.join(sorted(hooks))}: extra-loss hooks are for model.arch "
          f"stylegan2 — the {config.model.arch} baseline trains "
          "loss.gan_loss (with loss.gp_weight and loss.r1_gamma)")
    G, D = create_networks(config, c_dim)
    cfg = ClassicConfig.from_config(config)
    g_tx, d_tx = optim.create_optimizers(
        config, (None, cfg.d_reg_interval if cfg.lazy_r1 else None))
    return cls(G=G, D=D, g_tx=g_tx, d_tx=d_tx,
               batch_size=config.train.batch_size,
               ema_kimg=config.train.ema_kimg,
               ema_rampup=config.train.ema_rampup,
               class_probs=class_probs, constrain_batch=constrain_batch,
               cfg=cfg)

  def phases(self, step: int) -> list[str]:
    """The phases of iteration `step` (see `classic_phases`)."""
    return classic_phases(step, self.cfg)

  @property
  def period(self) -> int:
    return math.lcm(self.cfg.n_critic,
                    self.cfg.d_reg_interval if self.cfg.lazy_r1 else 1)

  def init_state(self, key: jax.Array) -> TrainState:
    """Fresh networks and Adam states; G_ema a copy of G; no buffers."""
    g_key, d_key, train_key = jax.random.split(key, 3)
    c = jnp.zeros((1, self.G.c_dim))
    g_params = self.G.init(g_key, jnp.zeros((1, self.G.z_dim)), c)["params"]
    res, ch = self.D.img_resolution, self.D.img_channels
    d_params = self.D.init(d_key, jnp.zeros((1, res, res, ch)), c)["params"]
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        nimg=jnp.zeros((), jnp.int32),
        g_params=g_params,
        g_buffers={},
        d_params=d_params,
        g_opt_state=self.g_tx.init(g_params),
        d_opt_state=self.d_tx.init(d_params),
        ema_params=jax.tree.map(jnp.copy, g_params),  # Own buffers: donated.
        ema_buffers={},
        pl_mean=jnp.zeros((), jnp.float32),
        key=jax.random.key_data(train_key),
        augment=augmentation.init_state(0.0))  # Baselines do not augment.

  def render(self, params: Variables, buffers: Variables,
             inputs: dict[str, jax.Array]) -> jax.Array:
    """G_ema's images [N, H, W, C] for `grid_inputs` (no noise, no W)."""
    del buffers  # The baselines have none.
    return self.generate(params, inputs["z"], inputs["c"])

  # ---------------------------------------------------------- pieces --

  def generate(self, g_params: Variables, z: jax.Array,
               c: jax.Array) -> jax.Array:
    """z [N, z_dim], c [N, c_dim] -> images [N, H, W, C] in [-1, 1]."""
    return self.G.apply({"params": g_params}, z, c)

  def d_fn(self, d_params: Variables) -> Callable[[jax.Array, jax.Array],
                                                  jax.Array]:
    """(images [N, H, W, C], c [N, c_dim]) -> D's logits [N, 1]."""
    return lambda img, c: self.D.apply({"params": d_params}, img, c)

  def phase_key(self, state: TrainState, phase: str) -> jax.Array:
    key = jax.random.wrap_key_data(state.key)
    key = jax.random.fold_in(key, state.step)
    return jax.random.fold_in(key, PHASES.index(phase))

  def d_inputs(self, state: TrainState,
               batch: Batch) -> tuple[jax.Array, jax.Array, jax.Array]:
    """What `d_main` draws: (fakes [N, H, W, C], their labels, the key of
    the gradient penalty's interpolation weights).

    The fakes come from G with the real batch's labels and are
    gradient-stopped.
    """
    latent_key, gp_key = jax.random.split(self.phase_key(state, "d_main"))
    c = batch["label"]
    z = self.constrain_batch(
        jax.random.normal(latent_key, (self.batch_size, self.G.z_dim)))
    fake = jax.lax.stop_gradient(self.generate(state.g_params, z, c))
    return fake, c, gp_key

  def d_loss(self, d_params: Variables, real: jax.Array, fake: jax.Array,
             c: jax.Array, key: jax.Array) -> tuple[jax.Array, Metrics]:
    """D's main loss: the GAN loss (+ gradient penalty) (+ folded-in R1).

    Args:
      d_params: D's parameters (what the loss is differentiated by).
      real, fake: images [N, H, W, C]; fake gradient-stopped.
      c: labels [N, c_dim] of both.
      key: the gradient penalty's key (interpolation weights).

    Returns:
      (loss, metrics): `losses.d_loss`'s, `losses.gradient_penalty`'s and
      `losses.r1_penalty`'s metrics, those that are on.
    """
    cfg, d_fn = self.cfg, self.d_fn(d_params)
    loss, metrics = losses.d_loss(cfg.gan_loss, d_fn(real, c), d_fn(fake, c))
    if cfg.gp_weight:
      gp, gp_metrics = losses.gradient_penalty(d_fn, real, fake, key,
                                               cfg.gp_weight, c)
      loss, metrics = loss + gp, {**metrics, **gp_metrics}
    if cfg.r1_gamma and not cfg.lazy_r1:
      r1, r1_metrics = losses.r1_penalty(d_fn, real, c, cfg.r1_gamma)
      loss, metrics = loss + r1, {**metrics, **r1_metrics}
    return loss, {**metrics, "loss/D": loss}

  # ---------------------------------------------------------- phases --

  def d_main(self, state: TrainState, batch: Batch):
    """One D step on `d_loss` (see the module docstring); trains D."""
    fake, c, gp_key = self.d_inputs(state, batch)
    grads, metrics = jax.grad(self.d_loss, has_aux=True)(
        state.d_params, batch["image"], fake, c, gp_key)
    params, opt_state, norms = self.optimizer_step(
        self.d_tx, grads, state.d_opt_state, state.d_params, "D")
    state = state.replace(d_params=params, d_opt_state=opt_state)
    return state, {**metrics, **norms}

  def d_reg(self, state: TrainState, batch: Batch):
    """Lazy R1 on the reals (x d_reg_interval); trains D."""
    cfg = self.cfg

    def loss_fn(d_params):
      loss, metrics = losses.r1_penalty(self.d_fn(d_params), batch["image"],
                                        batch["label"], cfg.r1_gamma)
      return loss * cfg.d_reg_interval, metrics

    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.d_params)
    active = tree_util.map_with_names(
        lambda name, _: not _NO_R1_GRADIENT.search(name), state.d_params)
    params, opt_state, norms = self.optimizer_step(
        self.d_tx, grads, state.d_opt_state, state.d_params, "D_reg",
        active=active)
    state = state.replace(d_params=params, d_opt_state=opt_state)
    return state, {**metrics, **norms}

  def g_main(self, state: TrainState, batch: Batch):
    """One G step on `losses.g_loss` of D's logits on fresh fakes."""
    del batch  # G's step draws only latents and labels.
    z, c = step_lib.sample_latents(self.phase_key(state, "g_main"),
                                   self.batch_size, self.G.z_dim,
                                   self.class_probs)
    z, c = self.constrain_batch(z), self.constrain_batch(c)
    d_fn = self.d_fn(state.d_params)

    def loss_fn(g_params):
      return losses.g_loss(self.cfg.gan_loss,
                           d_fn(self.generate(g_params, z, c), c))

    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.g_params)
    params, opt_state, norms = self.optimizer_step(
        self.g_tx, grads, state.g_opt_state, state.g_params, "G")
    state = state.replace(g_params=params, g_opt_state=opt_state)
    return state, {**metrics, **norms}
