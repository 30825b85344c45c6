"""style_mixing: grid layout, cells against a direct splice, errors."""

import re

import numpy as np
from PIL import Image
import pytest

from stylegan_jax import images
from stylegan_jax import sampling
from stylegan_jax import style_mixing
from tests.tools import run_main
from tests.tools import user_error


def _direct_mix(model, row_seed, col_seed, styles, psi=1.0, c=None):
  """The cell, computed straight from G.apply (no tool code but z)."""
  G, v = model.G, model.variables
  z = sampling.z_from_seeds([row_seed, col_seed], G.z_dim)
  ws = np.array(G.apply(v, z, c, psi, method=G.map))
  ws[0, styles] = ws[1, styles]
  img = G.apply(v, ws[:1], noise_mode="const", method=G.synthesize)
  return images.to_uint8(img)[0]


def test_cli_writes_grid_and_cells(uncond, uncond_path, tmp_path):
  run_main(style_mixing.main, ["--model", str(uncond_path), "--rows", "1-2",
                               "--cols", "10-12", "--styles", "0-1",
                               "--truncation_psi", "0.7",
                               "--outdir", str(tmp_path)])
  cells = [f"row{r:04d}-col{c:04d}.png" for r in (1, 2) for c in (10, 11, 12)]
  assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
      cells + ["grid.png"])
  grid = np.asarray(Image.open(tmp_path / "grid.png"))
  assert grid.shape == (3 * 8, 4 * 8, 3)
  assert (grid[:8, :8] == 0).all()  # Blank corner.
  cols = sampling.generate_images(uncond, [10, 11, 12], truncation_psi=0.7)
  rows = sampling.generate_images(uncond, [1, 2], truncation_psi=0.7)
  np.testing.assert_array_equal(grid[:8, 8:], np.concatenate(cols, axis=1))
  np.testing.assert_array_equal(grid[8:, :8], np.concatenate(rows, axis=0))
  cell = np.asarray(Image.open(tmp_path / "row0002-col0011.png"))
  np.testing.assert_array_equal(grid[16:, 16:24], cell)
  direct = _direct_mix(uncond, 2, 11, [0, 1], psi=0.7)
  assert np.abs(cell.astype(int) - direct).max() <= 1
  assert not np.array_equal(cell, rows[1]) and not np.array_equal(cell,
                                                                  cols[1])


def test_cells_match_a_direct_splice(uncond):
  result = sampling.style_mixing_grid(uncond, [3, 4], [7], [2, 3],
                                          batch_size=3)
  assert result.cells.shape == (2, 1, 8, 8, 3)
  for i, row in enumerate([3, 4]):
    direct = _direct_mix(uncond, row, 7, [2, 3])
    assert np.abs(result.cells[i, 0].astype(int) - direct).max() <= 1


def test_all_styles_from_the_column_give_the_column_image(uncond):
  result = sampling.style_mixing_grid(uncond, [3], [7, 8], [0, 1, 2, 3])
  np.testing.assert_array_equal(result.cells[0], result.col_images)


def test_mix_ws_splices_listed_indices():
  row_ws = np.zeros((2, 4, 1), np.float32)
  col_ws = np.ones((3, 4, 1), np.float32)
  mixed = sampling.mix_ws(row_ws, col_ws, [1, 3])
  assert mixed.shape == (2, 3, 4, 1)
  np.testing.assert_array_equal(mixed[..., 0], [[[0, 1, 0, 1]] * 3] * 2)


@pytest.mark.parametrize("args, match", [
    (["--styles", "0-4"], r"\[4\] out of range.*num_ws=4"),
    (["--styles", "2-1"], "start is after the end"),
    (["--rows", ""], "--rows is empty"),
    (["--class", "0"], "unconditional"),
    (["--rows", "0-99", "--cols", "0-99"], "over the 4096-cell limit"),
])
def test_cli_errors(uncond_path, tmp_path, args, match, capsys):
  base = {"--rows": "1", "--cols": "2", "--styles": "0"}
  for flag, value in zip(args[::2], args[1::2]):
    base[flag] = value
  argv = ["--model", str(uncond_path), "--outdir", str(tmp_path)]
  for flag, value in base.items():
    argv += [flag, value]
  line = user_error(style_mixing.main, argv, capsys)
  assert re.search(match, line), line
  assert not list(tmp_path.glob("*.png"))
