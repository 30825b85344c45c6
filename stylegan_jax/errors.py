"""User-facing errors and how command lines report them.

A `UserError` is a mistake the user can fix (a config value, a data folder, a
model file, a command-line argument). Its message is one line,
`<what is wrong> — <how to fix it>`. Every command line of the package runs
its body through `report_user_errors`: a `UserError` (or one of the library
errors registered as user-facing) prints `error: <message>` on stderr and
exits with code 2, without a traceback and without a usage dump. With
`--debug` on the command line or `STYLEGAN_JAX_DEBUG=1` the traceback is
shown instead. Anything else is an internal error and keeps its traceback.
"""

from collections.abc import Callable
import errno
import os
import sys
from typing import NoReturn, TypeVar

DEBUG_ENV = "STYLEGAN_JAX_DEBUG"
EXIT_USER_ERROR = 2
T = TypeVar("T")


class UserError(ValueError):
  """A mistake the user can fix; the message says what and how, on one line."""


class ConfigError(UserError):
  """An experiment config value is unknown, of the wrong type or out of range."""


# Besides UserError (which the safe file readers' errors subclass), a missing
# or unreadable path the user named is a user mistake too.
_USER_FACING = (UserError, FileNotFoundError, NotADirectoryError,
                IsADirectoryError, PermissionError)


def debug_requested(argv: list[str] | None = None) -> bool:
  """True with `--debug` in argv or STYLEGAN_JAX_DEBUG set to a true value."""
  argv = sys.argv if argv is None else argv
  env = os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes")
  return env or "--debug" in argv


def one_line(message: str) -> str:
  """Collapses a message onto one line (user errors print exactly one)."""
  return " ".join(str(message).split())


def fail(message: str) -> NoReturn:
  """Prints `error: message` on stderr and exits with code 2."""
  print(f"error: {one_line(message)}", file=sys.stderr, flush=True)
  sys.exit(EXIT_USER_ERROR)


# Environment problems the user fixes (a full or read-only disk).
_DISK_ERRNOS = {errno.ENOSPC: "free some space or write elsewhere",
                errno.EDQUOT: "free some space or write elsewhere",
                errno.EROFS: "write to a writable location"}


def is_user_error(e: BaseException) -> bool:
  """Whether `e` reports a user mistake (see the module docstring)."""
  return isinstance(e, _USER_FACING) or (
      isinstance(e, OSError) and e.errno in _DISK_ERRNOS)


def message(e: BaseException) -> str:
  """The one-line text for a user error."""
  if isinstance(e, OSError) and e.errno in _DISK_ERRNOS:
    where = f" ({e.filename})" if e.filename else ""
    return f"{e.strerror}{where} — {_DISK_ERRNOS[e.errno]}"
  return str(e)


def report_user_errors(fn: Callable[[], T],
                       argv: list[str] | None = None) -> T:
  """Runs fn(); a user error becomes one stderr line and exit code 2."""
  try:
    return fn()
  except Exception as e:  # pylint: disable=broad-except
    if not is_user_error(e) or debug_requested(argv):
      raise
    fail(message(e))
