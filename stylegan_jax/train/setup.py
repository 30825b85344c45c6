"""The one set-up path: config -> networks, optimisers, state, compiled steps.

`build(config, c_dim, mesh)` assembles everything a training run needs, in
order: the algorithm named by `config.model.arch` (`ALGORITHMS`; it creates
its networks with `nets.create_networks` and its optimisers with
`optim.create_optimizers`), the abstract state with its shardings, a jitted
init and the jitted phase steps (batch sharded over the mesh's `data` axis,
state replicated and donated). `main --dry_run`, the training loop and the
throughput benchmark all call it; loading a model for the tools does not
(it needs only the networks and the checkpoint).
"""

from collections.abc import Callable, Hashable, Sequence
import dataclasses
import functools
import time
from typing import Any

import jax
import ml_collections
import numpy as np

from stylegan_jax import configs
from stylegan_jax import labels as labels_lib
from stylegan_jax import sharding
from stylegan_jax.train import algorithm as algorithm_lib
from stylegan_jax.train import classic_step
from stylegan_jax.train import pix2pix
from stylegan_jax.train import progressive
from stylegan_jax.train import state as state_lib
from stylegan_jax.train import step as step_lib

END_ITERATION = "end_iteration"
# config.model.arch -> the algorithm class (with a `create` classmethod).
ALGORITHMS: dict[str, type[algorithm_lib.Algorithm]] = {
    "stylegan2": step_lib.StyleGAN2Step,
    **{arch: classic_step.ClassicGAN for arch in configs.CLASSIC_ARCHS},
    "pix2pix": pix2pix.Pix2Pix,
    "stylegan2_progressive": progressive.ProgressiveStyleGAN,
}
assert set(ALGORITHMS) == set(configs.ARCHS), "configs.ARCHS is out of date"


@dataclasses.dataclass(frozen=True, eq=False)
class Setup:
  """Everything built from a config for one training run.

  Attributes:
    config: the experiment config.
    mesh: the device mesh.
    algorithm: the networks, optimisers, phases and iteration bookkeeping
      (an `algorithm.Algorithm`).
    abstract_state: the state as ShapeDtypeStructs carrying its shardings
      (what checkpoints restore into).
    state_shardings: the state's shardings (replicated).
    init: () -> a fresh state, jitted onto the mesh.
    steps: name -> jitted `(state, batch) -> (state, metrics)` per phase,
      plus `end_iteration`: `state -> state`. The state is donated.
    stage: the training stage these steps are for (`stage_at`); None for
      algorithms with one stage.
    compile_seconds: per step, after `compiled()`.
  """

  config: ml_collections.ConfigDict
  mesh: jax.sharding.Mesh
  algorithm: algorithm_lib.Algorithm
  abstract_state: state_lib.TrainState
  state_shardings: Any
  init: Callable[[], state_lib.TrainState]
  steps: dict[str, Callable[..., Any]]
  stage: Hashable | None = None
  compile_seconds: dict[str, float] = dataclasses.field(default_factory=dict)

  @property
  def G(self):  # pylint: disable=invalid-name
    return self.algorithm.G

  @property
  def D(self):  # pylint: disable=invalid-name
    return self.algorithm.D

  def global_batch(self, raw: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    """A pipeline batch of this process -> global arrays sharded on `data`.

    The algorithm says what its phases take (`Algorithm.host_batch`), e.g.
    int labels become one-hot `c` [N, c_dim].
    """
    return sharding.global_batch(self.algorithm.host_batch(raw), self.mesh)

  def abstract_batch(self) -> dict[str, jax.ShapeDtypeStruct]:
    """The global batch's shapes, dtypes and shardings."""
    s = sharding.batch_sharding(self.mesh)
    return {k: jax.ShapeDtypeStruct(shape, dtype, sharding=s)
            for k, (shape, dtype) in self.algorithm.batch_spec().items()}

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


def stage_at(config: ml_collections.ConfigDict, nimg: int) -> Hashable | None:
  """The training stage at `nimg` images (None: the algorithm has one).

  A stage is what changes the compiled steps during a run (progressive
  growing's resolution, fade and batch size); the loop rebuilds the set-up
  when it changes. It is a function of the image count alone, so a resumed
  run is in the same stage.
  """
  return ALGORITHMS[config.model.arch].stage_at(config, nimg)


def build(config: ml_collections.ConfigDict, c_dim: int,
          mesh: jax.sharding.Mesh, *,
          class_probs: Sequence[float] | None = None,
          stage: Hashable | None = None,
          **hooks: Any) -> Setup:
  """Builds the algorithm, state and jitted steps for a config.

  Args:
    config: a validated experiment config.
    c_dim: label size (0 for unconditional), defined by the data.
    mesh: from `sharding.create_mesh`.
    class_probs: the training set's label distribution [c_dim] for fake
      labels (None: uniform).
    stage: the stage to build for (`stage_at`); None for one-stage
      algorithms.
    **hooks: algorithm-specific extras, e.g. StyleGAN2's `extra_g_loss` /
      `extra_d_loss` (see `step.StyleGAN2Step`).

  Returns:
    The `Setup`.
  """
  batch_sharding = sharding.batch_sharding(mesh)
  algorithm = ALGORITHMS[config.model.arch].create(
      config, c_dim,
      class_probs=(tuple(labels_lib.class_probs(class_probs, c_dim))
                   if c_dim else None),
      constrain_batch=functools.partial(jax.lax.with_sharding_constraint,
                                        shardings=batch_sharding),
      **({} if stage is None else {"stage": stage}),
      **{k: v for k, v in hooks.items() if v is not None})

  init_fn = functools.partial(algorithm.init_state,
                              jax.random.key(config.train.seed))
  abstract = jax.eval_shape(init_fn)
  replicated = sharding.replicated(mesh)
  shardings = jax.tree.map(lambda _: replicated, abstract)
  abstract = jax.tree.map(
      lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
      abstract, shardings)
  init = jax.jit(init_fn, out_shardings=shardings)

  steps = {}
  for name in algorithm.phase_names:
    steps[name] = jax.jit(
        getattr(algorithm, name), in_shardings=(shardings, batch_sharding),
        out_shardings=(shardings, replicated), donate_argnums=0)
  steps[END_ITERATION] = jax.jit(
      algorithm.end_iteration, in_shardings=(shardings,),
      out_shardings=shardings, donate_argnums=0)
  return Setup(config=config, mesh=mesh, algorithm=algorithm,
               abstract_state=abstract, state_shardings=shardings, init=init,
               steps=steps, stage=stage)
