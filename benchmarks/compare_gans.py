r"""Trains several GANs on the same data and budget, and compares them.

Owns the GAN comparison: the MLP GAN, DCGAN, vanilla GAN, progressive
StyleGAN and StyleGAN2, each from its experiment file, on the same embedded
data at the same resolution, for the same budget in kimg and in wall-clock
minutes (whichever ends first).

  python benchmarks/compare_gans.py --out benchmarks/compare
  python benchmarks/compare_gans.py --resolution 64 --kimg 2000 \
      --minutes 120 --metric_images 10000 \
      --experiment stylegan2=experiments/stylegan2.py \
      --inception_weights pt_inception-2015-12-05-6726825d.pth \
      --out results/compare64

Each model trains in its own process, as a user runs it (`python -m
stylegan_jax.main --config <experiment> --config.data.resolution=...`); at
the wall-clock budget it gets SIGTERM, and the loop saves and exits. The loop
logs SWD every `kimg / --points` (the curve). Then, here, each final
checkpoint's G_ema makes `--metric_images` images, scored against the same
reals: SWD (ProGAN's, x1e3), and FID and KID when `--inception_weights`
names pytorch-fid's Inception file (nothing is downloaded). Models whose
experiment file or training algorithm does not exist yet, or whose training
fails (a resolution its networks do not take), are listed as missing; with
none left to evaluate the script ends with one error line (exit 2).
Writes `results.json`, `results.md` (the table, with device, versions and
date), `swd_vs_kimg.png` and `samples.png` (one grid per model, side by
side) to `--out`.
"""

import datetime
import importlib.util
import json
import math
import os
import pathlib
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # This checkout's package, as its subprocesses.

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import app
from absl import flags
import flax
import jax
import ml_collections
import numpy as np
import optax
from PIL import Image
from PIL import ImageDraw

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
# pylint: disable=g-import-not-at-top,wrong-import-position
from curves import font
from curves import logged_curve
from curves import plot_curves
from stylegan_jax import checkpoint
from stylegan_jax import configs
from stylegan_jax import errors
from stylegan_jax import images
from stylegan_jax import sharding
from stylegan_jax.data import pipeline
from stylegan_jax.features import inception
from stylegan_jax.features import weights
from stylegan_jax.metrics import fid
from stylegan_jax.metrics import kid as kid_lib
from stylegan_jax.metrics import swd
from stylegan_jax.train import setup
from stylegan_jax.train import state as state_lib
# pylint: enable=g-import-not-at-top,wrong-import-position

# name -> experiment file (relative to the repository root), in table order.
MODELS = {
    "mlp": "experiments/mlp_gan.py",
    "dcgan": "experiments/dcgan.py",
    "vanilla": "experiments/vanilla_gan.py",
    "progressive": "experiments/progressive.py",
    "stylegan2": "experiments/demo.py",
}
_OUT = flags.DEFINE_string("out", "benchmarks/compare", "Output folder.")
_MODELS = flags.DEFINE_list("models", list(MODELS), "Models to compare.")
_EXPERIMENT = flags.DEFINE_multi_string(
    "experiment", [], "name=path[:arg] replaces a model's experiment file, "
    "e.g. stylegan2=experiments/stylegan2.py on a GPU.")
_RESOLUTION = flags.DEFINE_integer("resolution", 16, "Image resolution.")
_CHANNELS = flags.DEFINE_integer(
    "channels", 3, "Image channels (where the config has data.channels).")
_NUM_IMAGES = flags.DEFINE_integer("num_images", 2000,
                                   "Size of the embedded dataset.")
_KIMG = flags.DEFINE_float("kimg", 6.0, "Training budget in kimg.")
_MINUTES = flags.DEFINE_float(
    "minutes", 6.0, "Wall-clock budget per model (start-up and compiling "
    "included).")
_POINTS = flags.DEFINE_integer("points", 6, "SWD evaluations during "
                               "training (the curve).")
_METRIC_IMAGES = flags.DEFINE_integer(
    "metric_images", 512, "Generated and real images per SWD/FID/KID.")
_INCEPTION = flags.DEFINE_string(
    "inception_weights", "", "pytorch-fid's Inception weights "
    "(pt_inception-2015-12-05-6726825d.pth) for FID and KID.")
_GRID = flags.DEFINE_integer("grid", 6, "Sample grid columns and rows.")
_SEED = flags.DEFINE_integer("seed", 0, "Training and evaluation seed.")
_SKIP_TRAINING = flags.DEFINE_bool(
    "skip_training", False, "Evaluate the workdirs an earlier run left.")
_CONFIG_FLAGS = flags.DEFINE_multi_string(
    "config_flag", [], "Extra --config.* flag for every model, e.g. "
    "--config_flag=--config.mesh.num_devices=1.")


def experiments() -> dict[str, str]:
  """name -> experiment spec (MODELS with the --experiment replacements)."""
  out = dict(MODELS)
  for item in _EXPERIMENT.value:
    name, sep, spec = item.partition("=")
    if not sep or name not in MODELS:
      errors.fail(f"--experiment={item!r}: use name=path[:arg] with "
                  f"name one of {', '.join(MODELS)}")
    out[name] = spec
  return out


def training_flags(name: str, spec: str, workdir: pathlib.Path) -> list[str]:
  """The `stylegan_jax.main` command line for one model."""
  kimg, points = _KIMG.value, _POINTS.value
  args = [
      f"--config={spec}", f"--workdir={workdir}",
      "--config.data.source=embedded",
      f"--config.data.resolution={_RESOLUTION.value}",
      f"--config.data.embedded_num_images={_NUM_IMAGES.value}",
      "--config.data.conditional=False",
      f"--config.train.total_kimg={kimg}",
      f"--config.train.snapshot_kimg={kimg / points}",
      f"--config.train.log_every_kimg={kimg / points}",
      f"--config.train.checkpoint_kimg={kimg}",
      "--config.evals.metrics=swd",
      f"--config.evals.swd_num_images={_METRIC_IMAGES.value}",
      f"--config.train.seed={_SEED.value}",
      f"--config.train.grid_size={_GRID.value}",
      "--config.train.resume=fresh",
  ]
  base = configs.base_config()
  if "channels" in base.data:  # Baselines' recipes may default to 1.
    args.append(f"--config.data.channels={_CHANNELS.value}")
  if "total_epochs" in base.train:  # It would win over total_kimg.
    args.append(f"--config.train.total_epochs="
                f"{kimg * 1000 / _NUM_IMAGES.value}")
  if name == "progressive":  # Grow through every stage within the budget.
    start = 4
    steps = max(int(math.log2(_RESOLUTION.value / start)), 0)
    length = kimg / (2 * steps + 2)
    args += [f"--config.progressive.start_resolution={start}",
             f"--config.progressive.stage_kimg={length}",
             f"--config.progressive.fade_kimg={length}"]
  return args + list(_CONFIG_FLAGS.value)


def missing_reason(spec: str) -> str | None:
  """Why a model cannot run here (no experiment file, unknown arch), or None."""
  path = ROOT / spec.partition(":")[0]
  if not path.exists():
    return f"no {path.relative_to(ROOT)} yet"
  try:
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    arg = spec.partition(":")[2]
    config = module.get_config(arg) if arg else module.get_config()
  except Exception as e:  # pylint: disable=broad-except
    return f"{spec} does not load: {e}"
  arch = config.model.arch
  if arch not in setup.ALGORITHMS or arch not in configs.ARCHS:
    return f"model.arch={arch!r} has no training algorithm yet"
  return None


def train(name: str, spec: str, workdir: pathlib.Path) -> dict[str, Any]:
  """Runs one model's training process within the budgets."""
  cmd = [sys.executable, "-m", "stylegan_jax.main",
         *training_flags(name, spec, workdir)]
  workdir.mkdir(parents=True, exist_ok=True)
  log = (workdir / "train.log").open("w")
  env = {**os.environ, "PYTHONPATH": str(ROOT)}
  print(f"[{name}] {' '.join(cmd)}", flush=True)
  start = time.perf_counter()
  proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log,
                          stderr=subprocess.STDOUT)
  stopped = False
  try:
    proc.wait(timeout=_MINUTES.value * 60)
  except subprocess.TimeoutExpired:
    stopped = True
    proc.send_signal(signal.SIGTERM)  # The loop saves and exits 0.
    proc.wait()
  seconds = time.perf_counter() - start
  log.close()
  print(f"[{name}] exit {proc.returncode} after {seconds:.0f} s"
        f"{' (wall-clock budget)' if stopped else ''}", flush=True)
  return {"returncode": proc.returncode, "wall_seconds": seconds,
          "stopped_by_clock": stopped}


def restore(workdir: pathlib.Path):
  """The newest checkpoint: (its algorithm at its stage, state, config)."""
  manager = checkpoint.create_manager(workdir, read_only=True)
  steps = checkpoint.steps(manager)
  if not steps:
    raise FileNotFoundError(f"no checkpoint in {workdir}")
  meta = checkpoint.read_config(manager, steps[-1])
  config = ml_collections.ConfigDict(meta["config"])
  mesh = sharding.create_mesh(1)
  built = setup.build(config, meta["c_dim"], mesh,
                      stage=setup.stage_at(config, 0))
  state, _ = checkpoint.restore_latest(manager, built.abstract_state)
  stage = setup.stage_at(config, int(state.nimg))
  if stage != built.stage:
    built = setup.build(config, meta["c_dim"], mesh, stage=stage)
  return built.algorithm, state, config


def generate(alg, state, n: int, seed: int, chunk: int = 64) -> np.ndarray:
  """G_ema's images [n, H, W, C] in [-1, 1] (unconditional grid inputs)."""
  render = jax.jit(alg.render)
  out = []
  for i in range(-(-n // chunk)):
    inputs = alg.grid_inputs(jax.random.key(seed * 100_003 + i), 1, chunk,
                             False)
    out.append(np.asarray(render(state.ema_params, state.ema_buffers,
                                 inputs)))
  return np.concatenate(out)[:n]


def real_images(config, n: int) -> np.ndarray:
  """The first n images of the shared data stream, [n, H, W, C]."""
  cfg = pipeline.DataConfig.from_config(config.data)
  it = pipeline.create_input_iterator(cfg, batch_size=min(n, 256))
  out = []
  while sum(len(x) for x in out) < n:
    out.append(next(it)["image"])
  return np.concatenate(out)[:n]


def inception_scores(params, fakes: np.ndarray, reals: np.ndarray):
  """(FID, KID) of [-1, 1] images with pytorch-fid's Inception."""

  def pool3(x):
    return np.concatenate([
        np.asarray(inception.features(params, images.to_uint8(
            x[i:i + 64]))["pool3"]) for i in range(0, len(x), 64)])

  a, b = pool3(reals), pool3(fakes)
  return fid.fid_from_features(a, b), kid_lib.kid(a, b)


def evaluate(name: str, workdir: pathlib.Path, reals, inception_params):
  """Final metrics, parameter counts, sample grid and curve of one model."""
  alg, state, config = restore(workdir)
  if reals is None:
    reals = real_images(config, _METRIC_IMAGES.value)
  fakes = generate(alg, state, len(reals), _SEED.value + 1)
  fakes = fakes.reshape(reals.shape)
  row = {"model": name, "arch": config.model.arch,
         "kimg": int(state.nimg) / 1000, "step": int(state.step),
         "g_params": state_lib.param_count(state.g_params),
         "d_params": state_lib.param_count(state.d_params)}
  scores = swd.swd(fakes, reals, jax.random.key(_SEED.value + 3))
  row["swd"] = float(scores["swd/avg"])
  row["swd_levels"] = {k: float(v) for k, v in scores.items()}
  if inception_params is not None:
    row["fid"], row["kid"] = inception_scores(inception_params, fakes, reals)
  grid = generate(alg, state, _GRID.value**2, _SEED.value + 2)
  row["grid"] = images.make_grid(grid, _GRID.value)
  images.save_png(row["grid"], workdir / "final_grid.png")
  # The loop's SWD at its snapshots, and this final one where it stopped.
  curve = dict(logged_curve(workdir, "metric/swd/avg"))
  curve.setdefault(row["kimg"], row["swd"])
  row["curve"] = sorted(curve.items())
  timing = logged_curve(workdir, "timing/sec_per_kimg")
  row["sec_per_kimg"] = (float(np.median([v for _, v in timing]))
                         if timing else None)
  return row, reals


# ------------------------------------------------------------- drawing --


def side_by_side(grids: dict[str, np.ndarray], path: pathlib.Path,
                 height: int = 288) -> pathlib.Path:
  """Each model's uint8 grid scaled to `height` (nearest), captioned."""
  tiles = []
  for name, grid in grids.items():
    tile = Image.fromarray(grid.squeeze(-1) if grid.shape[-1] == 1 else grid)
    scale = max(1, height // tile.height)
    tile = tile.resize((tile.width * scale, tile.height * scale),
                       Image.NEAREST).convert("RGB")
    tiles.append((name, tile))
  pad, caption = 12, 20
  width = sum(t.width for _, t in tiles) + pad * (len(tiles) + 1)
  tall = max(t.height for _, t in tiles) + caption + 2 * pad
  out = Image.new("RGB", (width, tall), "white")
  draw = ImageDraw.Draw(out)
  x = pad
  for name, tile in tiles:
    draw.text((x, pad // 2), name, fill="black", font=font())
    out.paste(tile, (x, pad + caption))
    x += tile.width + pad
  path.parent.mkdir(parents=True, exist_ok=True)
  out.save(path)
  return path


def environment() -> dict[str, str]:
  device = jax.devices()[0]
  kind = (f"CPU, {os.cpu_count()} cores" if device.platform == "cpu"
          else device.device_kind)
  return {"device": kind, "devices": str(jax.device_count()),
          "versions": f"jax {jax.__version__}, flax {flax.__version__}, "
                      f"optax {optax.__version__}, Python "
                      f"{platform.python_version()}",
          "date": datetime.date.today().isoformat()}


def table(rows: Sequence[dict[str, Any]], env: dict[str, str]) -> list[str]:
  """The Markdown table (one line per model, missing ones included)."""
  lines = ["| model | arch | G / D params | kimg | wall s | train s/kimg | "
           "SWD x1e3 | FID | KID x1e3 | notes |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

  def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)

  for r in rows:
    if "missing" in r:
      lines.append(f"| {r['model']} | — | — | — | — | — | — | — | — | "
                   f"missing: {r['missing']} |")
      continue
    kid = r.get("kid")
    lines.append(
        f"| {r['model']} | {r['arch']} | {r['g_params']:,} / "
        f"{r['d_params']:,} | {r['kimg']:.2f} | "
        f"{fmt(r.get('wall_seconds'), '.0f')} | "
        f"{fmt(r.get('sec_per_kimg'), '.1f')} | {r['swd']:.1f} | "
        f"{fmt(r.get('fid'), '.1f')} | "
        f"{fmt(None if kid is None else kid * 1e3, '.2f')} | "
        f"{r.get('notes', '')} |")
  lines.append("")
  lines.append(f"{env['device']} ({env['devices']} device(s)); "
               f"{env['versions']}; {env['date']}.")
  return lines


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}")
  out = pathlib.Path(_OUT.value).resolve()
  specs = experiments()
  unknown = [m for m in _MODELS.value if m not in specs]
  if unknown:
    errors.fail(f"unknown models {unknown}; known: {', '.join(specs)}")
  runs = {}
  for name in _MODELS.value:  # Train everything before this process uses
    spec, workdir = specs[name], out / "work" / name  # a device.
    reason = missing_reason(spec)
    if reason:
      print(f"[{name}] skipped: {reason}", flush=True)
      runs[name] = {"missing": reason}
      continue
    if _SKIP_TRAINING.value:
      saved = workdir / "run.json"
      runs[name] = json.loads(saved.read_text()) if saved.exists() else {
          "missing": f"no finished run in {workdir} to evaluate (run "
                     "without --skip_training first)"}
      continue
    runs[name] = train(name, spec, workdir)
    # A clock stop while compiling may abort after saving (exit != 0).
    saved = any(p.name.isdigit() for p in (workdir / "checkpoints").glob("*"))
    if runs[name]["returncode"] != 0 and not (
        runs[name]["stopped_by_clock"] and saved):
      tail = (workdir / "train.log").read_text().strip().splitlines()
      runs[name] = {"missing": "training failed: " + (
          tail[-1][:200] if tail else "?")}
      continue
    (workdir / "run.json").write_text(json.dumps(runs[name]))
  if all("missing" in run for run in runs.values()):  # E.g. a bad flag.
    errors.fail("no model to evaluate — " + "; ".join(
        f"{name}: {run['missing']}" for name, run in runs.items()))

  inception_params = None
  if _INCEPTION.value:
    inception_params = weights.load("inception", _INCEPTION.value)
  rows, reals = [], None
  for name, run in runs.items():
    if "missing" in run:
      rows.append({"model": name, **run})
      continue
    row, reals = evaluate(name, out / "work" / name, reals, inception_params)
    row.update(run)
    if run.get("stopped_by_clock") and row["kimg"] < _KIMG.value:
      row["notes"] = "stopped by the wall-clock budget"
    rows.append(row)
  env = environment()
  grids = {r["model"]: r.pop("grid") for r in rows if "grid" in r}
  if grids:
    side_by_side(grids, out / "samples.png")
  plot_curves({r["model"]: r["curve"] for r in rows if "curve" in r},
              out / "swd_vs_kimg.png",
              f"SWD x1e3 (avg over levels) of G_ema, "
              f"{_RESOLUTION.value}x{_RESOLUTION.value} embedded art")
  lines = table(rows, env)
  (out / "results.md").write_text("\n".join(lines) + "\n")
  (out / "results.json").write_text(json.dumps(
      {"environment": env, "flags": {f.name: f.value for f in (
          _RESOLUTION, _NUM_IMAGES, _KIMG, _MINUTES, _POINTS,
          _METRIC_IMAGES, _SEED)}, "rows": rows}, indent=2))
  print("\n".join(lines))


if __name__ == "__main__":
  app.run(main)
