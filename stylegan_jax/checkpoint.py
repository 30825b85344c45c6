"""Orbax checkpoints of the whole training state, verified and never lost.

Checkpoints live in `<workdir>/checkpoints/<step>/` with three items:
`state` (the TrainState pytree), `config` (JSON: the experiment config,
`c_dim` and `class_names`, enough to rebuild the networks without the data)
and `checksums` (JSON: a CRC32 of every state array, taken from the arrays
that were saved).

* Saving is idempotent per step (a second save of a step that exists is a
  no-op) and asynchronous: orbax copies the arrays off the devices, then
  writes in the background while training goes on; `wait` blocks until the
  writes are committed. Orbax writes into a temporary folder and renames it
  when complete, so a process killed mid-save leaves the previous checkpoint
  intact; the partial folder is ignored and removed on the next start.
* Restoring goes into an abstract state that carries the target shardings,
  and verifies the checksums. A checkpoint that cannot be read (I/O or
  format errors, a checksum mismatch) is moved to
  `<workdir>/checkpoints_unreadable/<step>-<time>/` (kept for inspection, out
  of the way of the step numbers training will write again), the log says
  where, and the previous one is tried.
* `restore_variables` reads only some fields of the state (the tools load
  G_ema without the optimiser state).
"""

import os
import pathlib
import shutil
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from absl import logging
import jax
import numpy as np
import orbax.checkpoint as ocp

from stylegan_jax import tree_util

CHECKPOINTS = "checkpoints"
UNREADABLE = "checkpoints_unreadable"
ITEMS = ("state", "config", "checksums")


class CorruptCheckpointError(RuntimeError):
  """A checkpoint's arrays do not match the checksums saved with it."""


def create_manager(workdir: str | os.PathLike, max_to_keep: int = 3, *,
                   read_only: bool = False) -> ocp.CheckpointManager:
  """Checkpoint manager for `<workdir>/checkpoints`, keeping the last few."""
  directory = pathlib.Path(workdir).resolve() / CHECKPOINTS
  options = ocp.CheckpointManagerOptions(
      max_to_keep=max_to_keep, create=not read_only,
      cleanup_tmp_directories=not read_only,
      enable_async_checkpointing=not read_only, read_only=read_only)
  return ocp.CheckpointManager(directory, options=options, item_names=ITEMS)


def checksums(tree: Any) -> dict[str, int]:
  """CRC32 of every leaf's bytes, by leaf name (host copies are made)."""
  host = jax.device_get(tree)
  return {name: zlib.crc32(np.ascontiguousarray(leaf).tobytes())
          for name, leaf in tree_util.flatten(host).items()}


def save(manager: ocp.CheckpointManager, step: int, state: Any,
         config: dict[str, Any], *, wait: bool = False) -> bool:
  """Saves `state` and the JSON-able `config` as checkpoint `step`.

  Returns:
    False (and does nothing) when checkpoint `step` exists already.
  """
  if step in manager.all_steps():
    return False
  sums = checksums(state)
  manager.save(step, args=ocp.args.Composite(
      state=ocp.args.StandardSave(state), config=ocp.args.JsonSave(config),
      checksums=ocp.args.JsonSave(sums)), force=True)
  if wait:
    manager.wait_until_finished()
  return True


def verify(restored: Any, expected: dict[str, int] | None) -> None:
  """Raises CorruptCheckpointError if any array's CRC32 differs."""
  if expected is None:  # Written before checksums existed.
    return
  got = checksums(restored)
  bad = sorted(k for k in set(got) | set(expected)
               if got.get(k) != expected.get(k))
  if bad:
    raise CorruptCheckpointError(
        f"{len(bad)} array(s) do not match their checksums (e.g. "
        f"{', '.join(bad[:3])})")


def _read_checksums(manager, step) -> dict[str, int] | None:
  path = pathlib.Path(manager.directory) / str(step) / "checksums"
  if not path.exists():
    return None
  return manager.restore(step, args=ocp.args.Composite(
      checksums=ocp.args.JsonRestore())).checksums


def restore_latest(
    manager: ocp.CheckpointManager, abstract_state: Any,
    check_config: Callable[[dict[str, Any], int], None] | None = None,
) -> tuple[Any, int] | None:
  """Restores the newest readable, verified checkpoint into `abstract_state`.

  Args:
    manager: from `create_manager`.
    abstract_state: pytree of `jax.ShapeDtypeStruct`s with shardings.
    check_config: called with (the checkpoint's JSON config, its step)
      before its state is read; what it raises propagates (a config that
      does not fit is the user's to fix, not a damaged checkpoint).

  Returns:
    (state, step), or None when there is no checkpoint.

  Raises:
    RuntimeError: checkpoints exist but none can be read.
  """
  errors = []
  for step in sorted(manager.all_steps(), reverse=True):
    try:
      meta = read_config(manager, step)
    except Exception as e:  # pylint: disable=broad-except
      errors.append(_set_aside(manager, step, e))
      continue
    if check_config is not None:
      check_config(meta, step)
    try:
      state = restore_step(manager, step, abstract_state)
      verify(state, _read_checksums(manager, step))
    except Exception as e:  # pylint: disable=broad-except
      errors.append(_set_aside(manager, step, e))
      continue
    return state, step
  if errors:
    raise RuntimeError(f"no readable checkpoint in {manager.directory}: "
                       + "; ".join(e[:300] for e in errors))
  return None


def _set_aside(manager, step: int, e: Exception) -> str:
  """Moves an unreadable checkpoint aside, logs where; returns the reason."""
  aside = move_aside(manager, step)
  logging.warning("checkpoint %d is unreadable (%s: %s); moved it to %s and "
                  "trying the previous one", step, type(e).__name__,
                  str(e)[:500], aside)
  return f"{step}: {type(e).__name__}: {e}"


def move_aside(manager: ocp.CheckpointManager, step: int,
               folder: str = UNREADABLE) -> pathlib.Path:
  """Moves checkpoint `step` out of the manager's directory (process 0)."""
  directory = pathlib.Path(manager.directory)
  aside = directory.parent / folder / (
      f"{step}-{time.strftime('%Y%m%d-%H%M%S')}")
  if jax.process_index() == 0:
    aside.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(directory / str(step)), aside)
  manager.reload()
  return aside


def restore_step(manager: ocp.CheckpointManager, step: int,
                 abstract_state: Any) -> Any:
  """Restores the state of checkpoint `step` (no fallback, no checksum)."""
  return manager.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract_state))).state


def restore_variables(manager: ocp.CheckpointManager, step: int,
                      abstract: dict[str, Any]) -> dict[str, Any]:
  """Restores only some fields of a checkpoint's state.

  Args:
    manager: from `create_manager`.
    step: the checkpoint.
    abstract: {field name: abstract subtree}, e.g. {'ema_params': ...}.

  Returns:
    {field name: restored subtree}, verified against the checksums.
  """
  restored = manager.restore(step, args=ocp.args.Composite(
      state=ocp.args.PyTreeRestore(
          item=abstract,
          restore_args=ocp.checkpoint_utils.construct_restore_args(abstract),
          partial_restore=True))).state
  expected = _read_checksums(manager, step)
  if expected is not None:
    expected = {k: v for k, v in expected.items()
                if k.split("/", 1)[0] in abstract}
  verify(restored, expected)
  return restored


def read_config(manager: ocp.CheckpointManager, step: int) -> dict[str, Any]:
  """The JSON `config` item of checkpoint `step`."""
  restored = manager.restore(step, args=ocp.args.Composite(
      config=ocp.args.JsonRestore()))
  return restored.config


def steps(manager: ocp.CheckpointManager) -> Sequence[int]:
  """The committed checkpoint steps, ascending."""
  return sorted(manager.all_steps())
