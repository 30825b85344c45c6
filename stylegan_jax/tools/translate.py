r"""Translates a folder of images with a trained pix2pix model.

  python -m stylegan_jax.translate --model workdirs/pix2pix --input drawings/ \
      --outdir out/translated [--compare]

writes `out/translated/<name>.png` for every image under `--input` (subfolders
kept), at the model's resolution: each image is centre-cropped to a square
and resized (Lanczos) first. With `--layout side_by_side` every file is an
A|B pair as pix2pix datasets store them: the `--direction` side is the
source, the other the target, and the mean L1, PSNR and SSIM of the results
against the targets are printed. `--compare` also writes `compare.png`
(rows of source | result [| target], the first 64 images). `--dropout`
keeps dropout on, as the paper does at test time (masks from `--seed`).
"""

from collections.abc import Sequence
import pathlib

import jax
import numpy as np
from PIL import Image

from stylegan_jax import images
from stylegan_jax import translation
from stylegan_jax.errors import UserError
from stylegan_jax.tools import common

LAYOUTS = ("single", "side_by_side")
MAX_COMPARE = 64


def build_parser() -> common.ArgumentParser:
  p = common.parser("python -m stylegan_jax.translate", __doc__)
  common.add_model_args(p)
  p.add_argument("--input", required=True,
                 help="A folder of source images (or one image file).")
  p.add_argument("--layout", default="single", choices=LAYOUTS,
                 help="single: each file is a source; side_by_side: each "
                 "file is an A|B pair.")
  p.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"),
                 help="With side_by_side: AtoB takes the left half as the "
                 "source.")
  p.add_argument("--batch_size", type=int, default=8,
                 help="Images per generator call.")
  common.add_bool(p, "dropout", False, "Keep dropout on (the paper's test "
                  "time); masks from --seed.")
  p.add_argument("--seed", type=int, default=0, help="Dropout seed.")
  common.add_bool(p, "compare", False, "Also write compare.png.")
  common.add_outdir(p, "out/translated")
  return p


def _inputs(path: pathlib.Path) -> tuple[pathlib.Path, list[str]]:
  """(root, image paths relative to it) for a folder or a single file."""
  if path.is_file():
    return path.parent, [path.name]
  if not path.is_dir():
    raise UserError(f"--input {path} does not exist — name a folder of "
                    "images or an image file")
  names = images.find_images(path)
  if not names:
    raise UserError(f"--input {path} holds no images (looked for "
                    f"{', '.join(images.IMAGE_EXTENSIONS)})")
  if len(names) > common.MAX_IMAGES:
    raise UserError(f"--input {path} holds {len(names):,} images, over "
                    f"{common.MAX_IMAGES:,} — split the folder")
  return path, names


def _output_names(names: Sequence[str]) -> list[str]:
  """Relative output paths (.png), refusing two inputs that would clash."""
  out = [str(pathlib.PurePosixPath(n).with_suffix(".png")) for n in names]
  seen = {}
  for name, target in zip(names, out):
    if target in seen:
      raise UserError(f"{seen[target]} and {name} would both be written as "
                      f"{target} — rename one")
    seen[target] = name
  return out


def _read(path: pathlib.Path, resolution: int, layout: str,
          direction: str) -> tuple[np.ndarray, np.ndarray | None]:
  """(source, target or None), uint8 [R, R, 3] each."""
  try:
    if layout == "single":
      return images.read_image(path, resolution), None
    pair = images.read_image(path)
  except images.READ_ERRORS as e:
    raise UserError(f"cannot read {path} ({e}) — remove or replace "
                    "it") from None
  half = pair.shape[1] // 2
  if half < 1:
    raise UserError(f"{path} is too narrow to hold an A|B pair")
  a, b = pair[:, :half], pair[:, half:2 * half]
  if direction == "BtoA":
    a, b = b, a

  def square(x):
    return np.asarray(images.center_crop_resize(Image.fromarray(x),
                                                resolution))

  return square(a), square(b)


def _run(args) -> None:
  if not 1 <= args.batch_size <= common.MAX_BATCH:
    raise UserError(f"--batch_size must be in [1, {common.MAX_BATCH}], got "
                    f"{args.batch_size}")
  if not 0 <= args.seed < 2**32:
    raise UserError(f"--seed must be in [0, 2**32), got {args.seed}")
  root, names = _inputs(pathlib.Path(args.input))
  outputs = _output_names(names)
  out = common.prepare_outdir(args.outdir)
  model = common.load_model(args)
  G = translation.check_translator(model)
  res = G.img_resolution
  key = jax.random.key(args.seed) if args.dropout else None

  results, compare = [], []
  for start in range(0, len(names), args.batch_size):
    chunk = range(start, min(start + args.batch_size, len(names)))
    pairs = [_read(root / names[i], res, args.layout, args.direction)
             for i in chunk]
    sources = images.to_float(np.stack([s for s, _ in pairs]))
    batch_key = (None if key is None
                 else jax.random.fold_in(key, start // args.batch_size))
    fake = translation.translate(model, sources, batch_size=len(chunk),
                                 dropout_key=batch_key)
    fake_u8 = images.to_uint8(fake)
    for i, image in zip(chunk, fake_u8):
      images.save_png(image, out / outputs[i])
    if args.layout == "side_by_side":
      targets = images.to_float(np.stack([t for _, t in pairs]))
      results.append((fake, targets))
    if args.compare and len(compare) < MAX_COMPARE:
      for (source, target), image in zip(pairs, fake_u8):
        compare.append([source, image] + ([target] if target is not None
                                          else []))
  print(f"wrote {len(names)} translations ({res}x{res}) from {model.source} "
        f"to {out.resolve()}")
  if results:
    s = translation.scores(np.concatenate([f for f, _ in results]),
                           np.concatenate([t for _, t in results]))
    ssim = "n/a" if s["ssim"] is None else f"{s['ssim']:.4f}"
    print(f"against the targets ({len(names)} pairs): L1 {s['l1']:.4f}, "
          f"PSNR {s['psnr']:.2f} dB, SSIM {ssim}")
  if compare:
    rows = [np.concatenate(row, axis=1) for row in compare[:MAX_COMPARE]]
    path = images.save_png(np.concatenate(rows, axis=0), out / "compare.png")
    print(f"wrote {path.resolve()}")


def main(argv: Sequence[str] | None = None) -> None:
  common.run(_run, build_parser(), argv)


if __name__ == "__main__":
  main()
