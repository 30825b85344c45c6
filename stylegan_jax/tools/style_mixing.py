r"""The style-mixing grid: row seeds' ws with some layers from column seeds.

  python -m stylegan_jax.style_mixing --model workdirs/demo --rows 1-3 \
      --cols 10-12 [--styles 0-2] --truncation_psi 0.7 --outdir out

Cell (r, c) renders the row seed's ws with the `--styles` entries (indices
into [0, num_ws)) replaced by the column seed's, as in the official tool:
low indices carry coarse styles (pose, layout), high ones fine styles
(colour, texture). Without `--styles` the coarse half of the model's own
range is taken (`0` to `num_ws // 2 - 1`). The grid's top row shows the
column seeds, its left column the row seeds. Writes `grid.png` and
`row{R:04d}-col{C:04d}.png`.
"""

from collections.abc import Sequence

from stylegan_jax import images
from stylegan_jax import sampling
from stylegan_jax.errors import UserError
from stylegan_jax.tools import common


def build_parser() -> common.ArgumentParser:
  p = common.parser("python -m stylegan_jax.style_mixing", __doc__)
  common.add_model_args(p)
  p.add_argument("--rows", required=True, help="Row seeds, e.g. '1-3'.")
  p.add_argument("--cols", required=True, help="Column seeds, e.g. '10-12'.")
  p.add_argument("--styles", default=None,
                 help="ws indices taken from the column seed, e.g. '0-6' "
                 "(default: the coarse half of the model's num_ws).")
  common.add_generation_args(p)
  common.add_outdir(p)
  return p


def _run(args) -> None:
  rows = common.parse_range(args.rows, "rows")
  cols = common.parse_range(args.cols, "cols")
  if len(rows) * len(cols) > common.MAX_GRID_CELLS:
    raise UserError(f"{len(rows)} rows x {len(cols)} columns is over the "
                    f"{common.MAX_GRID_CELLS}-cell limit — ask for fewer")
  styles = (None if args.styles is None else
            common.parse_range(args.styles, "styles", hi=1024))
  kwargs = common.generation_kwargs(args)
  out = common.prepare_outdir(args.outdir)
  model = common.load_model(args)
  res, ch = model.G.img_resolution, model.G.img_channels
  common.check_memory(
      2.0 * (len(rows) + 1) * (len(cols) + 1) * res * res * ch,
      "this style-mixing grid")
  result = sampling.style_mixing_grid(model, rows, cols, styles, **kwargs)
  for i, row in enumerate(rows):
    for j, col in enumerate(cols):
      images.save_png(result.cells[i, j], out / f"row{row:04d}-col{col:04d}.png")
  path = images.save_png(result.grid, out / "grid.png")
  used = styles if styles is not None else list(
      range(max(1, model.G.num_ws // 2)))
  print(f"wrote {len(rows) * len(cols)} mixed images (styles {used} from "
        f"the columns) to {out.resolve()}/row*-col*.png")
  print(f"wrote {path.resolve()}")


def main(argv: Sequence[str] | None = None) -> None:
  common.run(_run, build_parser(), argv)


if __name__ == "__main__":
  main()
