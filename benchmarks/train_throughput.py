r"""Training throughput on synthetic data: compile time, s/kimg, memory.

Owns the training benchmark. It builds everything with the training loop's
own set-up path (`train.setup.build`) over `sharding.create_mesh`, and feeds
it random images in [-1, 1] and random labels through `Setup.global_batch`
and `Setup.run_iteration`, as the loop does, so no dataset is read and
TensorFlow is never imported.

  python benchmarks/train_throughput.py --config experiments/paper256.py \
      --config.train.batch_size=32 --iters 20 --warmup 3

Augmentation is a config override, e.g. `bgc` at a constant p = 0.5:
`--config.augment.mode=fixed --config.augment.pipe=bgc
--config.augment.p=0.5` (the table row then names it).

Reports, per step (`g_main`, `g_reg`, `d_main`, `d_reg`, `end_iteration`):
the compile time and the steady-state seconds per call. Then, for the
iteration mix `phases_for_step` gives (every iteration g_main + d_main +
ema, g_reg every `g_reg_interval`, d_reg every `d_reg_interval`): the
mix-weighted expected time per iteration from the per-phase timings, and a
measured run of `--run_iters` consecutive iterations, each as s/kimg and
images/s; and the peak device memory. Writes everything as JSON (default
`benchmarks/results/<config>_<platform>_<UTC time>.json`) and prints one
Markdown table row.
"""

import datetime
import json
import pathlib
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from absl import app
from absl import flags
import flax
import jax
import jaxlib
from ml_collections import config_flags
import numpy as np
import optax

import op_profile
from stylegan_jax import configs
from stylegan_jax import errors
from stylegan_jax import sharding
from stylegan_jax.data import embedded
from stylegan_jax.errors import UserError
from stylegan_jax.ops import modconv
from stylegan_jax.train import setup as setup_lib

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file.", lock_config=True)
_ITERS = flags.DEFINE_integer("iters", 10,
                              "Timed calls of each phase after warmup.")
_WARMUP = flags.DEFINE_integer("warmup", 2,
                               "Untimed calls of each phase after compiling.")
_RUN_ITERS = flags.DEFINE_integer(
    "run_iters", 16, "Consecutive full iterations in the measured run (0: "
    "skip it); a multiple of lcm(g_reg_interval, d_reg_interval) gives the "
    "exact mix.")
_NUM_CLASSES = flags.DEFINE_integer(
    "num_classes", -1, "c_dim for conditional configs (-1: the embedded "
    "set's style count, else 10); unconditional configs use 0.")
_PROFILE_DIR = flags.DEFINE_string(
    "profile_dir", None, "If set, also trace --iters calls of each phase "
    "with jax.profiler into this folder and add per-op-kind times to the "
    "JSON (`profile`) and a table to stdout (see op_profile.py).")
_JSON_OUT = flags.DEFINE_string(
    "json_out", None, "Where to write the JSON (default benchmarks/results/"
    "<config>_<platform>_<UTC time>.json).")

RESULTS_DIR = pathlib.Path(__file__).resolve().parent / "results"


def _versions() -> dict[str, str]:
  return {"python": platform.python_version(), "jax": jax.__version__,
          "jaxlib": jaxlib.__version__, "flax": flax.__version__,
          "optax": optax.__version__}


def _peak_memory() -> dict[str, int | None]:
  try:
    stats = jax.local_devices()[0].memory_stats() or {}
  except Exception:  # pylint: disable=broad-except
    stats = {}  # Some backends raise instead of returning None.
  return {"peak_bytes_in_use": stats.get("peak_bytes_in_use"),
          "bytes_in_use": stats.get("bytes_in_use"),
          "bytes_limit": stats.get("bytes_limit")}


def _memory_analysis(compiled) -> dict[str, int] | None:
  """XLA's static buffer sizes for one compiled phase, where reported."""
  try:
    analysis = compiled.memory_analysis()
  except Exception:  # pylint: disable=broad-except
    return None
  if analysis is None:
    return None
  fields = ("argument_size_in_bytes", "output_size_in_bytes",
            "alias_size_in_bytes", "temp_size_in_bytes",
            "generated_code_size_in_bytes")
  return {f: int(getattr(analysis, f)) for f in fields
          if hasattr(analysis, f)}


def phase_mix(setup) -> tuple[dict[str, float], int]:
  """Calls per iteration of each step, averaged over one full period.

  Args:
    setup: the `Setup` (its algorithm picks the phases per iteration).

  Returns:
    ({step name: expected calls per iteration}, period in iterations).
  """
  period = setup.algorithm.period
  counts = {name: 0 for name in setup.algorithm.phase_names}
  for i in range(period):
    for name in setup.algorithm.phases(i):
      counts[name] += 1
  mix = {name: n / period for name, n in counts.items() if n}
  mix[setup_lib.END_ITERATION] = 1.0
  return mix, period


def _synthetic_host_batch(config, c_dim: int, per_process_batch: int):
  """Uniform images in [-1, 1] [B, H, W, 3] and int labels [B]."""
  rng = np.random.default_rng(config.train.seed)
  res = config.data.resolution
  image = rng.uniform(-1.0, 1.0, (per_process_batch, res, res, 3))
  labels = rng.integers(0, max(c_dim, 1), per_process_batch)
  return {"image": image.astype(np.float32), "label": labels}


def _class_count(config, num_classes: int) -> int:
  if not config.data.conditional:
    return 0
  if num_classes >= 0:
    return num_classes
  if config.data.source == "embedded":
    return len(embedded.STYLE_NAMES)
  return 10


def timed_config(config, num_devices: int):
  """The config as timed: validated; without a data folder (a preset
  experiment run without `data=`), on the embedded set's labels, since no
  image is read (the batches are random)."""
  if config.data.source not in configs.BUILTIN_SOURCES and (
      not config.data.data_dir):
    config = config.copy_and_resolve_references()
    config.data.source = "embedded"
  configs.validate(config, num_devices=num_devices, check_paths=False)
  return config


def run_benchmark(config, *, config_name: str, iters: int = 10,
                  warmup: int = 2, run_iters: int = 16,
                  num_classes: int = -1,
                  profile_dir: str | None = None) -> dict[str, Any]:
  """Compiles and times every step, then a run of full iterations.

  Everything comes from `setup.build`, and the measured run goes through
  `Setup.global_batch` and `Setup.run_iteration`, as the training loop does.

  Args:
    config: the experiment ConfigDict (as `--config` gives it).
    config_name: recorded as `config` (e.g. 'paper256').
    iters: timed calls of each step, each waited on.
    warmup: untimed calls of each step before those.
    run_iters: consecutive iterations in the measured run (0: skip).
    num_classes: c_dim for conditional configs (-1: automatic).
    profile_dir: if set, `iters` calls of each step are traced there and
      summarised per op kind (`op_profile.summarize`) under "profile".

  Returns:
    The JSON-able result dict (see benchmarks/README.md for the keys).
  """
  if iters < 1:
    raise UserError(f"--iters must be at least 1, got {iters}")
  jax.config.update("jax_threefry_partitionable", True)
  jax.config.update("jax_default_matmul_precision",
                    config.train.matmul_precision)
  started = datetime.datetime.now(datetime.timezone.utc)

  mesh = sharding.create_mesh(config.mesh.num_devices)
  config = timed_config(config, mesh.devices.size)
  per_process_batch = sharding.check_batch_size(config.train.batch_size, mesh)
  c_dim = _class_count(config, num_classes)
  setup = setup_lib.build(config, c_dim, mesh)
  host_batch = _synthetic_host_batch(config, c_dim, per_process_batch)
  batch = setup.global_batch(host_batch)
  mix, period = phase_mix(setup)

  t0 = time.perf_counter()
  state = jax.block_until_ready(setup.init())
  init_s = time.perf_counter() - t0

  # Compile ahead of time against the abstract (sharded) state.
  setup = setup.compiled()
  per_phase = {name: {"compile_s": setup.compile_seconds[name],
                      "calls_per_iter": mix[name],
                      "memory_analysis": _memory_analysis(setup.steps[name])}
               for name in mix}

  def call(name, state):
    if name == setup_lib.END_ITERATION:
      return setup.steps[name](state), None
    return setup.steps[name](state, batch)

  # Steady state, one step at a time; every call is waited on.
  for name in mix:
    t0 = time.perf_counter()
    state, metrics = jax.block_until_ready(call(name, state))
    per_phase[name]["first_call_s"] = time.perf_counter() - t0
    for _ in range(warmup):
      state, metrics = jax.block_until_ready(call(name, state))
    times = []
    for _ in range(iters):
      t0 = time.perf_counter()
      state, metrics = jax.block_until_ready(call(name, state))
      times.append(time.perf_counter() - t0)
    per_phase[name].update(
        sec_per_call=statistics.fmean(times), sec_per_call_min=min(times),
        sec_per_call_median=statistics.median(times))
    if metrics is not None:
      bad = [k for k, v in jax.device_get(metrics).items()
             if not np.all(np.isfinite(v))]
      per_phase[name]["nonfinite_metrics"] = bad

  profiles = None
  if profile_dir:
    profiles = {}
    for name in mix:
      def once(name=name):
        nonlocal state
        state, metrics = call(name, state)
        return state, metrics
      profiles[name] = op_profile.profile(
          once, setup.steps[name], pathlib.Path(profile_dir) / name, iters)

  batch_size = config.train.batch_size
  expected_s = sum(per_phase[p]["sec_per_call"] * mix[p] for p in mix)

  def rates(sec_per_iter):
    return {"sec_per_iter": sec_per_iter,
            "sec_per_kimg": sec_per_iter * 1000 / batch_size,
            "images_per_sec": batch_size / sec_per_iter}

  measured = None
  if run_iters > 0:
    # As the loop runs it, from step 0 of the schedule (both regs first).
    t0 = time.perf_counter()
    for i in range(run_iters):
      state, metrics = setup.run_iteration(
          state, setup.global_batch(host_batch), i)
    jax.block_until_ready((state, metrics))
    measured = {"iters": run_iters,
                **rates((time.perf_counter() - t0) / run_iters)}

  devices = jax.devices()
  fused = setup.G.fused_modconv
  return {
      "config": config_name,
      "date": started.isoformat(timespec="seconds"),
      "platform": devices[0].platform,
      "device_kind": devices[0].device_kind,
      "device_count": jax.device_count(),
      "mesh_devices": int(mesh.devices.size),
      "process_count": jax.process_count(),
      "versions": _versions(),
      "settings": {
          "resolution": config.data.resolution,
          "batch_size": batch_size,
          "c_dim": c_dim,
          "channel_base": config.model.channel_base,
          "channel_max": config.model.channel_max,
          "z_dim": config.model.z_dim,
          "mapping_layers": config.model.mapping_layers,
          "fused_modconv": config.model.fused_modconv,
          "fused_modconv_effective": (modconv.default_fused() if fused is None
                                      else bool(fused)),
          "matmul_precision": config.train.matmul_precision,
          "r1_gamma": config.loss.r1_gamma,
          "pl_weight": config.loss.pl_weight,
          "g_reg_interval": config.optim.g_reg_interval,
          "d_reg_interval": config.optim.d_reg_interval,
          "augment": {"mode": config.augment.mode,
                      "pipe": config.augment.pipe, "p": config.augment.p},
      },
      "iters": iters,
      "warmup": warmup,
      "mix_period": period,
      "init_s": init_s,
      "compile_s_total": sum(p["compile_s"] for p in per_phase.values()),
      "phases": per_phase,
      "expected": rates(expected_s),
      "measured": measured,
      "memory": _peak_memory(),
      "profile": profiles,
      "config_json": json.loads(config.to_json_best_effort()),
  }


def format_row(result: dict[str, Any]) -> str:
  """One Markdown table row; the measured run if there was one."""
  rate = result["measured"] or result["expected"]
  peak = result["memory"]["peak_bytes_in_use"]
  memory = "n/a" if peak is None else f"{peak / 2**30:.1f} GiB"
  s = result["settings"]
  name, augment = result["config"], s.get("augment", {})
  if augment.get("mode", "noaug") != "noaug":
    name += (f" ({augment['mode']} {augment['pipe']} p={augment['p']:g})"
             if augment["mode"] in ("fixed", "ada") else
             f" ({augment['mode']})")
  cells = [name, result["device_kind"],
           str(result["device_count"]), str(s["batch_size"]),
           str(s["resolution"]), f"{rate['sec_per_kimg']:.3g} s/kimg",
           f"{rate['images_per_sec']:.4g} img/s", memory,
           f"jax {result['versions']['jax']}", result["date"][:10]]
  return "| " + " | ".join(cells) + " |"


def _config_name() -> str:
  """'paper256' from `--config experiments/paper256.py:res=512`."""
  path = config_flags.get_config_filename(flags.FLAGS["config"])
  path, _, arg = path.partition(":")
  name = pathlib.Path(path).stem
  return f"{name}-{arg.replace('=', '').replace(',', '-')}" if arg else name


def default_json_path(result: dict[str, Any]) -> pathlib.Path:
  # The time is in the name too, so that reruns on one day do not clobber.
  stamp = datetime.datetime.fromisoformat(result["date"]).strftime(
      "%Y-%m-%dT%H%M%SZ")
  return RESULTS_DIR / f"{result['config']}_{result['platform']}_{stamp}.json"


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    errors.fail(f"unexpected arguments {argv[1:]} — see --helpshort")
  if _CONFIG.value is None:
    errors.fail("--config is required — e.g. --config "
                "experiments/paper256.py")
  errors.report_user_errors(_main, sys.argv)


def _main() -> None:
  if _PROFILE_DIR.value:
    try:  # Before minutes of compiling and timing, not after.
      pathlib.Path(_PROFILE_DIR.value).mkdir(parents=True, exist_ok=True)
    except OSError as e:
      raise UserError(f"--profile_dir {_PROFILE_DIR.value} cannot be "
                      f"created ({e.strerror}) — name a writable folder")
  result = run_benchmark(_CONFIG.value, config_name=_config_name(),
                         iters=_ITERS.value, warmup=_WARMUP.value,
                         run_iters=_RUN_ITERS.value,
                         num_classes=_NUM_CLASSES.value,
                         profile_dir=_PROFILE_DIR.value)
  if jax.process_index() != 0:
    return
  if result["profile"]:
    print(op_profile.format_table(result["profile"]))
  path = pathlib.Path(_JSON_OUT.value or default_json_path(result))
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
  print(format_row(result))
  print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
  app.run(main, flags_parser=configs.parse_flags)
