"""Training as separate OS processes: two JAX processes, and SIGTERM + resume.

Both tests start subprocesses on CPU (each compiles the tiny model of
test_loop.py from scratch unless the persistent compilation cache under
.cache/ already holds it), so they are marked slow:

  .venv/bin/python -m pytest tests/train/test_multiprocess.py -m slow -q
"""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORKER = pathlib.Path(__file__).with_name("multiprocess_worker.py")
BATCH = 8  # As test_loop.tiny_config: 4 global devices x 2.
TIMEOUT_S = 300

pytestmark = pytest.mark.slow


def _env(devices: int) -> dict[str, str]:
  env = dict(os.environ)
  env.update(
      XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
      JAX_PLATFORMS="cpu",
      TF_CPP_MIN_LOG_LEVEL="2",
      # main.py does not configure the cache; JAX reads these at import.
      JAX_COMPILATION_CACHE_DIR=str(ROOT / ".cache" / "jax_compilation"),
      JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0.5",
      JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
      PYTHONPATH=os.pathsep.join(
          p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
  return env


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _tail(path: pathlib.Path, lines: int = 40) -> str:
  if not path.exists():
    return "<no output>"
  text = path.read_text(errors="replace").splitlines()
  return "\n".join(text[-lines:])


def _kill(procs) -> None:
  for p in procs:
    if p.poll() is None:
      p.kill()
  for p in procs:
    p.wait(timeout=30)


def _wait_all(procs, logs, deadline: float) -> list[int]:
  """Exit codes of `procs`; kills all and fails if one outlives `deadline`."""
  try:
    return [p.wait(timeout=max(deadline - time.monotonic(), 0.1))
            for p in procs]
  except subprocess.TimeoutExpired:
    _kill(procs)
    pytest.fail("timed out; stderr tails:\n" + "\n".join(
        f"--- {log.name}\n{_tail(log)}" for log in logs))


def _checkpoint_steps(workdir: pathlib.Path) -> list[int]:
  directory = workdir / "checkpoints"
  if not directory.is_dir():
    return []
  return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())


# Process 1 starts training this long after joining the job: past the 30 s
# that Gloo gives a process to connect to its peers at the first collective.
LATE_S = 40


def test_two_processes_train_identically(tmp_path):
  """Also when one process is late (a slow host, a compilation cache miss):
  `sharding.wait_for_processes` holds the other before its collectives."""
  steps, port = 3, _free_port()
  workdir = tmp_path / "workdir"
  procs, logs = [], []
  start = time.monotonic()
  try:
    for i in range(2):
      logs.append(tmp_path / f"proc{i}.stderr")
      with open(logs[-1], "wb") as err:
        procs.append(subprocess.Popen(
            [sys.executable, str(WORKER), str(i), "2", str(port),
             str(workdir), str(steps), str(tmp_path / f"proc{i}.npz"),
             str(LATE_S)],
            cwd=ROOT, env=_env(devices=2), stdout=subprocess.DEVNULL,
            stderr=err))
    codes = _wait_all(procs, logs, start + TIMEOUT_S + LATE_S)
  finally:
    _kill(procs)
  assert codes == [0, 0], "\n".join(
      f"--- {log.name} (exit {c})\n{_tail(log)}" for log, c in zip(logs, codes))

  with np.load(tmp_path / "proc0.npz") as a, \
       np.load(tmp_path / "proc1.npz") as b:
    assert int(a["step"]) == int(b["step"]) == steps
    assert sorted(a.files) == sorted(b.files)
    assert len(a.files) > 10
    for k in a.files:
      np.testing.assert_array_equal(a[k], b[k], err_msg=k)
      assert np.all(np.isfinite(a[k])), k
  assert _checkpoint_steps(workdir) == [steps]
  state = workdir / "checkpoints" / str(steps) / "state"
  # Both processes wrote their part of the Orbax checkpoint.
  assert (state / "ocdbt.process_0").exists()
  assert (state / "ocdbt.process_1").exists()


_CONFIG_FILE = '''"""test_loop.tiny_config, long enough not to end by itself."""
from tests.train.test_loop import tiny_config


def get_config():
  c = tiny_config(steps=100_000)  # 800 kimg.
  c.train.checkpoint_kimg = 1e6   # No periodic checkpoint.
  c.train.snapshot_kimg = 1e6
  return c
'''


def _run_main(tmp_path, workdir, name, *flags):
  log = tmp_path / f"{name}.stderr"
  with open(log, "wb") as err:
    proc = subprocess.Popen(
        [sys.executable, "-m", "stylegan_jax.main",
         f"--config={tmp_path / 'long_config.py'}", f"--workdir={workdir}",
         *flags],
        cwd=ROOT, env=_env(devices=2), stdout=subprocess.DEVNULL, stderr=err)
  return proc, log


def test_sigterm_saves_and_resumes(tmp_path):
  (tmp_path / "long_config.py").write_text(_CONFIG_FILE)
  workdir = tmp_path / "workdir"

  # 1. Start training, wait for the first metrics line (logged every 2
  # steps, so the loop and its signal handler are running), then SIGTERM.
  proc, log = _run_main(tmp_path, workdir, "first")
  try:
    deadline = time.monotonic() + TIMEOUT_S
    while "progress/kimg" not in log.read_text(errors="replace"):
      if proc.poll() is not None:
        pytest.fail(f"exited {proc.returncode} before training:\n"
                    + _tail(log))
      if time.monotonic() > deadline:
        pytest.fail("no metrics line in time:\n" + _tail(log))
      time.sleep(0.5)
    assert _checkpoint_steps(workdir) == []  # None before the signal.
    proc.send_signal(signal.SIGTERM)
    (code,) = _wait_all([proc], [log], time.monotonic() + 120)
  finally:
    _kill([proc])
  text = log.read_text(errors="replace")
  assert code == 0, _tail(log)
  assert "received SIGTERM" in text, _tail(log)
  saved = _checkpoint_steps(workdir)
  assert len(saved) == 1 and saved[0] > 0, saved
  step = saved[0]
  assert f"saving checkpoint {step} (SIGTERM)" in text, _tail(log)

  # 2. The same command, with a total two steps further, resumes.
  total_kimg = (step + 2) * BATCH / 1000
  proc, log = _run_main(tmp_path, workdir, "second",
                        f"--config.train.total_kimg={total_kimg!r}")
  try:
    (code,) = _wait_all([proc], [log], time.monotonic() + TIMEOUT_S)
  finally:
    _kill([proc])
  text = log.read_text(errors="replace")
  assert code == 0, _tail(log)
  assert f"resumed from checkpoint {step}" in text, _tail(log)
  assert _checkpoint_steps(workdir) == [step, step + 2]
  assert f"saving checkpoint {step + 2} (end of training)" in text, (
      _tail(log))


def test_sigterm_at_start_up_exits_cleanly(tmp_path):
  (tmp_path / "long_config.py").write_text(_CONFIG_FILE)
  proc, log = _run_main(tmp_path, tmp_path / "workdir", "early")
  try:
    time.sleep(0.5)  # Python is up, JAX not yet imported.
    proc.send_signal(signal.SIGTERM)
    (code,) = _wait_all([proc], [log], time.monotonic() + 120)
  finally:
    _kill([proc])
  assert code == 0, _tail(log)


def _start_workers(tmp_path, workdir, steps, port, tag):
  procs, logs = [], []
  for i in range(2):
    logs.append(tmp_path / f"{tag}{i}.stderr")
    with open(logs[-1], "wb") as err:
      procs.append(subprocess.Popen(
          [sys.executable, str(WORKER), str(i), "2", str(port),
           str(workdir), str(steps), str(tmp_path / f"{tag}{i}.npz")],
          cwd=ROOT, env=_env(devices=2), stdout=subprocess.DEVNULL,
          stderr=err))
  return procs, logs


def test_sigterm_to_one_process_stops_both_at_one_step(tmp_path):
  workdir = tmp_path / "workdir"
  procs, logs = _start_workers(tmp_path, workdir, 100_000, _free_port(),
                               "run")
  try:
    deadline = time.monotonic() + TIMEOUT_S
    while not all("progress/kimg" in log.read_text(errors="replace")
                  for log in logs if log.exists()):
      if any(p.poll() is not None for p in procs):
        pytest.fail("a process ended early:\n" + "\n".join(
            _tail(log) for log in logs))
      if time.monotonic() > deadline:
        pytest.fail("no metrics in time:\n" + _tail(logs[0]))
      time.sleep(0.5)
    procs[0].send_signal(signal.SIGTERM)  # Rank 0 only.
    codes = _wait_all(procs, logs, time.monotonic() + 180)
  finally:
    _kill(procs)
  assert codes == [0, 0], "\n".join(_tail(log) for log in logs)
  saved = _checkpoint_steps(workdir)
  assert len(saved) == 1 and saved[0] > 0, saved
  assert "a stop signal on another process" in logs[1].read_text(
      errors="replace")
  # Both resume to two steps further and agree.
  step = saved[0]
  procs, logs = _start_workers(tmp_path, workdir, step + 2, _free_port(),
                               "resume")
  try:
    codes = _wait_all(procs, logs, time.monotonic() + TIMEOUT_S)
  finally:
    _kill(procs)
  assert codes == [0, 0], "\n".join(_tail(log) for log in logs)
  with np.load(tmp_path / "resume0.npz") as a, \
       np.load(tmp_path / "resume1.npz") as b:
    assert int(a["step"]) == int(b["step"]) == step + 2
    for k in a.files:
      np.testing.assert_array_equal(a[k], b[k], err_msg=k)
