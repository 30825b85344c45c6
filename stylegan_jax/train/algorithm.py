"""What a training algorithm provides to the shared set-up, loop and state.

Every system trained here (StyleGAN2's four phases, the classic GAN
baselines, progressive growing, pix2pix) is a subclass of `Algorithm`. The
shared machinery (`setup.build`, the loop, checkpoints, logging, sample
grids) talks only to this interface:

* `phase_names`: every phase the algorithm may run; each is a method
  `(state, batch) -> (state, metrics)` that `setup` jits with the state
  donated and the batch sharded;
* `phases(step)`: the phases of iteration `step`, picked in Python;
* `end_iteration(state)`: what ends every iteration (G_ema, counters);
* `init_state(key)`: a fresh `TrainState`;
* `batch_spec()` / `host_batch(raw)`: the global batch's arrays, and how a
  host batch from the input pipeline becomes them;
* `grid_inputs(...)` / `render(...)`: fixed inputs for the sample grids and
  the images G_ema makes from them.

The base class also owns the pieces the algorithms share: the optimiser
step with gradient cleaning and norms, and G_ema plus the counters.
"""

from collections.abc import Callable, Sequence
import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax

from stylegan_jax import labels as labels_lib
from stylegan_jax.train import state as state_lib
from stylegan_jax.train.state import TrainState

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]
Variables = dict[str, Any]


def clean_gradients(grads):
  """NaN -> 0, +inf -> 1e5, -inf -> -1e5, as before every optimizer step."""
  return jax.tree.map(
      lambda g: jnp.nan_to_num(g, nan=0.0, posinf=1e5, neginf=-1e5), grads)


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Algorithm:
  """Base of the training algorithms (see the module docstring).

  Attributes:
    G, D: the networks (Linen modules).
    g_tx, d_tx: their optimisers.
    batch_size: the global batch.
    ema_kimg, ema_rampup: G_ema's half-life in kimg and its ramp-up (None:
      none); ema_kimg 0 makes G_ema follow G exactly.
    class_probs: the training set's label distribution [c_dim] for fake
      labels (None or empty: unconditional).
    constrain_batch: applied to per-sample arrays created inside a step to
      pin their sharding to the batch axis.
  """

  G: Any
  D: Any
  g_tx: optax.GradientTransformation
  d_tx: optax.GradientTransformation
  batch_size: int
  ema_kimg: float
  ema_rampup: float | None
  class_probs: Sequence[float] | None
  constrain_batch: Callable[[jax.Array], jax.Array] = lambda x: x

  phase_names: ClassVar[tuple[str, ...]] = ()

  # ----------------------------------------------------------- interface --

  def phases(self, step: int) -> list[str]:
    """The phases of iteration `step`, in order."""
    raise NotImplementedError

  @property
  def period(self) -> int:
    """Iterations after which the phase schedule repeats."""
    return 1

  @classmethod
  def stage_at(cls, config, nimg: int):
    """The stage at `nimg` images (see `setup.stage_at`); None: one stage."""
    del config, nimg
    return None

  def init_state(self, key: jax.Array) -> TrainState:
    """A fresh state (networks initialised, optimisers' states, G_ema)."""
    raise NotImplementedError

  @property
  def c_dim(self) -> int:
    return 0 if self.class_probs is None else len(self.class_probs)

  def batch_spec(self) -> dict[str, tuple[tuple[int, ...], Any]]:
    """{name: (global shape, dtype)} of what a phase's batch holds."""
    res, ch = self.G.img_resolution, self.G.img_channels
    return {"image": ((self.batch_size, res, res, ch), np.float32),
            "label": ((self.batch_size, self.c_dim), np.float32)}

  def host_batch(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A pipeline batch (images, int labels) -> this process's batch arrays."""
    return {"image": raw["image"],
            "label": labels_lib.one_hot(raw["label"], self.c_dim)}

  def grid_inputs(self, key: jax.Array, rows: int, cols: int,
                  class_rows: bool) -> dict[str, np.ndarray]:
    """Fixed inputs of the sample grid: latents (one row per class)."""
    n = rows * cols
    z = np.asarray(jax.random.normal(key, (n, self.G.z_dim)))
    labels = (np.repeat(np.arange(rows), cols) if class_rows
              else np.zeros(n, np.int32))
    return {"z": z, "c": labels_lib.one_hot(labels, self.c_dim)}

  def render(self, params: Variables, buffers: Variables,
             inputs: dict[str, jax.Array]) -> jax.Array:
    """G_ema's images [N, H, W, C] for `grid_inputs` (traced under jit)."""
    return self.G.apply({"params": params, "buffers": buffers}, inputs["z"],
                        inputs["c"], noise_mode="const")

  # ------------------------------------------------------ shared pieces --

  def optimizer_step(self, tx, grads, opt_state, params, prefix: str,
                     active=None):
    """Cleans the gradients, applies `tx`; returns params, state, norms."""
    grads = clean_gradients(grads)
    kwargs = {} if active is None else {"active": active}
    updates, opt_state = tx.update(grads, opt_state, params, **kwargs)
    params = optax.apply_updates(params, updates)
    norms = {f"norm/{prefix}_grad": optax.tree_utils.tree_norm(grads),
             f"norm/{prefix}_update": optax.tree_utils.tree_norm(updates),
             f"norm/{prefix}_param": optax.tree_utils.tree_norm(params)}
    return params, opt_state, norms

  def end_iteration(self, state: TrainState) -> TrainState:
    """After the phases: G_ema update, then the counters advance."""
    state = state_lib.update_ema(state, self.batch_size, self.ema_kimg,
                                 self.ema_rampup)
    return state_lib.advance(state, self.batch_size)

  def iteration(self, state: TrainState, batch: Batch,
                phases: Sequence[str]) -> tuple[TrainState, Metrics]:
    """One whole iteration: `phases` in order, then `end_iteration`."""
    metrics = {}
    for phase in phases:
      state, phase_metrics = getattr(self, phase)(state, batch)
      metrics.update(phase_metrics)
    return self.end_iteration(state), metrics

