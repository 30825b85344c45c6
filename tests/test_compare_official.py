"""benchmarks/compare_official.py: our side of the comparison, end to end.

The official side needs a work tree of NVlabs/stylegan2-ada-pytorch and a
Python with torch, which tests do not have; `--skip_official` times ours on
the harness preset exactly as the comparison does (the preset table is read
from `../shared/bench/bench_official.py`).
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from tests import reference

ROOT = pathlib.Path(__file__).resolve().parents[1]
HARNESS = ROOT.parent / "shared" / "bench" / "bench_official.py"


@pytest.mark.slow  # Compiles the tiny32 programs (a minute on 2 cores).
def test_our_side_runs_on_the_harness_preset(tmp_path):
  reference.require(HARNESS)
  out = tmp_path / "compare.json"
  env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.run(
      [sys.executable, str(ROOT / "benchmarks" / "compare_official.py"),
       "--skip_official", "--cfg=tiny32", "--device=cpu", "--iters=16",
       f"--harness={HARNESS}", f"--json_out={out}"],
      cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
      check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  result = json.loads(out.read_text())
  ours = result["ours"]["train_throughput"]
  settings = ours["settings"]
  # The harness preset, as the official side would build it.
  assert settings["resolution"] == 32 and settings["batch_size"] == 8
  assert settings["channel_base"] == 512 and settings["mapping_layers"] == 2
  assert settings["z_dim"] == 512 and settings["r1_gamma"] == 1
  assert settings["pl_weight"] == 2 and settings["augment"]["mode"] == "noaug"
  assert ours["measured"]["iters"] == 16
  assert result["train_img_per_s"]["ours"] > 0
  assert result["gen_img_per_s"]["ours"] > 0
  assert result["train_img_per_s"]["official"] is None
