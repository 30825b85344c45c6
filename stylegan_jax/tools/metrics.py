r"""The metrics command line (`stylegan_jax.metrics.evaluate`).

  python -m stylegan_jax.metrics --metrics fid50k_full,kid50k_full \
      --model workdirs/demo --data /path/to/images \
      --inception pt_inception-2015-12-05-6726825d.pth
  python -m stylegan_jax.metrics --metrics swd --model model.npz \
      --data embedded --num_images 1024 --json_out swd.json
  python -m stylegan_jax.metrics --metrics psnr,ssim,ms_ssim \
      --data targets/ --data2 projections/

Generator metrics run the evaluators the training loop runs at its
snapshots; on a training workdir every setting defaults to what training
used (its `evals` config and data), so the numbers match the logged ones.
Prints one `name value` line per result (and notes about skipped files) on
stdout, progress and cache lines on stderr; `--json_out` also writes the
whole record.
"""

from collections.abc import Callable, Sequence
import sys
from typing import Any

from stylegan_jax.features.inception import RESIZE_MODES
from stylegan_jax.metrics import evaluate
from stylegan_jax.nets.synthesis import NOISE_MODES
from stylegan_jax.tools import common

# Flag -> the `evals` key it overrides (unset flags keep the stored value).
EVALS_FLAGS = {
    "num_images": "max_images", "seed": "seed",
    "truncation_psi": "truncation_psi", "noise_mode": "noise_mode",
    "batch_size": "batch_size", "inception": "inception", "vgg16": "vgg16",
    "lpips": "lpips", "resize_mode": "resize_mode", "cache_dir": "cache_dir",
    "swd_num_images": "swd_num_images", "swd_directions": "swd_directions",
    "ppl_crop": "ppl_crop",
}


def build_parser() -> common.ArgumentParser:
  p = common.parser("python -m stylegan_jax.metrics", __doc__)
  p.add_argument("--metrics", default=None,
                 help=f"Comma-separated, from {', '.join(evaluate.METRICS)} "
                 "(default: a workdir's evals.metrics, else swd).")
  p.add_argument("--model", default=None,
                 help="A training workdir[@step], an exported .npz or an "
                 "official .pkl (needed by the generator metrics).")
  p.add_argument("--network", default="G_ema", choices=("G_ema", "G"),
                 help="Which generator of a workdir or pickle.")
  p.add_argument("--data", default=None,
                 help="Real images: an image folder, 'embedded' (art) or "
                 "'glyphs' (digits). For paired metrics, the first folder "
                 "of pairs.")
  p.add_argument("--data2", default=None,
                 help="Second folder for paired metrics (psnr, ssim, "
                 "ms_ssim), with the same file names as --data.")
  p.add_argument("--num_images", type=int, default=None,
                 help="Cap on every metric's generated and real images "
                 "(default: the official counts, e.g. 50k for fid50k_full; "
                 "swd uses --swd_num_images).")
  p.add_argument("--inception", default=None,
                 help="FID Inception weights: pytorch-fid's "
                 "pt_inception-2015-12-05-6726825d.pth (or .pth.xz); for "
                 "fid*, kid*, is*.")
  p.add_argument("--vgg16", default=None,
                 help="torchvision's vgg16-397923af.pth; for pr50k3_full "
                 "and ppl*.")
  p.add_argument("--lpips", default=None,
                 help="The lpips package's weights/v0.1/vgg.pth; for ppl*.")
  p.add_argument("--resize_mode", default=None, choices=RESIZE_MODES,
                 help="Inception input resize (default pytorch-fid).")
  p.add_argument("--cache_dir", default=None,
                 help="Real-image statistics and converted weights (default "
                 "$STYLEGAN_JAX_CACHE or ~/.cache/stylegan_jax).")
  p.add_argument("--seed", type=int, default=None,
                 help="Generated image i comes from seed + i (default 0).")
  p.add_argument("--truncation_psi", type=float, default=None,
                 help="Truncation psi of the generated images (default 1).")
  p.add_argument("--noise_mode", default=None, choices=NOISE_MODES,
                 help="Generator noise (default random, as the official "
                 "metrics; keyed by each image's seed).")
  p.add_argument("--batch_size", type=int, default=None,
                 help="Images per jitted call over all devices (default 64).")
  p.add_argument("--swd_num_images", type=int, default=None,
                 help="Generated and real images for swd (default 1024).")
  p.add_argument("--swd_directions", type=int, default=None,
                 help="SWD random directions per repeat (default 512).")
  p.add_argument("--ppl_crop", default=None, action="store_true",
                 help="PPL on the centre crop (faces), as the legacy "
                 "metrics.")
  p.add_argument("--json_out", default=None,
                 help="Also write the results as JSON to this path.")
  return p


def _stderr(line: str) -> None:
  print(line, file=sys.stderr, flush=True)


def run(args, print_fn: Callable[[str], None] = print,
        log: Callable[[str], None] = _stderr) -> dict[str, Any]:
  """Runs the command for parsed arguments; prints and returns the record."""
  if args.json_out:
    common.check_output_file(args.json_out)
  overrides = {key: getattr(args, flag) for flag, key in EVALS_FLAGS.items()
               if getattr(args, flag) is not None}
  metrics = args.metrics
  if metrics is None:
    meta = (evaluate.stored_meta(args.model) if args.model and not args.data2
            else None)
    metrics = (evaluate.evals_settings(meta, {}).metrics if meta else
               "") or "swd"
  record = evaluate.evaluate(
      metrics.split(","), model=args.model, network=args.network,
      data=args.data, data2=args.data2, evals=overrides, log=log)
  for note in record["notes"]:
    print_fn(f"note: {note}")
  for line in evaluate.format_lines(record):
    print_fn(line)
  if args.json_out:
    path = evaluate.write_json(record, args.json_out)
    print_fn(f"wrote {path.resolve()}")
  return record


def main(argv: Sequence[str] | None = None) -> None:
  common.run(run, build_parser(), argv)


if __name__ == "__main__":
  main()
