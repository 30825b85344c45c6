r"""The metrics command line (`stylegan_jax.metrics.evaluate`).

  python -m stylegan_jax.metrics --metrics swd --model workdirs/demo \
      --data embedded --num_images 1024 --json_out swd.json
  python -m stylegan_jax.metrics --metrics psnr,ssim,ms_ssim \
      --data targets/ --data2 projections/

Prints one `name value` line per metric (and notes about skipped files);
`--json_out` also writes the whole record.
"""

from collections.abc import Callable, Sequence
from typing import Any

from stylegan_jax.errors import UserError
from stylegan_jax.metrics import evaluate
from stylegan_jax.tools import common

MAX_SWD_DIRECTIONS = 16384
MAX_NUM_IMAGES = 1_000_000


def build_parser() -> common.ArgumentParser:
  p = common.parser("python -m stylegan_jax.metrics", __doc__)
  p.add_argument("--metrics", default="swd",
                 help=f"Comma-separated, from {', '.join(evaluate.METRICS)}.")
  p.add_argument("--model", default=None,
                 help="A training workdir[@step], an exported .npz or an "
                 "official .pkl (needed by swd).")
  p.add_argument("--network", default="G_ema", choices=("G_ema", "G"),
                 help="Which generator of a workdir or pickle.")
  p.add_argument("--data", default=None,
                 help="Real images: an image folder, 'embedded' (art) or "
                 "'glyphs' (digits). For paired metrics, the first folder "
                 "of pairs.")
  p.add_argument("--data2", default=None,
                 help="Second folder for paired metrics (psnr, ssim, "
                 "ms_ssim), with the same file names as --data.")
  p.add_argument("--num_images", type=int, default=1024,
                 help="Generated and real images for swd.")
  p.add_argument("--seed", type=int, default=0,
                 help="First generator seed; also seeds the folder shuffle "
                 "and SWD.")
  p.add_argument("--json_out", default=None,
                 help="Also write the results as JSON to this path.")
  p.add_argument("--swd_directions", type=int, default=512,
                 help="SWD random directions per repeat (4 repeats).")
  common.add_generation_args(p, batch_size=32)
  return p


def run(args, print_fn: Callable[[str], None] = print) -> dict[str, Any]:
  """Runs the command for parsed arguments; prints and returns the record."""
  if not 1 <= args.swd_directions <= MAX_SWD_DIRECTIONS:
    raise UserError(f"--swd_directions must be in [1, {MAX_SWD_DIRECTIONS}],"
                    f" got {args.swd_directions}")
  if not 1 <= args.num_images <= MAX_NUM_IMAGES:
    raise UserError(f"--num_images must be in [1, {MAX_NUM_IMAGES:,}], got "
                    f"{args.num_images}")
  kwargs = common.generation_kwargs(args)
  if args.json_out:
    common.check_output_file(args.json_out)
  model = None
  if args.model:
    model = common.load_model(args)
  record = evaluate.evaluate(
      args.metrics.split(","), model=model, data=args.data,
      data2=args.data2, num_images=args.num_images, seed=args.seed,
      swd_kwargs={"num_directions": args.swd_directions}, **kwargs)
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
