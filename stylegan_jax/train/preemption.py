"""Stop requests: SIGTERM/SIGINT recorded, then agreed across processes.

The signal handler only records the request; the training loop looks at it
at safe points (after start-up steps, around compilation, at every step
boundary, after snapshots and saves), saves a checkpoint of the latest state
and exits 0. In a multi-process job every process checks at each step
boundary whether *any* process was signalled (`agreed`), so they stop at the
same step and save one checkpoint together.

`python -m stylegan_jax.main` installs the handler before anything heavy is
imported, so a signal in the first moments of start-up is not lost either. A
second SIGINT while a stop is pending interrupts at once (KeyboardInterrupt).
"""

import signal
import threading
from typing import Any

from absl import logging

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _State:
  received: str | None = None
  previous: dict[int, Any] | None = None
  depth = 0


def _handle(signum, frame) -> None:
  del frame
  name = signal.Signals(signum).name
  if _State.received is not None and signum == signal.SIGINT:
    raise KeyboardInterrupt
  _State.received = name
  logging.warning("received %s: saving a checkpoint of the latest state, "
                  "then exiting", name)


def install() -> None:
  """Starts recording SIGTERM/SIGINT (main thread only; nested calls count)."""
  if threading.current_thread() is not threading.main_thread():
    return
  if _State.depth == 0:
    _State.previous = {s: signal.signal(s, _handle) for s in SIGNALS}
  _State.depth += 1


def uninstall() -> None:
  """Undoes one `install`; the last one restores the previous handlers."""
  if threading.current_thread() is not threading.main_thread():
    return
  _State.depth = max(0, _State.depth - 1)
  if _State.depth == 0 and _State.previous:
    for s, handler in _State.previous.items():
      signal.signal(s, handler)
    _State.previous = None
    _State.received = None


def received() -> str | None:
  """The signal this process received ('SIGTERM', ...), or None."""
  return _State.received


def agreed() -> str | None:
  """Whether any process received a stop signal (a collective when >1).

  Every process must call it at the same points.
  """
  import jax  # pylint: disable=g-import-not-at-top
  if jax.process_count() == 1:
    return _State.received
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  flags = multihost_utils.process_allgather(
      np.int32(_State.received is not None))
  # Decide from the gathered flags only: a signal that lands here, during
  # the gather, is seen by the others at the next boundary, so this process
  # must not stop at this one alone (it would wait for them in the save
  # while they wait for it in the next step).
  if not np.any(flags):
    return None
  if _State.received is None:
    _State.received = "a stop signal on another process"
  return _State.received
