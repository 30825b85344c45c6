r"""Mixed precision: the demo trained in float32 and with bfloat16 blocks.

Owns the stability check of `model.num_fp16_res`: `experiments/demo.py`
(16 px conditional StyleGAN2 on the embedded art) trained twice for the same
kimg, once as it is (float32 everywhere) and once with
`model.num_fp16_res=--num_fp16_res` (`model.fp16_dtype=--fp16_dtype`), with
SWD (x1e3, G_ema against the reals) at every `--snapshot_kimg`. Each run is
an ordinary `train.loop.train_and_evaluate` run into
`<--workdir_root>/<name>`; the curves and timings are read back from the
runs' TensorBoard logs (`curves.logged_curve`). Writes into `--outdir`
(default `benchmarks/mixed_precision/`): `swd_bf16_vs_fp32.png` (SWD against
kimg, both runs), `<name>_fakes.png` (each run's last sample grid) and
`results.json` (curves, median s/kimg, settings, device, versions). Prints a
Markdown table.

  nice -n 5 python benchmarks/mixed_precision.py --kimg 12

Low precision pays on GPUs and TPUs (tensor cores); on a CPU bfloat16 is
emulated and slower, so the timings here show its cost, not its benefit.
"""

import argparse
import datetime
import importlib.util
import json
import pathlib
import shutil
import sys
import time

import jax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
# pylint: disable=g-import-not-at-top,wrong-import-position
from curves import logged_curve
from curves import plot_curves
from stylegan_jax import errors

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUTDIR = pathlib.Path(__file__).resolve().parent / "mixed_precision"
SWD = "metric/swd/avg"
TIMING = "timing/sec_per_kimg"


def demo_config():
  """`experiments/demo.py`'s config, as `--config experiments/demo.py`."""
  spec = importlib.util.spec_from_file_location(
      "demo_experiment", ROOT / "experiments" / "demo.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def run_configs(args: argparse.Namespace) -> dict:
  """{name: config}: the demo, and the demo with mixed precision."""
  out = {}
  for name, num_fp16_res in (("float32", 0), (args.fp16_dtype,
                                              args.num_fp16_res)):
    c = demo_config()
    c.train.total_kimg = args.kimg
    c.train.snapshot_kimg = args.snapshot_kimg
    c.train.checkpoint_kimg = args.kimg
    c.train.log_every_kimg = args.snapshot_kimg / 2
    c.model.num_fp16_res = num_fp16_res
    c.model.fp16_dtype = args.fp16_dtype
    out[name] = c
  return out


def _median(values: list[float]) -> float | None:
  values = sorted(values)
  if not values:
    return None
  mid = len(values) // 2
  return (values[mid] if len(values) % 2
          else (values[mid - 1] + values[mid]) / 2)


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  add = parser.add_argument
  add("--kimg", type=float, default=12.0, help="Length of each run.")
  add("--snapshot_kimg", type=float, default=2.0,
      help="SWD (and a sample grid) every this many kimg.")
  add("--num_fp16_res", type=int, default=2,
      help="Low-precision resolutions of the mixed run (16 px: 2 = 8, 16).")
  add("--fp16_dtype", default="bfloat16", choices=("bfloat16", "float16"))
  add("--workdir_root", default="/tmp/mixed_precision")
  add("--outdir", default=str(OUTDIR))
  add("--plot_only", action="store_true",
      help="Redraw from the existing workdirs without training.")
  return parser.parse_args(argv)


def main(argv=None) -> None:
  from stylegan_jax.train import loop  # pylint: disable=g-import-not-at-top
  args = parse_args(sys.argv[1:] if argv is None else argv)
  root, outdir = pathlib.Path(args.workdir_root), pathlib.Path(args.outdir)
  outdir.mkdir(parents=True, exist_ok=True)
  started = datetime.datetime.now(datetime.timezone.utc)
  rows = {}
  for name, config in run_configs(args).items():
    workdir = root / name
    if not args.plot_only:
      if workdir.exists():
        shutil.rmtree(workdir)
      t0 = time.perf_counter()
      loop.train_and_evaluate(config, str(workdir))
      (workdir / "benchmark_seconds.json").write_text(
          json.dumps(time.perf_counter() - t0))
    spent = workdir / "benchmark_seconds.json"
    grids = sorted((workdir / "samples").glob("fakes*.png"))
    if grids:
      shutil.copy(grids[-1], outdir / f"{name}_fakes.png")
    swd = logged_curve(workdir, SWD)
    rows[name] = {
        "num_fp16_res": config.model.num_fp16_res,
        "swd": swd, "final_swd": swd[-1][1] if swd else None,
        "sec_per_kimg": _median([v for _, v in logged_curve(workdir,
                                                            TIMING)]),
        "wall_seconds": (json.loads(spent.read_text()) if spent.exists()
                         else None)}

  mixed = f"{args.fp16_dtype} (N={args.num_fp16_res})"
  plot_curves({("float32" if name == "float32" else mixed): row["swd"]
               for name, row in rows.items()},
              outdir / "swd_bf16_vs_fp32.png",
              f"experiments/demo.py (16 px), {args.kimg:g} kimg: SWD x1e3 "
              "of G_ema vs the reals")
  device = jax.devices()[0]
  result = {
      "date": started.isoformat(timespec="seconds"),
      "device_kind": device.device_kind, "platform": device.platform,
      "jax": jax.__version__, "settings": vars(args), "runs": rows}
  (outdir / "results.json").write_text(json.dumps(result, indent=1))
  print("| run | final SWD x1e3 | median s/kimg | wall s |")
  print("|---|---|---|---|")
  for name, row in rows.items():
    def fmt(v, spec):
      return "n/a" if v is None else format(v, spec)
    print(f"| {name} | {fmt(row['final_swd'], '.2f')} | "
          f"{fmt(row['sec_per_kimg'], '.2f')} | "
          f"{fmt(row['wall_seconds'], '.0f')} |")


if __name__ == "__main__":
  errors.report_user_errors(main, sys.argv)
