"""Orbax checkpoints of the whole training state, plus the config as JSON.

Checkpoints live in `<workdir>/checkpoints/<step>/` with two items: `state`
(the TrainState pytree) and `config` (JSON: the experiment config, `c_dim`
and `class_names`, enough to rebuild the networks without the data). Restoring goes into an abstract
state that carries the target shardings. If the newest checkpoint cannot be
read (corrupt or partial), the previous one is used, with a warning, and the
unreadable one is moved to `<workdir>/checkpoints_unreadable/` (kept for
inspection, out of the way of the step numbers training will write again).
"""

import pathlib
import shutil
import time
from typing import Any

from absl import logging
import orbax.checkpoint as ocp


def create_manager(workdir: str | pathlib.Path,
                   max_to_keep: int = 3) -> ocp.CheckpointManager:
  """Checkpoint manager for `<workdir>/checkpoints`, keeping the last few."""
  directory = pathlib.Path(workdir).resolve() / "checkpoints"
  options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
  return ocp.CheckpointManager(directory, options=options,
                               item_names=("state", "config"))


def save(manager: ocp.CheckpointManager, step: int, state: Any,
         config: dict[str, Any], wait: bool = True) -> None:
  """Saves `state` and the JSON-able `config` as checkpoint `step`."""
  manager.save(step, args=ocp.args.Composite(
      state=ocp.args.StandardSave(state), config=ocp.args.JsonSave(config)),
               force=True)
  if wait:
    manager.wait_until_finished()


def restore_latest(manager: ocp.CheckpointManager,
                   abstract_state: Any) -> tuple[Any, int] | None:
  """Restores the newest readable checkpoint into `abstract_state`.

  Args:
    manager: from `create_manager`.
    abstract_state: pytree of `jax.ShapeDtypeStruct`s with shardings.

  Returns:
    (state, step), or None when there is no checkpoint.

  Raises:
    RuntimeError: checkpoints exist but none can be read.
  """
  steps = sorted(manager.all_steps(), reverse=True)
  errors = []
  for step in steps:
    try:
      restored = manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(abstract_state)))
    except Exception as e:  # pylint: disable=broad-except
      errors.append(f"{step}: {type(e).__name__}: {e}")
      aside = _move_aside(manager, step)
      logging.warning("checkpoint %d is unreadable (%s: %s); moved it to %s "
                      "and trying the previous one", step, type(e).__name__,
                      e, aside)
      continue
    return restored.state, step
  if errors:
    raise RuntimeError(f"no readable checkpoint in {manager.directory}: "
                       + "; ".join(errors))
  return None


def _move_aside(manager: ocp.CheckpointManager, step: int) -> pathlib.Path:
  """Moves checkpoint `step` out of the manager's directory."""
  directory = pathlib.Path(manager.directory)
  aside = directory.parent / "checkpoints_unreadable" / (
      f"{step}-{time.strftime('%Y%m%d-%H%M%S')}")
  aside.parent.mkdir(parents=True, exist_ok=True)
  shutil.move(str(directory / str(step)), aside)
  manager.reload()
  return aside


def restore_step(manager: ocp.CheckpointManager, step: int,
                 abstract_state: Any) -> Any:
  """Restores the state of checkpoint `step` (no fallback)."""
  return manager.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract_state))).state


def read_config(manager: ocp.CheckpointManager, step: int) -> dict[str, Any]:
  """The JSON item of checkpoint `step`."""
  restored = manager.restore(step, args=ocp.args.Composite(
      config=ocp.args.JsonRestore()))
  return restored.config
