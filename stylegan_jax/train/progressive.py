"""Progressive growing: ProGAN's schedule around StyleGAN2's training phases.

`model.arch = 'stylegan2_progressive'` trains the networks of
`nets/progressive.py` the way ProGAN (and StyleGAN 1) grows them: at
`progressive.start_resolution` for `stage_kimg`, then, per doubling, a fade
of `fade_kimg` in which alpha goes 0 -> 1, then `stage_kimg` at the new
resolution (the last one until `total_kimg`).

* `schedule(config)` lists the stages with the image count each starts at;
  `stage_at(config, nimg)` is the `Stage` (resolution, fading, global batch,
  G and D learning rates) at an image count, a function of the count alone.
  The loop rebuilds the compiled steps, the optimisers and the data iterator
  (the stage's batch size) whenever it changes.
* `ProgressiveStyleGAN` (a `StyleGAN2Step`) runs the four official phases on
  the stage's networks. Each phase computes alpha from `state.nimg` (traced,
  so a run resumed mid-fade is exact), writes it to G's `alpha` buffer, gives
  it to D, and blends the reals as ProGAN does: the pipeline's images are
  box-averaged to the stage's resolution on the host (`host_batch`), and
  during a fade each real is `(1 - alpha) * up(down(real)) + alpha * real`.
  Adam's moments are reset when a stage starts (`progressive.
  reset_optimizer`), and parameters a stage does not use are left alone by
  the optimiser (no moment decay, no step count), as torch does for
  parameters without gradients.
* Sample grids and SWD see G_ema's images nearest-up-sampled to the final
  resolution (as ProGAN's snapshots), at the alpha of the state.
"""

from collections.abc import Callable, Sequence
import bisect
import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from stylegan_jax import configs
from stylegan_jax import labels as labels_lib
from stylegan_jax import tree_util
from stylegan_jax.nets import progressive as nets
from stylegan_jax.ops import filters
from stylegan_jax.train import optim
from stylegan_jax.train import step as step_lib
from stylegan_jax.train.state import TrainState


class Stage(NamedTuple):
  """One stage of a progressive run (hashable; what the steps compile for)."""

  resolution: int
  fading: bool
  batch_size: int
  g_lr: float
  d_lr: float


def _nimg(kimg: float) -> int:
  return int(round(kimg * 1000))


def schedule(config: ml_collections.ConfigDict) -> list[tuple[int, Stage]]:
  """[(first nimg, Stage), ...] in order; the last stage never ends.

  As ProGAN's `TrainingSchedule` (its level of detail as a function of the
  image count): with T = stage_kimg and F = fade_kimg images, the start
  resolution holds on [0, T], the next one fades in on (T, T + F) (alpha =
  (nimg - T) / F), holds on [T + F, 2T + F], and so on; with F = 0 each
  resolution holds on [kT, (k + 1)T). Stages of length 0 are left out.
  """
  p = config.progressive
  batches = configs.resolution_map(p.batch_sizes)
  g_lrs = configs.resolution_map(p.g_lrs)
  d_lrs = configs.resolution_map(p.d_lrs)

  def stage(res, fading):
    return Stage(res, fading, batches.get(res, config.train.batch_size),
                 g_lrs.get(res, config.optim.g_lr),
                 d_lrs.get(res, config.optim.d_lr))

  resolutions = configs.progressive_resolutions(config)
  stable, fade = _nimg(p.stage_kimg), _nimg(p.fade_kimg)
  out, start = [(0, stage(resolutions[0], False))], stable
  for res in resolutions[1:]:
    if fade:  # A fade starts after its nominal start: (start, start + F).
      out.append((start + 1, stage(res, True)))
      start += fade
    out.append((start, stage(res, False)))
    start += stable
  # Keep the last stage starting at each count (drops zero-length ones).
  return [s for i, s in enumerate(out)
          if i + 1 == len(out) or out[i + 1][0] != s[0]]


def stage_at(config: ml_collections.ConfigDict, nimg: int) -> Stage:
  """The stage at `nimg` images shown."""
  stages = schedule(config)
  return stages[bisect.bisect_right([s for s, _ in stages], nimg) - 1][1]


def _with_lrs(config: ml_collections.ConfigDict, g_lr: float,
              d_lr: float) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict(config.to_dict())
  config.optim.g_lr, config.optim.d_lr = g_lr, d_lr
  return config


def _tree_where(cond, x, y):
  return jax.tree.map(lambda a, b: jnp.where(cond, a, b), x, y)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class ProgressiveStyleGAN(step_lib.StyleGAN2Step):
  """StyleGAN2's phases on progressively grown networks (module docstring).

  Attributes (besides `StyleGAN2Step`'s; G and D are the stage's):
    stage: the `Stage` these steps are for.
    max_resolution: the final resolution (of the reals and the grids).
    fade_start, fade_nimg: where alpha is 0 (the image count before the
      fade's first) and the fade's length in images.
    reset_until: Adam is reset in iterations starting below this image
      count (the stage's first iteration); None: never.
    alpha: the phase's alpha (set on a per-phase copy; None outside).
  """

  stage: Stage
  max_resolution: int
  fade_start: int = 0
  fade_nimg: int = 0
  reset_until: int | None = None
  alpha: Any = None

  @classmethod
  def stage_at(cls, config, nimg: int) -> Stage:
    return stage_at(config, nimg)

  @classmethod
  def create(cls, config: ml_collections.ConfigDict, c_dim: int, *,
             class_probs: Sequence[float] | None = None,
             constrain_batch: Callable[[jax.Array], jax.Array] = (
                 lambda x: x),
             stage: Stage | None = None,
             extra_g_loss: step_lib.LossHook | None = None,
             extra_d_loss: step_lib.LossHook | None = None
             ) -> "ProgressiveStyleGAN":
    """The algorithm for one stage of an experiment config."""
    stages = schedule(config)
    stage = stage or stage_at(config, 0)
    index = [s for _, s in stages].index(stage)
    start = stages[index][0]
    G, D = nets.create_networks(config, c_dim)
    clone = dict(img_resolution=stage.resolution, fading=stage.fading)
    g_tx, d_tx = optim.create_optimizers(
        _with_lrs(config, stage.g_lr, stage.d_lr))
    reset_until = None
    if config.progressive.reset_optimizer and index > 0:
      reset_until = start + stages[index - 1][1].batch_size
    return cls(G=G.clone(**clone), D=D.clone(**clone), g_tx=g_tx, d_tx=d_tx,
               batch_size=stage.batch_size, ema_kimg=config.train.ema_kimg,
               ema_rampup=config.train.ema_rampup, class_probs=class_probs,
               constrain_batch=constrain_batch,
               cfg=step_lib.StepConfig.from_config(config),
               extra_g_loss=extra_g_loss, extra_d_loss=extra_d_loss,
               stage=stage, max_resolution=config.data.resolution,
               fade_start=start - 1 if stage.fading else start,
               fade_nimg=_nimg(config.progressive.fade_kimg),
               reset_until=reset_until)

  # ------------------------------------------------------------ alpha --

  def alpha_at(self, nimg: jax.Array) -> jax.Array:
    """The fade-in coefficient at `nimg` (traced): 1 unless fading."""
    if not self.stage.fading:
      return jnp.ones((), jnp.float32)
    done = (nimg - self.fade_start).astype(jnp.float32)
    return jnp.clip(done / self.fade_nimg, 0.0, 1.0)

  def blend_reals(self, real: jax.Array, alpha: jax.Array) -> jax.Array:
    """Reals [N, R, R, C] at the stage's resolution, faded as ProGAN's."""
    if not self.stage.fading:
      return real
    low = filters.nearest_upsample(filters.box_downsample(real))
    return nets.blend(low, real, alpha)

  def _bind(self, state: TrainState, batch):
    """(this algorithm at the state's alpha, the state, the faded batch)."""
    alpha = self.alpha_at(state.nimg)
    state = state.replace(g_buffers={**state.g_buffers, "alpha": alpha})
    batch = {**batch, "image": self.blend_reals(batch["image"], alpha)}
    return dataclasses.replace(self, alpha=alpha), state, batch

  def _with_alpha(self, state: TrainState) -> TrainState:
    alpha = self.alpha_at(state.nimg)
    return state.replace(g_buffers={**state.g_buffers, "alpha": alpha},
                         ema_buffers={**state.ema_buffers, "alpha": alpha})

  # ----------------------------------------------------------- phases --

  def g_main(self, state: TrainState, batch):
    """The stage's first iteration resets Adam; then StyleGAN2's g_main."""
    alg, state, batch = self._bind(state, batch)
    if self.reset_until is not None:
      first = state.nimg < self.reset_until
      state = state.replace(
          g_opt_state=_tree_where(first, self.g_tx.init(state.g_params),
                                  state.g_opt_state),
          d_opt_state=_tree_where(first, self.d_tx.init(state.d_params),
                                  state.d_opt_state))
    return step_lib.StyleGAN2Step.g_main(alg, state, batch)

  def g_reg(self, state: TrainState, batch):
    """StyleGAN2's g_reg (path length) at the state's alpha."""
    alg, state, batch = self._bind(state, batch)
    return step_lib.StyleGAN2Step.g_reg(alg, state, batch)

  def d_main(self, state: TrainState, batch):
    """StyleGAN2's d_main at the state's alpha, on the faded reals."""
    alg, state, batch = self._bind(state, batch)
    return step_lib.StyleGAN2Step.d_main(alg, state, batch)

  def d_reg(self, state: TrainState, batch):
    """StyleGAN2's d_reg (R1) at the state's alpha, on the faded reals."""
    alg, state, batch = self._bind(state, batch)
    return step_lib.StyleGAN2Step.d_reg(alg, state, batch)

  def d_fn(self, d_params):
    """D at this phase's alpha: (images, c) -> logits."""
    alpha = 1.0 if self.alpha is None else self.alpha
    return lambda img, c: self.D.apply({"params": d_params}, img, c, alpha)

  def _active(self, params, phase: str, uses) -> Any:
    """StyleGAN2's active tree, less the parameters this stage leaves out."""
    res, fading = self.stage.resolution, self.stage.fading
    in_use = tree_util.map_with_names(
        lambda name, _: uses(name, res, fading), params)
    return jax.tree.map(lambda a, b: a and b,
                        step_lib.active_params(params, phase), in_use)

  def _g_update(self, state, grads, phase, prefix):
    active = self._active(state.g_params, phase, nets.generator_uses)
    params, opt_state, norms = self.optimizer_step(
        self.g_tx, grads, state.g_opt_state, state.g_params, prefix,
        active=active)
    return state.replace(g_params=params, g_opt_state=opt_state), norms

  def _d_update(self, state, grads, phase, prefix):
    active = self._active(state.d_params, phase, nets.discriminator_uses)
    params, opt_state, norms = self.optimizer_step(
        self.d_tx, grads, state.d_opt_state, state.d_params, prefix,
        active=active)
    return state.replace(d_params=params, d_opt_state=opt_state), norms

  def end_iteration(self, state: TrainState) -> TrainState:
    """G_ema and the counters, then alpha (both buffers) at the new nimg."""
    return self._with_alpha(super().end_iteration(state))

  # ------------------------------------------------------ state, data --

  def init_state(self, key: jax.Array) -> TrainState:
    return self._with_alpha(super().init_state(key))

  def batch_spec(self) -> dict[str, tuple[tuple[int, ...], Any]]:
    res, ch = self.stage.resolution, self.G.img_channels
    return {"image": ((self.batch_size, res, res, ch), np.float32),
            "label": ((self.batch_size, self.c_dim), np.float32)}

  def host_batch(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Pipeline images box-averaged to the stage's resolution; one-hot c."""
    factor = self.max_resolution // self.stage.resolution
    image = filters.box_downsample(np.asarray(raw["image"], np.float32),
                                   factor)
    return {"image": image,
            "label": labels_lib.one_hot(raw["label"], self.c_dim)}

  def render(self, params, buffers, inputs) -> jax.Array:
    """G_ema at its `alpha` buffer, nearest-up-sampled to the final size."""
    img = super().render(params, buffers, inputs)  # [N, R, R, C]
    return filters.nearest_upsample(
        img, self.max_resolution // self.stage.resolution)
