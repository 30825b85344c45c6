"""What guards a training workdir: one run at a time, and matching resumes.

* `lock(workdir)`: an exclusive `flock` on `<workdir>/.lock` held for the
  run (process 0 of a job takes it); a second run on the same workdir fails
  at once with one line naming the process that holds it.
* `check_resume`: before anything is restored, the config stored with the
  newest checkpoint is compared with the new one on the settings that shape
  the state (the networks, the resolution, the conditioning); a difference is
  a one-line error listing the keys with their stored and new values and
  saying how to proceed.
* `supersede`: `train.resume='fresh'` moves existing checkpoints to
  `<workdir>/checkpoints_superseded/<time>/` (nothing is deleted) and starts
  over.
"""

import contextlib
import errno
import fcntl
import os
import pathlib
import shutil
import time
from collections.abc import Iterator, Mapping
from typing import Any

from stylegan_jax.errors import ConfigError
from stylegan_jax.errors import UserError

LOCK_FILE = ".lock"
SUPERSEDED = "checkpoints_superseded"
# Settings that may change on resume without changing the state's shapes.
_FREE_MODEL_KEYS = ("model.fused_modconv",)


@contextlib.contextmanager
def lock(workdir: pathlib.Path) -> Iterator[None]:
  """Holds `<workdir>/.lock` exclusively for the duration (see module doc)."""
  path = pathlib.Path(workdir) / LOCK_FILE
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      if e.errno not in (errno.EAGAIN, errno.EACCES):
        raise
      holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
      holder = holder or "pid unknown"
      raise UserError(
          f"{workdir} is in use by another training run ({holder}) — wait "
          "for it to finish, stop it, or use another --workdir") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}".encode(), 0)
    yield
  finally:
    os.close(fd)  # Releases the lock.


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
  out = {}
  for k, v in d.items():
    if isinstance(v, Mapping):
      out.update(_flat(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
  return out


def shaping_settings(config: Mapping[str, Any], c_dim: int,
                     class_names) -> dict[str, Any]:
  """The settings that shape the training state, flat."""
  flat = _flat(config)
  out = {k: v for k, v in flat.items()
         if k.startswith("model.") and k not in _FREE_MODEL_KEYS}
  out["data.resolution"] = flat.get("data.resolution")
  out["data.channels"] = flat.get("data.channels", 3)  # RGB before the key.
  out["c_dim"] = c_dim
  out["class_names"] = list(class_names)
  return out


def check_resume(stored: Mapping[str, Any], step: int, config,
                 c_dim: int, class_names) -> None:
  """Raises ConfigError when the new run cannot continue checkpoint `step`.

  Args:
    stored: the checkpoint's JSON item ({'config', 'c_dim', 'class_names'}).
    step: its step, for the message.
    config: the new ConfigDict.
    c_dim, class_names: the new run's conditioning.
  """
  old = shaping_settings(stored["config"], stored.get("c_dim", 0),
                         stored.get("class_names", ()))
  new = shaping_settings(config.to_dict(), c_dim, class_names)
  # A model key the stored config lacks was added to the schema after that
  # checkpoint (its networks did not have the setting): not a change.
  diff = [k for k in sorted(set(old) | set(new))
          if old.get(k) != new.get(k)
          and not (k.startswith("model.") and k not in old)]
  if diff:
    listed = "; ".join(f"{k}: stored {old.get(k)!r}, now {new.get(k)!r}"
                       for k in diff[:6])
    more = f" (and {len(diff) - 6} more)" if len(diff) > 6 else ""
    raise ConfigError(
        f"cannot resume checkpoint {step}: the config changes what was "
        f"trained ({listed}{more}) — rerun with the stored values, or start "
        "over with --config.train.resume=fresh (old checkpoints are kept in "
        f"{SUPERSEDED}/) or in a new --workdir")


def supersede(workdir: pathlib.Path) -> pathlib.Path:
  """Moves `<workdir>/checkpoints` aside (resume='fresh'); returns where."""
  workdir = pathlib.Path(workdir)
  dest = workdir / SUPERSEDED / time.strftime("%Y%m%d-%H%M%S")
  dest.parent.mkdir(parents=True, exist_ok=True)
  shutil.move(str(workdir / "checkpoints"), dest)
  return dest

