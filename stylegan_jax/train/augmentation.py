"""Augmenting what D sees during training, and ADA's adjustment of p.

`AugmentSettings.from_config(config)` reads `config.augment`. The StyleGAN2
phases (`train.step`) pass every image D sees through `settings.apply`, as
the official loop does: reals and fakes in D-main, the reals of R1 (the
penalty is taken w.r.t. the un-augmented reals) and the fakes in G-main, each
with its own key (`phase_keys`). Modes: `noaug` (identity), `ada` (the ADA
pipeline with the adaptive p), `fixed` (the pipeline with a constant p) and
`diffaugment` (the DiffAugment policy; p plays no part).

The state's `augment` entry (`init_state`) holds p and the sums of
sign(D(real)) since the last adjustment. The phases add to the sums
(`accumulate`: D-main and R1, as the official statistics collector sees
both); `end_iteration` moves p every `ada_interval` iterations with
`augment.ada.update_p` (mode `ada` only) and resets the sums. Everything is
traced inside the jitted steps: the sums run over the global batch, sharded
or not, so over every device and host, and p and the sums are checkpointed
with the state, so a resumed run continues them bit for bit.
"""

from collections.abc import Callable
import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from stylegan_jax import augment as augment_lib
from stylegan_jax import images as images_lib
from stylegan_jax.augment import ada

MODES = ("noaug", "ada", "fixed", "diffaugment")
# Salt for the augmentation keys, folded into a phase's key so that the
# phase's other draws (latents, noise) are the same with and without it.
_KEY_SALT = 0x0A06

AugmentState = dict[str, jax.Array]


def init_state(p: float = 0.0) -> AugmentState:
  """p (float32 []) and empty sign sums (`sign_sum`, `count`, float32 [])."""
  stats = ada.init_sign_stats()
  return {"p": jnp.asarray(p, jnp.float32), "sign_sum": stats.sign_sum,
          "count": stats.count}


def accumulate(state: AugmentState, real_logits: jax.Array) -> AugmentState:
  """Adds sign(D(real)) of logits [N, 1] (the global batch) to the sums."""
  stats = ada.accumulate_signs(
      ada.SignStats(state["sign_sum"], state["count"]), real_logits)
  return {**state, "sign_sum": stats.sign_sum, "count": stats.count}


def phase_keys(phase_key: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(reals' key, fakes' key) of a phase, folded from its key."""
  key = jax.random.fold_in(phase_key, _KEY_SALT)
  return jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)


@dataclasses.dataclass(frozen=True)
class AugmentSettings:
  """`config.augment` (defaults and meanings: `configs.base_config`)."""

  mode: str
  pipe: str
  p: float
  target: float
  ada_kimg: float
  ada_interval: int
  diffaugment_policy: str

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict
                  ) -> "AugmentSettings":
    a = config.augment
    return cls(mode=a.mode, pipe=a.pipe, p=float(a.p), target=float(a.target),
               ada_kimg=float(a.ada_kimg), ada_interval=int(a.ada_interval),
               diffaugment_policy=a.diffaugment_policy)

  def __post_init__(self):
    if self.mode not in MODES:
      raise ValueError(f"augment mode must be one of {MODES}, got "
                       f"{self.mode!r}")

  @property
  def enabled(self) -> bool:
    return self.mode != "noaug"

  @property
  def initial_p(self) -> float:
    """p of a fresh state: the configured p for `ada` and `fixed`, else 0."""
    return self.p if self.mode in ("ada", "fixed") else 0.0

  def apply(self, images: jax.Array, key: jax.Array,
            p: jax.Array) -> jax.Array:
    """What D sees of `images` [N, H, W, C]: augmented with probability p.

    With `noaug`, and with `ada`/`fixed` at p = 0, the images come back bit
    for bit. Differentiable w.r.t. the images (reverse mode).
    """
    if self.mode == "noaug":
      return images
    if self.mode == "diffaugment":
      return augment_lib.diff_augment(images, key, self.diffaugment_policy)
    return augment_lib.augment(images, key, p, self.pipe)

  def end_iteration(self, state: AugmentState, step: jax.Array,
                    batch_size: int) -> AugmentState:
    """After iteration `step` - 1 (so `step` iterations are done): every
    `ada_interval` iterations, p moves (`ada`) and the sums restart."""
    due = step % self.ada_interval == 0
    p = state["p"]
    if self.mode == "ada":
      new_p = ada.update_p(p, state["sign_sum"], state["count"],
                           target=self.target, batch_size=batch_size,
                           interval=self.ada_interval,
                           ada_kimg=self.ada_kimg)
      p = jnp.where(due, new_p, p)
    zero = jnp.zeros((), jnp.float32)
    return {"p": p, "sign_sum": jnp.where(due, zero, state["sign_sum"]),
            "count": jnp.where(due, zero, state["count"])}


def augmented_reals_fn(settings: AugmentSettings, reals: np.ndarray,
                       key: jax.Array) -> Callable[[float], np.ndarray]:
  """p -> two rows: the reals [N, H, W, C] and what D sees of them at p.

  The key is fixed, so the same draws fire more often as p grows. The
  returned function gives uint8 [2H, N W, C], for the snapshot's PNG and
  TensorBoard.
  """
  reals = np.asarray(reals, np.float32)
  apply = jax.jit(settings.apply)

  def grid(p: float) -> np.ndarray:
    seen = np.asarray(apply(reals, key, jnp.asarray(p, jnp.float32)))
    return images_lib.make_grid(np.concatenate([reals, seen]), len(reals))

  return grid
