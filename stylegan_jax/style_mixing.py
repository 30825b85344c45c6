r"""The style-mixing grid: row seeds' ws with some layers from column seeds.

  python -m stylegan_jax.style_mixing --model workdirs/demo --rows 1-3 \
      --cols 10-12 --styles 0-6 --truncation_psi 0.7 --outdir out

Cell (r, c) renders the row seed's ws with the `--styles` entries (indices
into [0, num_ws)) replaced by the column seed's, as in the official tool:
low indices carry coarse styles (pose, layout), high ones fine styles
(colour, texture). The grid's top row shows the column seeds, its left
column the row seeds. Writes `grid.png` and `row{R:04d}-col{C:04d}.png`.
"""

from collections.abc import Sequence
from typing import NamedTuple

from absl import app
from absl import flags
import numpy as np

from stylegan_jax import cli_utils
from stylegan_jax import images
from stylegan_jax import model_io

_ROWS = flags.DEFINE_string("rows", None, "Row seeds, e.g. '1-3'.")
_COLS = flags.DEFINE_string("cols", None, "Column seeds, e.g. '10-12'.")
_STYLES = flags.DEFINE_string("styles", "0-6", "ws indices taken from the "
                              "column seed, e.g. '0-6'.")

for _name in ("model", "truncation_psi", "truncation_cutoff", "class",
              "noise_mode", "batch_size", "outdir"):
  flags.declare_key_flag(_name)


class StyleMixing(NamedTuple):
  """Everything one grid holds (uint8 images).

  Attributes:
    grid: [(R + 1) * H, (C + 1) * W, ch], blank top-left corner.
    cells: [R, C, H, W, ch], cell (r, c) = row r's ws with column c's styles.
    row_images: [R, H, W, ch], the row seeds unmixed.
    col_images: [C, H, W, ch], the column seeds unmixed.
  """

  grid: np.ndarray
  cells: np.ndarray
  row_images: np.ndarray
  col_images: np.ndarray


def mix_ws(row_ws: np.ndarray, col_ws: np.ndarray,
           styles: Sequence[int]) -> np.ndarray:
  """Splices ws for every (row, column) pair.

  Args:
    row_ws: [R, num_ws, w_dim].
    col_ws: [C, num_ws, w_dim].
    styles: indices into num_ws copied from the column's ws.

  Returns:
    [R, C, num_ws, w_dim].
  """
  num_ws = row_ws.shape[1]
  bad = [s for s in styles if not 0 <= s < num_ws]
  if bad:
    raise ValueError(f"style indices {bad} out of range: this model has "
                     f"num_ws={num_ws} (valid: 0-{num_ws - 1})")
  mixed = np.repeat(row_ws[:, None], len(col_ws), axis=1).copy()
  idx = list(styles)
  mixed[:, :, idx] = col_ws[None][:, :, idx]
  return mixed


def style_mixing_grid(model: model_io.Model, row_seeds: Sequence[int],
                      col_seeds: Sequence[int], styles: Sequence[int], *,
                      truncation_psi: float = 1.0,
                      truncation_cutoff: int | None = None,
                      class_label: str | int | None = None,
                      noise_mode: str = "const",
                      batch_size: int = 8) -> StyleMixing:
  """Renders the style-mixing grid (see the module docstring).

  Args:
    model: a loaded `model_io.Model`.
    row_seeds: R seeds giving each cell's ws.
    col_seeds: C seeds whose ws replace `styles`.
    styles: indices in [0, num_ws).
    truncation_psi, truncation_cutoff: applied when mapping every seed.
    class_label: class name or index (conditional models only).
    noise_mode: 'const', 'random' (keyed by the row seed in a cell) or
      'none'.
    batch_size: images per generator call.

  Returns:
    A `StyleMixing` of uint8 arrays.
  """
  if not len(row_seeds) or not len(col_seeds):
    raise ValueError("give at least one row seed and one column seed")
  if not len(styles):
    raise ValueError("give at least one style index")
  seeds = list(row_seeds) + list(col_seeds)
  ws = cli_utils.map_seeds(model, seeds, class_label, truncation_psi,
                           truncation_cutoff, batch_size)
  row_ws, col_ws = ws[:len(row_seeds)], ws[len(row_seeds):]
  mixed = mix_ws(row_ws, col_ws, styles)
  r, c = mixed.shape[:2]
  all_ws = np.concatenate([ws, mixed.reshape(r * c, *ws.shape[1:])])
  noise_seeds = seeds + [s for s in row_seeds for _ in col_seeds]
  rendered = cli_utils.synthesize(model, all_ws, noise_mode, noise_seeds,
                                  batch_size)
  row_images = rendered[:r]
  col_images = rendered[r:r + c]
  cells = rendered[r + c:].reshape(r, c, *rendered.shape[1:])
  blank = np.zeros_like(rendered[:1])
  tiles = [blank, col_images]
  for i in range(r):
    tiles += [row_images[i:i + 1], cells[i]]
  grid = images.tile(np.concatenate(tiles), c + 1)
  return StyleMixing(grid, cells, row_images, col_images)


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    rows = cli_utils.parse_range(_ROWS.value, "rows")
    cols = cli_utils.parse_range(_COLS.value, "cols")
    styles = cli_utils.parse_range(_STYLES.value, "styles")
    model = cli_utils.load(cli_utils.MODEL.value)
    result = style_mixing_grid(
        model, rows, cols, styles,
        **cli_utils.generation_kwargs())
  except (ValueError, FileNotFoundError) as e:
    raise app.UsageError(str(e)) from e
  out = cli_utils.outdir(cli_utils.OUTDIR.value)
  for i, row in enumerate(rows):
    for j, col in enumerate(cols):
      name = f"row{row:04d}-col{col:04d}.png"
      images.save_png(result.cells[i, j], out / name)
  path = images.save_png(result.grid, out / "grid.png")
  print(f"wrote {len(rows) * len(cols)} mixed images (styles {styles} from "
        f"the columns) to {out.resolve()}/row*-col*.png")
  print(f"wrote {path.resolve()}")


if __name__ == "__main__":
  app.run(main)
