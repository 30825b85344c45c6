"""benchmarks/train_throughput.py end to end on a tiny config (subprocess).

The script runs as a user would run it, on 2 fake CPU devices and with XLA's
CPU optimisations turned down so that compiling the five phases stays cheap.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "train_throughput.py"
PHASES = ("g_main", "g_reg", "d_main", "d_reg", "end_iteration")


@pytest.mark.slow  # Its compiles take tens of seconds on 2 cores.
def test_benchmark_writes_json_and_row(tmp_path):
  out = tmp_path / "results" / "tiny.json"
  env = dict(os.environ)
  env["XLA_FLAGS"] = ("--xla_force_host_platform_device_count=2 "
                      "--xla_backend_optimization_level=0 "
                      "--xla_llvm_disable_expensive_passes=true")
  env["JAX_PLATFORMS"] = "cpu"
  env["TF_CPP_MIN_LOG_LEVEL"] = "2"
  proc = subprocess.run(
      [sys.executable, str(SCRIPT), "--config", str(ROOT / "experiments" /
                                                    "demo.py"),
       "--config.data.resolution=8", "--config.model.channel_max=8",
       "--config.model.z_dim=8", "--config.model.w_dim=8",
       "--config.model.mapping_layers=1", "--config.train.batch_size=4",
       "--config.loss.pl_weight=2",  # The demo turns it off; time g_reg too.
       "--iters=1", "--warmup=0", "--run_iters=4", f"--json_out={out}",
       f"--profile_dir={tmp_path / 'profile'}"],
      cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
      check=False)
  assert proc.returncode == 0, proc.stderr[-4000:]
  rows = [line for line in proc.stdout.splitlines() if line.startswith("|")]
  assert rows[-1].startswith("| demo | cpu | 2 | 4 | 8 |")
  profile_rows = [r for r in rows if r.split("|")[1].strip() in PHASES]
  assert len(profile_rows) == len(PHASES)

  result = json.loads(out.read_text())
  for key in ("config", "date", "platform", "device_kind", "device_count",
              "versions", "settings", "phases", "expected", "measured",
              "memory", "init_s", "compile_s_total", "mix_period"):
    assert key in result, key
  assert result["config"] == "demo" and result["platform"] == "cpu"
  assert result["device_count"] == 2
  assert set(result["versions"]) >= {"python", "jax", "jaxlib", "flax",
                                     "optax"}
  settings = result["settings"]
  assert settings["resolution"] == 8 and settings["batch_size"] == 4
  assert settings["fused_modconv_effective"] is False  # CPU default.
  assert settings["matmul_precision"] == "highest"
  assert set(result["phases"]) == set(PHASES)
  for name, phase in result["phases"].items():
    assert phase["compile_s"] > 0 and phase["sec_per_call"] > 0, name
    assert not phase.get("nonfinite_metrics"), name
  assert result["phases"]["g_reg"]["calls_per_iter"] == 0.25
  assert result["phases"]["d_reg"]["calls_per_iter"] == 1 / 16
  for rate in (result["expected"], result["measured"]):
    assert rate["sec_per_kimg"] > 0 and rate["images_per_sec"] > 0
  assert result["measured"]["iters"] == 4
  assert "peak_bytes_in_use" in result["memory"]  # None on CPU.
  # The per-op profile: every phase traced, its op kinds adding up.
  assert set(result["profile"]) == set(PHASES)
  for name, summary in result["profile"].items():
    assert summary["ms_per_call"] > 0, name
    assert sum(summary["by_kind"].values()) == pytest.approx(
        summary["ms_per_call"]), name
  assert any(k.startswith("conv") or k == "dot"
             for k in result["profile"]["g_main"]["by_kind"])
