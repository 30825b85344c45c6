r"""ADA on a small art collection: `noaug`, fixed p and ADA, side by side.

Owns the limited-data experiment of the augmentation work. The embedded
procedural art set, cut to `--num_images` images, is trained three times
with the same settings and length, differing only in `config.augment`:
`noaug`; `fixed` with p = `--fixed_p`; `ada` (p starts at 0, target
`--target`, adjusting every 4 iterations by batch * 4 / (`--ada_kimg` *
1000)). Each run is an ordinary `train.loop.train_and_evaluate` run into
`<workdir_root>/<mode>` (TensorBoard logs, grids, SWD at every snapshot);
the script then reads back from the logs, against kimg:

* r_t = E[sign(D(real))] (`augment/rt`, averaged over each logging window;
  near 1 when D has memorised the reals),
* p (`augment/p`),
* SWD x1e3 between G_ema's images and the reals (`metric/swd/avg`),

and writes into `--outdir` (default `benchmarks/ada/`): `curves.png` (the
three panels, drawn with pillow), `<mode>_fakes.png` (each run's last sample
grid), `ada_augmented.png` (what D saw at the end of the ADA run: reals over
their augmented versions), and `results.json` (the curves, settings,
timings, device and versions). It prints a Markdown table.

  python benchmarks/ada_limited_data.py --resolution 16 --kimg 12

On a GPU: `--resolution 64 --kimg 500 --num_images 1000 --ada_kimg 100`.
"""

import argparse
import dataclasses
import datetime
import json
import pathlib
import platform
import shutil
import sys
import time

import flax
import jax
import numpy as np
import optax
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
# pylint: disable=g-import-not-at-top,wrong-import-position
from curves import logged_curve
from stylegan_jax import configs

MODES = ("noaug", "fixed", "ada")
COLORS = {"noaug": (214, 39, 40), "fixed": (31, 119, 180),
          "ada": (44, 160, 44)}
TAGS = {"rt": "augment/rt", "p": "augment/p", "swd": "metric/swd/avg"}
OUTDIR = pathlib.Path(__file__).resolve().parent / "ada"


def experiment_config(args: argparse.Namespace, mode: str):
  """The shared settings; only `augment` differs between the runs."""
  c = configs.base_config()
  c.data.source = "embedded"
  c.data.resolution = args.resolution
  c.data.conditional = False
  c.data.xflip = False  # Augmentation is what is compared.
  c.data.embedded_num_images = args.num_images
  c.data.shuffle_buffer = args.num_images
  c.model.z_dim = c.model.w_dim = 64
  c.model.mapping_layers = 2
  c.model.channel_base = args.channel_base
  c.model.channel_max = args.channel_max
  c.model.mbstd_group_size = 4
  c.loss.r1_gamma = args.r1_gamma
  c.loss.pl_weight = 0.0  # As the demo and the `cifar` preset: cheaper.
  c.optim.g_lr = c.optim.d_lr = 0.0025
  c.train.batch_size = args.batch_size
  c.train.total_kimg = args.kimg
  c.train.ema_kimg = args.batch_size / 32  # `auto`'s batch * 10 / 32, / 10.
  c.train.ema_rampup = 0.05
  c.train.log_every_kimg = args.kimg / args.log_points
  c.train.snapshot_kimg = args.kimg / args.snapshots
  c.train.checkpoint_kimg = args.kimg
  c.train.grid_size = 8
  c.evals.metrics = "swd"
  c.evals.swd_num_images = min(args.num_images, 512)
  c.train.seed = args.seed
  c.augment.mode = mode
  c.augment.pipe = args.pipe
  c.augment.p = args.fixed_p if mode == "fixed" else 0.0
  c.augment.target = args.target
  c.augment.ada_kimg = args.ada_kimg
  return c


def read_curves(workdir: pathlib.Path) -> dict[str, list[list[float]]]:
  """{'rt'|'p'|'swd': [[kimg, value], ...]} from a run's TensorBoard logs."""
  return {name: [list(point) for point in logged_curve(workdir, tag)]
          for name, tag in TAGS.items()}


# ------------------------------------------------------------------ plot --


def _font(size: int):
  try:
    return ImageFont.load_default(size=size)
  except TypeError:  # Pillow < 10.1 has one bitmap size.
    return ImageFont.load_default()


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
  span = max(hi - lo, 1e-9)
  raw = span / n
  mag = 10 ** np.floor(np.log10(raw))
  step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw),
             default=10 * mag)
  start = np.ceil(lo / step) * step
  return [float(t) for t in np.arange(start, hi + step * 1e-6, step)]


@dataclasses.dataclass(frozen=True)
class _Axes:
  """A panel's pixel box and data ranges (x from 0 to xmax)."""

  x0: float
  y0: float
  x1: float
  y1: float
  xmax: float
  lo: float
  hi: float

  def x(self, v: float) -> float:
    return self.x0 + (self.x1 - self.x0) * v / self.xmax

  def y(self, v: float) -> float:
    return self.y1 - (self.y1 - self.y0) * (v - self.lo) / (self.hi - self.lo)


def plot_curves(runs: dict[str, dict], path: pathlib.Path, title: str,
                target: float) -> None:
  """Three panels (r_t, p, SWD against kimg), one line per mode, as a PNG."""
  panels = [("rt", "r_t = E[sign(D(real))]"), ("p", "augmentation p"),
            ("swd", "SWD x1e3 (lower is better)")]
  pw, ph, left, top, bottom, right = 420, 300, 62, 40, 44, 14
  width, height = pw * len(panels), ph + 46
  img = Image.new("RGB", (width, height), "white")
  draw = ImageDraw.Draw(img)
  small, big = _font(12), _font(15)
  draw.text((10, 6), title, fill="black", font=big)
  xmax = max((pt[0] for run in runs.values() for c in run.values()
              for pt in c), default=1.0)
  for i, (name, label) in enumerate(panels):
    x0, y0 = i * pw + left, 46 + top
    x1, y1 = (i + 1) * pw - right, 46 + ph - bottom
    values = [pt[1] for run in runs.values() for pt in run.get(name, [])]
    if name == "rt":
      lo, hi = min(values + [target, 0.0]), 1.0
    elif name == "p":
      lo, hi = 0.0, max(values + [0.1])
    else:
      lo, hi = 0.0, max(values + [1.0])
    pad = (hi - lo) * 0.05
    lo, hi = lo - (pad if name == "rt" else 0), hi + pad
    axes = _Axes(x0, y0, x1, y1, xmax, lo, hi)
    sx, sy = axes.x, axes.y
    draw.rectangle([x0, y0, x1, y1], outline="black")
    draw.text((x0, y0 - 20), label, fill="black", font=big)
    for t in _nice_ticks(lo, hi):
      draw.line([x0 - 4, sy(t), x0, sy(t)], fill="black")
      draw.line([x0 + 1, sy(t), x1 - 1, sy(t)], fill=(230, 230, 230))
      draw.text((x0 - 6, sy(t)), f"{t:g}", fill="black", font=small,
                anchor="rm")
    for t in _nice_ticks(0, xmax):
      draw.line([sx(t), y1, sx(t), y1 + 4], fill="black")
      draw.text((sx(t), y1 + 6), f"{t:g}", fill="black", font=small,
                anchor="mt")
    draw.text(((x0 + x1) / 2, y1 + 22), "kimg", fill="black", font=small,
              anchor="mt")
    if name == "rt":
      draw.line([x0, sy(target), x1, sy(target)], fill=(120, 120, 120),
                width=1)
      draw.text((x1 - 4, sy(target) - 2), "target", fill=(90, 90, 90),
                font=small, anchor="rb")
    for j, (mode, run) in enumerate(runs.items()):
      points = [(sx(x), sy(y)) for x, y in run.get(name, [])]
      if len(points) > 1:
        draw.line(points, fill=COLORS[mode], width=2)
      for px, py in points if name == "swd" else points[-1:]:
        draw.ellipse([px - 2.5, py - 2.5, px + 2.5, py + 2.5],
                     fill=COLORS[mode])
      if i == 0:
        ly = y0 + 8 + 16 * j
        draw.line([x0 + 8, ly, x0 + 28, ly], fill=COLORS[mode], width=3)
        draw.text((x0 + 32, ly), mode, fill="black", font=small, anchor="lm")
  path.parent.mkdir(parents=True, exist_ok=True)
  img.save(path)


# ------------------------------------------------------------------- run --


def _last_png(workdir: pathlib.Path, prefix: str) -> pathlib.Path | None:
  found = sorted((workdir / "samples").glob(f"{prefix}*.png"))
  return found[-1] if found else None


def _summary(curves: dict[str, list]) -> dict[str, float | None]:
  def last(name):
    return curves[name][-1][1] if curves[name] else None
  rt = [v for _, v in curves["rt"]]
  swd = [v for _, v in curves["swd"]]
  return {"final_rt": last("rt"), "max_rt": max(rt) if rt else None,
          "final_p": last("p"), "final_swd": last("swd"),
          "best_swd": min(swd) if swd else None}


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  add = parser.add_argument
  add("--resolution", type=int, default=16)
  add("--kimg", type=float, default=12.0, help="Length of each run.")
  add("--num_images", type=int, default=300,
      help="Training images (the embedded art set cut to this many).")
  add("--batch_size", type=int, default=16)
  add("--channel_base", type=int, default=1024)
  add("--channel_max", type=int, default=128)
  add("--r1_gamma", type=float, default=0.05)
  add("--pipe", default="bgc")
  add("--fixed_p", type=float, default=0.2)
  add("--target", type=float, default=0.6)
  add("--ada_kimg", type=float, default=10.0,
      help="kimg for p to move by 1 (official: 500; 100 when resuming).")
  add("--log_points", type=int, default=24, help="Log windows per run.")
  add("--snapshots", type=int, default=6, help="SWD evaluations per run.")
  add("--seed", type=int, default=0)
  add("--modes", default=",".join(MODES))
  add("--workdir_root", default="/tmp/ada_limited_data")
  add("--outdir", default=str(OUTDIR))
  add("--plot_only", action="store_true",
      help="Redraw from the existing workdirs without training.")
  add("--extend", action="store_true",
      help="Continue the existing workdirs up to --kimg (the loop resumes "
      "them) instead of starting over; keep kimg / log_points and kimg / "
      "snapshots as before.")
  return parser.parse_args(argv)


def main(argv=None) -> None:
  from stylegan_jax.train import loop  # pylint: disable=g-import-not-at-top
  args = parse_args(sys.argv[1:] if argv is None else argv)
  modes = [m for m in args.modes.split(",") if m]
  if not set(modes) <= set(MODES):
    raise SystemExit(f"error: --modes takes {', '.join(MODES)}")
  root, outdir = pathlib.Path(args.workdir_root), pathlib.Path(args.outdir)
  started = datetime.datetime.now(datetime.timezone.utc)
  runs, seconds = {}, {}
  outdir.mkdir(parents=True, exist_ok=True)
  for mode in modes:
    workdir = root / mode
    config = experiment_config(args, mode)
    if not args.plot_only:
      if workdir.exists() and not args.extend:
        shutil.rmtree(workdir)
      t0 = time.perf_counter()
      loop.train_and_evaluate(config, str(workdir))
      spent = workdir / "benchmark_seconds.json"  # Summed over extensions.
      before = json.loads(spent.read_text()) if spent.exists() else 0.0
      spent.write_text(json.dumps(before + time.perf_counter() - t0))
    spent = workdir / "benchmark_seconds.json"
    if spent.exists():
      seconds[mode] = json.loads(spent.read_text())
    runs[mode] = read_curves(workdir)
    grid = _last_png(workdir, "fakes")
    if grid is not None:
      shutil.copy(grid, outdir / f"{mode}_fakes.png")
    if mode == "ada" and _last_png(workdir, "augmented") is not None:
      shutil.copy(_last_png(workdir, "augmented"),
                  outdir / "ada_augmented.png")

  title = (f"{args.num_images} embedded art images, {args.resolution}px, "
           f"{args.kimg:g} kimg per run, pipe {args.pipe}, fixed p = "
           f"{args.fixed_p:g}, ADA target {args.target:g}, ada_kimg "
           f"{args.ada_kimg:g}")
  plot_curves(runs, outdir / "curves.png", title, args.target)
  devices = jax.devices()
  result = {
      "date": started.isoformat(timespec="seconds"),
      "device_kind": devices[0].device_kind, "platform": devices[0].platform,
      "device_count": len(devices),
      "versions": {"python": platform.python_version(),
                   "jax": jax.__version__, "flax": flax.__version__,
                   "optax": optax.__version__},
      "args": vars(args), "seconds": seconds,
      "summary": {mode: _summary(curves) for mode, curves in runs.items()},
      "curves": runs,
  }
  (outdir / "results.json").write_text(json.dumps(result, indent=1) + "\n")
  print("| mode | final r_t | max r_t | final p | final SWD | best SWD | "
        "minutes |")
  print("| --- | --- | --- | --- | --- | --- | --- |")
  def fmt(v):
    return "n/a" if v is None else f"{v:.3g}"

  for mode, s in result["summary"].items():
    minutes = seconds.get(mode)
    print(f"| {mode} | {fmt(s['final_rt'])} | {fmt(s['max_rt'])} | "
          f"{fmt(s['final_p'])} | {fmt(s['final_swd'])} | "
          f"{fmt(s['best_swd'])} | "
          f"{'n/a' if minutes is None else f'{minutes / 60:.1f}'} |")
  print(f"wrote {outdir}/curves.png, results.json", file=sys.stderr)


if __name__ == "__main__":
  main()
