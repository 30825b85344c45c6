"""A stop signal at any moment of a run ends it with exit 0, nothing lost.

Each case runs the tiny training config in this process with SIGTERM sent
to itself at one moment (by wrapping the function that runs then), expects
SystemExit(0), then runs the same command again and requires the final
state to equal, bit for bit, that of an uninterrupted run. Checkpoints and
snapshots fall every 3 steps of 6, so there are periodic saves and grids to
be interrupted.
"""

import functools
import os
import signal

import pytest

from stylegan_jax import checkpoint
from stylegan_jax.data import pipeline
from stylegan_jax.train import loop
from stylegan_jax.train import setup as setup_lib
from tests.faults.common import BATCH
from tests.faults.common import STEPS
from tests.faults.common import assert_same_state
from tests.faults.common import checkpoint_steps
from tests.faults.common import fault_config


def sigterm():
  os.kill(os.getpid(), signal.SIGTERM)


def _signal_after(fn, call=1):
  """Wraps fn: SIGTERM right after its `call`-th call returns."""
  count = [0]

  @functools.wraps(fn)
  def wrapped(*args, **kwargs):
    out = fn(*args, **kwargs)
    count[0] += 1
    if count[0] == call:
      sigterm()
    return out

  return wrapped


def _signal_before(fn, call=1):
  """Wraps fn: SIGTERM right before its `call`-th call starts."""
  count = [0]

  @functools.wraps(fn)
  def wrapped(*args, **kwargs):
    count[0] += 1
    if count[0] == call:
      sigterm()
    return fn(*args, **kwargs)

  return wrapped


def _grid_that_signals(original):
  def make(*args, **kwargs):
    return _signal_before(original(*args, **kwargs), call=2)
  return make


# (name, target object, attribute, wrapper). The moments, in run order.
MOMENTS = {
    "opening_data": (pipeline, "create_input_iterator", _signal_after),
    "restoring": (checkpoint, "restore_latest", _signal_before),
    "compiling": (setup_lib.Setup, "compiled", _signal_before),
    "stepping": (setup_lib.Setup, "run_iteration",
                 functools.partial(_signal_before, call=2)),
    "snapshotting": (loop, "_sample_grid_fn", _grid_that_signals),
    "saving_on_a_checkpoint_step": (checkpoint, "save", _signal_before),
    "after_a_periodic_save": (checkpoint, "save", _signal_after),
    "final_save": (checkpoint, "save",
                   functools.partial(_signal_before, call=2)),
}
FAST = ("saving_on_a_checkpoint_step",)  # The original crash; others slow.


@pytest.mark.parametrize("moment", [
    pytest.param(m, marks=() if m in FAST else pytest.mark.slow)
    for m in MOMENTS])
def test_signal_then_resume_reaches_the_same_state(reference, tmp_path,
                                                   monkeypatch, moment):
  owner, name, wrap = MOMENTS[moment]
  if moment == "restoring":  # Something to restore: half the run first.
    half = fault_config()
    half.train.total_kimg = 3 * BATCH / 1000
    loop.train_and_evaluate(half, str(tmp_path))
  with monkeypatch.context() as patch:
    patch.setattr(owner, name, wrap(getattr(owner, name)))
    with pytest.raises(SystemExit) as info:
      loop.train_and_evaluate(fault_config(), str(tmp_path))
  assert info.value.code == 0
  saved = checkpoint_steps(tmp_path)
  if moment == "opening_data":
    assert saved == []  # Nothing was built yet: nothing to save or lose.
  else:
    assert saved, "a stop after the state exists must leave a checkpoint"
  resumed = loop.train_and_evaluate(fault_config(), str(tmp_path))
  assert int(resumed.step) == STEPS
  assert_same_state(reference[0], resumed)
