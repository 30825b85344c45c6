"""Config and command-line mistakes: one line on stderr, exit 2, fast.

Each case runs the command as a user types it (a subprocess) and checks the
exit code, that stderr is exactly one `error: ...` line naming the problem,
and that it took under 5 s (the config is checked before JAX or the data are
touched).
"""

import os
import pathlib
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "experiments" / "demo.py")


def _run(args, cwd) -> tuple[int, list[str], float]:
  env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
  env.pop("STYLEGAN_JAX_DEBUG", None)
  start = time.monotonic()
  proc = subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=120,
                        check=False)
  seconds = time.monotonic() - start
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  return proc.returncode, lines, seconds


@pytest.mark.parametrize("flags, expect", [
    (["--config.train.batch_sise=8"],
     "unknown config key 'train.batch_sise' — did you mean "
     "'train.batch_size'?"),
    (["--config.data.resolutoin=64"],
     "unknown config key 'data.resolutoin' — did you mean "
     "'data.resolution'?"),
    (["--config.train.batch_size=10", "--config.model.mbstd_group_size=4"],
     "train.batch_size=10 is not divisible by the minibatch-stddev group"),
    (["--config.data.resolution=100"], "data.resolution=100 is invalid"),
    (["--config.train.total_kimg=-1"], "train.total_kimg=-1.0 is invalid"),
    (["--config.train.batch_size=abc"], "abc"),
    (["--config.nosuchsection.x=1"], "unknown config key"),
])
def test_config_mistakes_are_one_line(tmp_path, flags, expect):
  code, lines, seconds = _run(
      ["stylegan_jax.main", "--config", DEMO, "--workdir",
       str(tmp_path / "w"), *flags], tmp_path)
  assert code == 2, lines
  assert len(lines) == 1 and lines[0].startswith("error: "), lines
  assert expect in lines[0]
  assert seconds < 5, seconds
  assert not (tmp_path / "w").exists()  # Nothing was started.


def test_missing_data_folder_is_one_line(tmp_path):
  code, lines, _ = _run(
      ["stylegan_jax.main", "--config",
       f"{ROOT / 'experiments' / 'paper256.py'}:data={tmp_path / 'nope'}",
       "--workdir", str(tmp_path / "w")], tmp_path)
  assert code == 2 and len(lines) == 1, lines
  assert "does not exist — point it at your image folder" in lines[0]


def test_debug_shows_the_traceback(tmp_path):
  code, lines, _ = _run(
      ["stylegan_jax.main", "--config", DEMO, "--debug",
       "--config.data.resolution=100", "--workdir", str(tmp_path / "w")],
      tmp_path)
  assert code != 0 and any("Traceback" in l for l in lines)
