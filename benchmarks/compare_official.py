r"""Official StyleGAN2-ADA (PyTorch) beside stylegan_jax: same config, device.

Owns the side-by-side benchmark. One command runs, one after the other:

1. the official training iteration and G_ema generation, through the
   harness `../shared/bench/bench_official.py` (NVIDIA's code is imported
   from the work tree given by `--official`, by the Python given by
   `--torch_python`; none of it is in this repository);
2. ours, through the project's own training code path:
   `benchmarks/train_throughput.py` in a subprocess, with the `--config.*`
   overrides equivalent to the harness preset, its JSON read back;
3. our generation through the public network API: a `Generator` (random
   weights, as the harness's G_ema) applied with `noise_mode='const'`,
   jitted, timed like the harness (3 untimed calls, then 10 waited on).

Then it prints both rates and their ratio (ours / official) for training
(every phase in its real mix: G main, path length every 4, D main, R1 every
16, G_ema) and for generation, with device, versions and date, and writes
everything as JSON.

  python benchmarks/compare_official.py --official "$SG2ADA_DIR" \
      --torch_python "$TORCH_VENV/bin/python" --cfg tiny32 --device cpu

Both run float32 (`num_fp16_res=0` on the official side; stylegan_jax has
no float16 path); `--official_fp16` gives the official its GPU default of
4 float16 resolutions instead, and the JSON says so.
"""

import datetime
import importlib.util
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from absl import app
from absl import flags

from stylegan_jax import errors

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
DEFAULT_HARNESS = ROOT.parent / "shared" / "bench" / "bench_official.py"
GEN_WARMUP, GEN_CALLS = 3, 10  # As the harness times G_ema.

_OFFICIAL = flags.DEFINE_string(
    "official", None, "Work tree of NVlabs/stylegan2-ada-pytorch.")
_TORCH_PYTHON = flags.DEFINE_string(
    "torch_python", os.environ.get("TORCH_PYTHON"),
    "A Python with torch, numpy, scipy and click (default $TORCH_PYTHON).")
_HARNESS = flags.DEFINE_string("harness", str(DEFAULT_HARNESS),
                               "Path of bench_official.py.")
_CFG = flags.DEFINE_string("cfg", "tiny32",
                           "Harness preset: tiny32, paper256, paper512, "
                           "paper1024 or stylegan2.")
_BATCH = flags.DEFINE_integer("batch", None, "Override the preset's batch.")
_DEVICE = flags.DEFINE_enum("device", "cpu", ["cpu", "gpu"],
                            "Device both sides run on (one device).")
_ITERS = flags.DEFINE_integer(
    "iters", 48, "Timed training iterations on each side (a multiple of 16 "
    "gives the exact phase mix).")
_WARMUP = flags.DEFINE_integer("warmup", 16,
                               "Untimed official iterations first.")
_OFFICIAL_FP16 = flags.DEFINE_bool(
    "official_fp16", False, "Official's default num_fp16_res=4 instead of "
    "float32.")
_SKIP_OFFICIAL = flags.DEFINE_bool(
    "skip_official", False, "Only time stylegan_jax (no official numbers).")
_JSON_OUT = flags.DEFINE_string(
    "json_out", None, "Where to write the JSON (default benchmarks/results/"
    "compare_<cfg>_<device>_<UTC time>.json).")


def load_presets(harness: pathlib.Path) -> dict[str, dict[str, Any]]:
  """The harness's preset table (its module level imports no torch)."""
  spec = importlib.util.spec_from_file_location("bench_official", harness)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.PRESETS


def our_overrides(p: dict[str, Any], batch: int) -> list[str]:
  """`train_throughput.py` flags for a harness preset `p`.

  The harness builds the official networks with z = w = 512, channel_max
  512, conv_clamp 256, G skip / D resnet, unconditional, path length 2,
  style mixing 0.9, no EMA rampup: the `paper256` experiment's settings,
  which the flags below then resize.
  """
  o = "--config."
  return [
      f"--config={ROOT / 'experiments' / 'paper256.py'}:res={p['res']}",
      f"{o}train.batch_size={batch}",
      f"{o}model.mbstd_group_size={min(p['mbstd'], batch)}",
      f"{o}model.channel_base={int(p['fmaps'] * 32768)}",
      f"{o}model.channel_max=512",
      f"{o}model.z_dim=512", f"{o}model.w_dim=512",
      f"{o}model.mapping_layers={p['map']}",
      f"{o}model.conv_clamp=256",
      f"{o}model.g_architecture=skip", f"{o}model.d_architecture=resnet",
      f"{o}optim.g_lr={p['lr']}", f"{o}optim.d_lr={p['lr']}",
      f"{o}loss.r1_gamma={p['gamma']}", f"{o}loss.pl_weight=2",
      f"{o}loss.style_mixing_prob=0.9",
      f"{o}train.ema_kimg={p['ema']}",
      f"{o}augment.mode=noaug",  # The harness does not augment.
      f"{o}mesh.num_devices=1",
  ]


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
  proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                        check=False)
  if proc.returncode != 0:
    tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-15:])
    sys.exit(f"compare_official: {what} failed (exit {proc.returncode}):\n"
             f"{tail}")


def run_official(args: dict[str, Any], out: pathlib.Path) -> dict[str, Any]:
  """The harness in the torch Python; returns its JSON."""
  cmd = [args["torch_python"], str(args["harness"]), "--official",
         str(args["official"]), "--cfg", args["cfg"], "--iters",
         str(args["iters"]), "--warmup", str(args["warmup"]), "--device",
         "cuda" if args["device"] == "gpu" else "cpu", "--out", str(out)]
  if args["batch"]:
    cmd += ["--batch", str(args["batch"])]
  if not args["official_fp16"]:
    cmd.append("--fp32")
  _run(cmd, dict(os.environ), "the official harness")
  return json.loads(out.read_text())


def run_ours(p: dict[str, Any], batch: int, args: dict[str, Any],
             out: pathlib.Path) -> dict[str, Any]:
  """`train_throughput.py` as a user runs it; returns its JSON."""
  env = dict(os.environ)
  env["PYTHONPATH"] = os.pathsep.join(
      filter(None, [str(ROOT), env.get("PYTHONPATH")]))
  if args["device"] == "cpu":
    env["JAX_PLATFORMS"] = "cpu"
  cmd = [sys.executable, str(ROOT / "benchmarks" / "train_throughput.py"),
         *our_overrides(p, batch), f"--run_iters={args['iters']}",
         "--iters=5", "--warmup=2", f"--json_out={out}"]
  _run(cmd, env, "benchmarks/train_throughput.py")
  return json.loads(out.read_text())


def time_generation(p: dict[str, Any], batch: int) -> dict[str, Any]:
  """Images/s of a Generator at the preset's size, const noise, jitted."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  from stylegan_jax.nets import Generator  # pylint: disable=g-import-not-at-top

  jax.config.update("jax_default_matmul_precision", "highest")
  G = Generator(z_dim=512, w_dim=512, img_resolution=p["res"],
                mapping_layers=p["map"], channel_base=int(p["fmaps"] * 32768),
                channel_max=512, conv_clamp=256.0)
  z = jax.device_put(np.random.default_rng(0).normal(
      size=(batch, 512)).astype(np.float32))
  variables = jax.jit(lambda key: G.init(key, z[:1], noise_mode="const"))(
      jax.random.key(0))
  generate = jax.jit(lambda v, z: G.apply(v, z, noise_mode="const"))
  t0 = time.perf_counter()
  jax.block_until_ready(generate(variables, z))
  compile_s = time.perf_counter() - t0
  for _ in range(GEN_WARMUP - 1):
    jax.block_until_ready(generate(variables, z))
  t0 = time.perf_counter()
  for _ in range(GEN_CALLS):
    jax.block_until_ready(generate(variables, z))
  seconds = time.perf_counter() - t0
  device = jax.devices()[0]
  return {"gen_img_per_s": GEN_CALLS * batch / seconds,
          "first_call_s": compile_s, "calls": GEN_CALLS,
          "fused_modconv": G.fused_modconv, "platform": device.platform,
          "device_kind": device.device_kind}


def _cpu_model() -> str:
  """The CPU's model name (Linux), else the machine type."""
  try:
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
      if line.startswith("model name"):
        return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.machine()


def _ratio(ours: float | None, official: float | None) -> float | None:
  return ours / official if ours and official else None


def compare(args: dict[str, Any]) -> dict[str, Any]:
  """Runs both sides; returns the JSON-able result."""
  presets = load_presets(args["harness"])
  if args["cfg"] not in presets:
    errors.fail(f"unknown --cfg={args['cfg']}; the harness "
                f"has {sorted(presets)}")
  p = presets[args["cfg"]]
  batch = args["batch"] or p["batch"]
  started = datetime.datetime.now(datetime.timezone.utc)
  with tempfile.TemporaryDirectory() as tmp:
    official = None
    if not args["skip_official"]:
      official = run_official(args, pathlib.Path(tmp) / "official.json")
    ours = run_ours(p, batch, args, pathlib.Path(tmp) / "ours.json")
  gen = time_generation(p, batch)
  train_rate = ours["measured"]["images_per_sec"]
  official_train = official["train_img_per_s"] if official else None
  official_gen = official["gen_img_per_s"] if official else None
  return {
      "cfg": args["cfg"],
      "preset": p,
      "batch": batch,
      "date": started.isoformat(timespec="seconds"),
      "host": {"python": platform.python_version(), "cpu": _cpu_model(),
               "cpus": os.cpu_count()},
      "device": {"official": official["device"] if official else None,
                 "ours": ours["device_kind"]},
      "versions": {"torch": official["torch"] if official else None,
                   **ours["versions"]},
      "official_num_fp16_res": official["num_fp16_res"] if official else None,
      "train_img_per_s": {"official": official_train, "ours": train_rate,
                          "ratio": _ratio(train_rate, official_train)},
      "gen_img_per_s": {"official": official_gen,
                        "ours": gen["gen_img_per_s"],
                        "ratio": _ratio(gen["gen_img_per_s"], official_gen)},
      "official": official,
      "ours": {"train_throughput": {k: ours[k] for k in (
          "measured", "expected", "phases", "settings", "compile_s_total",
          "versions", "date")}, "generation": gen},
  }


def format_report(result: dict[str, Any]) -> str:
  def cell(v, fmt):
    return "n/a" if v is None else format(v, fmt)

  lines = [f"{result['cfg']} batch {result['batch']}, {result['date']}, "
           f"{result['host']['cpu']} x {result['host']['cpus']}",
           f"official: {result['device']['official']}, torch "
           f"{result['versions']['torch']}, num_fp16_res "
           f"{result['official_num_fp16_res']}",
           f"ours:     {result['device']['ours']}, jax "
           f"{result['versions']['jax']}",
           "| | official img/s | stylegan_jax img/s | ours / official |",
           "| --- | --- | --- | --- |"]
  for name, key in (("training", "train_img_per_s"),
                    ("generation", "gen_img_per_s")):
    r = result[key]
    lines.append(f"| {name} | {cell(r['official'], '.4g')} | "
                 f"{cell(r['ours'], '.4g')} | {cell(r['ratio'], '.2f')}x |")
  return "\n".join(lines)


def _check_args(args: dict[str, Any]) -> None:
  """One clear line for each mistake a user can make."""
  if args["iters"] < 1:
    errors.fail(f"--iters must be at least 1, got "
                f"{args['iters']}")
  if not args["harness"].is_file():
    errors.fail(f"harness {args['harness']} not found; pass "
                "--harness=/path/to/bench_official.py")
  if args["skip_official"]:
    return
  if not args["official"] or not (
      pathlib.Path(args["official"]) / "training" / "networks.py").is_file():
    errors.fail("--official must be a work tree of "
                "NVlabs/stylegan2-ada-pytorch (with training/networks.py), got "
                f"{args['official']!r}")
  if not args["torch_python"] or not os.access(args["torch_python"],
                                               os.X_OK):
    errors.fail("--torch_python must be an executable Python "
                "with torch installed (or set $TORCH_PYTHON), got "
                f"{args['torch_python']!r}")


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  args = {"official": _OFFICIAL.value, "torch_python": _TORCH_PYTHON.value,
          "harness": pathlib.Path(_HARNESS.value).resolve(),
          "cfg": _CFG.value, "batch": _BATCH.value, "device": _DEVICE.value,
          "iters": _ITERS.value, "warmup": _WARMUP.value,
          "official_fp16": _OFFICIAL_FP16.value,
          "skip_official": _SKIP_OFFICIAL.value}
  _check_args(args)
  if args["device"] == "cpu":
    os.environ["JAX_PLATFORMS"] = "cpu"  # Before this process imports jax.
  result = compare(args)
  stamp = datetime.datetime.fromisoformat(result["date"]).strftime(
      "%Y-%m-%dT%H%M%SZ")
  path = pathlib.Path(_JSON_OUT.value or RESULTS_DIR / (
      f"compare_{result['cfg']}_{args['device']}_{stamp}.json"))
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
  print(format_report(result))
  print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
  app.run(main)
