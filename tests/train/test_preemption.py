"""preemption.agreed(): every process stops at the same step boundary.

The multi-process tests (tests/train/test_multiprocess.py, slow) signal a
real two-process job; here the gather between processes is replaced by a
fake, so that a signal can land at the one moment that matters: during the
gather itself.
"""

import signal

import jax
from jax.experimental import multihost_utils
import numpy as np
import pytest

from stylegan_jax.train import preemption


@pytest.fixture
def two_processes(monkeypatch):
  """Pretends to be process 0 of 2. Yields the plan of the next gathers: a
  test appends (the other process's flag, a hook run during the gather)."""
  plan = []

  def fake_allgather(local):
    other, during = plan.pop(0)
    if during:
      during()
    return np.array([int(local), other], np.int32)

  monkeypatch.setattr(jax, "process_count", lambda: 2)
  monkeypatch.setattr(multihost_utils, "process_allgather", fake_allgather)
  # Restored afterwards whatever happens, so no signal leaks into other tests.
  monkeypatch.setattr(preemption._State, "received", None)  # pylint: disable=protected-access
  preemption.install()
  yield plan
  preemption.uninstall()


def _signal_arrives():
  preemption._handle(signal.SIGTERM, None)  # pylint: disable=protected-access


def test_no_signal_anywhere_does_not_stop(two_processes):
  two_processes.append((0, None))
  assert preemption.agreed() is None


def test_signal_on_another_process_stops_this_one(two_processes):
  two_processes.append((1, None))
  assert preemption.agreed() == "a stop signal on another process"
  assert preemption.received() == "a stop signal on another process"


def test_signal_during_the_gather_stops_at_the_next_boundary(two_processes):
  # This process sent 0 and the other process saw 0: neither may stop here,
  # or this one would wait in its save while the other runs the next step.
  two_processes.append((0, _signal_arrives))
  assert preemption.agreed() is None
  assert preemption.received() == "SIGTERM"  # Not lost: sent next time.
  two_processes.append((0, None))
  assert preemption.agreed() == "SIGTERM"
