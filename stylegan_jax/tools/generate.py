r"""Generates one image per seed from a model (and optionally a grid).

  python -m stylegan_jax.generate --model workdirs/demo --seeds 0-7,42 \
      --truncation_psi 0.7 --class 2 --outdir out --grid

writes `out/seed0000.png` ... `out/seed0042.png` as they are made (and
`out/grid.png`). The image for a seed does not depend on `--batch_size` or
on the other seeds (`stylegan_jax.sampling`).
"""

from collections.abc import Sequence

import numpy as np

from stylegan_jax import images
from stylegan_jax import sampling
from stylegan_jax.errors import UserError
from stylegan_jax.tools import common

MAX_GRID_IMAGES = 1024


def build_parser() -> common.ArgumentParser:
  p = common.parser("python -m stylegan_jax.generate", __doc__)
  common.add_model_args(p)
  p.add_argument("--seeds", required=True, help="Seeds, e.g. '0-7,42'.")
  common.add_generation_args(p)
  common.add_outdir(p)
  p.add_argument("--grid", action="store_true",
                 help=f"Also write all images as grid.png (at most "
                 f"{MAX_GRID_IMAGES} seeds).")
  return p


def _run(args) -> None:
  seeds = common.parse_range(args.seeds, "seeds")
  if args.grid and len(seeds) > MAX_GRID_IMAGES:
    raise UserError(f"--grid takes at most {MAX_GRID_IMAGES} seeds, got "
                    f"{len(seeds)} — drop --grid or ask for fewer seeds")
  kwargs = common.generation_kwargs(args)
  out = common.prepare_outdir(args.outdir)
  model = common.load_model(args)
  kept, count = [], 0
  for batch_seeds, batch in sampling.iter_images(model, seeds, **kwargs):
    for seed, image in zip(batch_seeds, batch):
      images.save_png(image, out / f"seed{seed:04d}.png")
    count += len(batch_seeds)
    if args.grid:
      kept.append(batch)
  h, w = model.G.img_resolution, model.G.img_resolution
  print(f"wrote {count} images ({w}x{h}) from {model.source} to "
        f"{out.resolve()}/seed*.png")
  if args.grid:
    array = np.concatenate(kept)
    grid = images.tile(array, images.grid_cols(len(array)))
    path = images.save_png(grid, out / "grid.png")
    print(f"wrote {path.resolve()}")


def main(argv: Sequence[str] | None = None) -> None:
  common.run(_run, build_parser(), argv)


if __name__ == "__main__":
  main()
