"""The one set-up path: config -> networks, optimisers, state, compiled steps.

`build(config, c_dim, mesh)` assembles everything a training run needs, in
order: networks (`nets.create_networks`), optimisers
(`optim.create_optimizers`), the step settings and algorithm
(`step.StyleGAN2Step`), the abstract state with its shardings, a jitted init
and the jitted phase steps (batch sharded over the mesh's `data` axis, state
replicated and donated). `main --dry_run`, the training loop and the
throughput benchmark all call it; loading a model for the tools does not
(it needs only the networks and the checkpoint).
"""

from collections.abc import Callable, Sequence
import dataclasses
import functools
import time
from typing import Any

import jax
import ml_collections
import numpy as np
import optax

from stylegan_jax import labels as labels_lib
from stylegan_jax import sharding
from stylegan_jax.nets import Discriminator
from stylegan_jax.nets import Generator
from stylegan_jax.nets import create_networks
from stylegan_jax.train import optim
from stylegan_jax.train import state as state_lib
from stylegan_jax.train import step as step_lib

END_ITERATION = "end_iteration"


@dataclasses.dataclass(frozen=True, eq=False)
class Setup:
  """Everything built from a config for one training run.

  Attributes:
    config: the experiment config.
    mesh: the device mesh.
    G, D: the networks.
    g_tx, d_tx: the optimisers.
    algorithm: the phases and iteration bookkeeping (`StyleGAN2Step`).
    abstract_state: the state as ShapeDtypeStructs carrying its shardings
      (what checkpoints restore into).
    state_shardings: the state's shardings (replicated).
    init: () -> a fresh state, jitted onto the mesh.
    steps: name -> jitted `(state, batch) -> (state, metrics)` per phase,
      plus `end_iteration`: `state -> state`. The state is donated.
    compile_seconds: per step, after `compiled()`.
  """

  config: ml_collections.ConfigDict
  mesh: jax.sharding.Mesh
  G: Generator
  D: Discriminator
  g_tx: optax.GradientTransformation
  d_tx: optax.GradientTransformation
  algorithm: step_lib.StyleGAN2Step
  abstract_state: state_lib.TrainState
  state_shardings: Any
  init: Callable[[], state_lib.TrainState]
  steps: dict[str, Callable[..., Any]]
  compile_seconds: dict[str, float] = dataclasses.field(default_factory=dict)

  @property
  def step_config(self) -> step_lib.StepConfig:
    return self.algorithm.cfg

  def global_batch(self, host_batch: dict[str, np.ndarray]
                   ) -> dict[str, jax.Array]:
    """This process's images and int labels -> global sharded arrays.

    Labels become one-hot `c` [N, c_dim] ([N, 0] when unconditional).
    """
    return sharding.global_batch({
        "image": host_batch["image"],
        "label": labels_lib.one_hot(host_batch["label"], self.G.c_dim),
    }, self.mesh)

  def abstract_batch(self) -> dict[str, jax.ShapeDtypeStruct]:
    """The global batch's shapes, dtypes and shardings."""
    n, res = self.config.train.batch_size, self.G.img_resolution
    s = sharding.batch_sharding(self.mesh)
    return {"image": jax.ShapeDtypeStruct((n, res, res, self.G.img_channels),
                                          np.float32, sharding=s),
            "label": jax.ShapeDtypeStruct((n, self.G.c_dim), np.float32,
                                          sharding=s)}

  def run_iteration(self, state: state_lib.TrainState,
                    batch: dict[str, jax.Array],
                    step: int) -> tuple[state_lib.TrainState, dict[str, Any]]:
    """Iteration `step`: its phases, then `end_iteration` (G_ema, counters).

    Args:
      state: the state (donated: do not use it afterwards).
      batch: from `global_batch`.
      step: the iteration index, a Python int (it picks the phases).

    Returns:
      (the new state, the phases' metrics as device scalars).
    """
    metrics = {}
    for phase in self.algorithm.phases(step):
      state, phase_metrics = self.steps[phase](state, batch)
      metrics.update(phase_metrics)
    return self.steps[END_ITERATION](state), metrics

  def compiled(self) -> "Setup":
    """This set-up with every step compiled ahead of time.

    The returned steps are compiled executables for exactly the abstract
    state and batch (what training feeds them); `compile_seconds` says how
    long each took.
    """
    batch = self.abstract_batch()
    programs, seconds = {}, {}
    for name, fn in self.steps.items():
      args = ((self.abstract_state,) if name == END_ITERATION
              else (self.abstract_state, batch))
      start = time.perf_counter()
      programs[name] = fn.lower(*args).compile()
      seconds[name] = time.perf_counter() - start
    return dataclasses.replace(self, steps=programs, compile_seconds=seconds)


def build(config: ml_collections.ConfigDict, c_dim: int,
          mesh: jax.sharding.Mesh, *,
          class_probs: Sequence[float] | None = None,
          extra_g_loss: step_lib.LossHook | None = None,
          extra_d_loss: step_lib.LossHook | None = None) -> Setup:
  """Builds the networks, optimisers, state and jitted steps for a config.

  Args:
    config: a validated experiment config.
    c_dim: label size (0 for unconditional), defined by the data.
    mesh: from `sharding.create_mesh`.
    class_probs: the training set's label distribution [c_dim] for fake
      labels (None: uniform).
    extra_g_loss, extra_d_loss: optional terms added to G's / D's main loss
      (see `step.StyleGAN2Step`).

  Returns:
    The `Setup`.
  """
  G, D = create_networks(config, c_dim)
  g_tx, d_tx = optim.create_optimizers(config)
  batch_sharding = sharding.batch_sharding(mesh)
  algorithm = step_lib.StyleGAN2Step(
      G=G, D=D, g_tx=g_tx, d_tx=d_tx,
      cfg=step_lib.StepConfig.from_config(config),
      class_probs=(tuple(labels_lib.class_probs(class_probs, c_dim))
                   if c_dim else None),
      extra_g_loss=extra_g_loss, extra_d_loss=extra_d_loss,
      constrain_batch=functools.partial(jax.lax.with_sharding_constraint,
                                        shardings=batch_sharding))

  key = jax.random.key(config.train.seed)
  init_fn = functools.partial(state_lib.create_train_state, key, G, D, g_tx,
                              d_tx)
  abstract = jax.eval_shape(init_fn)
  replicated = sharding.replicated(mesh)
  shardings = jax.tree.map(lambda _: replicated, abstract)
  abstract = jax.tree.map(
      lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
      abstract, shardings)
  init = jax.jit(init_fn, out_shardings=shardings)

  steps = {}
  for name in step_lib.PHASES:
    steps[name] = jax.jit(
        getattr(algorithm, name), in_shardings=(shardings, batch_sharding),
        out_shardings=(shardings, replicated), donate_argnums=0)
  steps[END_ITERATION] = jax.jit(
      algorithm.end_iteration, in_shardings=(shardings,),
      out_shardings=shardings, donate_argnums=0)
  return Setup(config=config, mesh=mesh, G=G, D=D, g_tx=g_tx, d_tx=d_tx,
               algorithm=algorithm, abstract_state=abstract,
               state_shardings=shardings, init=init, steps=steps)
