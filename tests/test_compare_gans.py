"""benchmarks/compare_gans.py's pieces that need no training run.

The end-to-end comparison trains every model (minutes each); its results
are in benchmarks/RESULTS.md. Here: the per-model command line, the missing
models, the table, the plot, the side-by-side grid, and the user mistakes
that end the script.
"""

from absl import flags
from absl.testing import flagsaver
import numpy as np
from PIL import Image
import pytest

from tests import scripts
from tests.tools import user_error


@pytest.fixture(scope="module")
def compare():
  module = scripts.load("benchmarks/compare_gans.py")
  flags.FLAGS(["compare_gans", "--resolution=16", "--kimg=6", "--points=3"])
  yield module
  flags.FLAGS.unparse_flags()


def test_training_flags_share_data_and_budget(compare, tmp_path):
  args = compare.training_flags("progressive", "experiments/progressive.py",
                                tmp_path)
  assert "--config.data.resolution=16" in args
  assert "--config.train.total_kimg=6.0" in args
  assert "--config.train.snapshot_kimg=2.0" in args
  assert "--config.data.conditional=False" in args
  # 4 -> 16: two growths, so stable + 2 x (fade + stable) + 1 slot at 16.
  assert "--config.progressive.stage_kimg=1.0" in args
  assert "--config.progressive.fade_kimg=1.0" in args
  plain = compare.training_flags("stylegan2", "experiments/demo.py", tmp_path)
  assert not any("progressive" in a for a in plain)


def test_missing_models_are_named(compare):
  assert compare.missing_reason("experiments/no_such_gan.py") == (
      "no experiments/no_such_gan.py yet")
  assert compare.missing_reason("experiments/progressive.py") is None
  assert compare.missing_reason("experiments/demo.py") is None


def test_table_plot_and_grid(compare, tmp_path):
  env = {"device": "CPU, 2 cores", "devices": "1", "versions": "jax x",
         "date": "2026-01-01"}
  rows = [{"model": "mlp", "missing": "no experiments/mlp_gan.py yet"},
          {"model": "stylegan2", "arch": "stylegan2", "g_params": 1234,
           "d_params": 56, "kimg": 6.0, "wall_seconds": 300.4,
           "sec_per_kimg": 25.0, "swd": 123.45}]
  lines = compare.table(rows, env)
  assert lines[2].startswith("| mlp | — |") and "missing: no " in lines[2]
  assert lines[3] == ("| stylegan2 | stylegan2 | 1,234 / 56 | 6.00 | 300 | "
                      "25.0 | 123.5 | n/a | n/a |  |")
  assert lines[-1] == "CPU, 2 cores (1 device(s)); jax x; 2026-01-01."

  path = compare.plot_curves({"a": [(0, 10.0), (3, 5.0), (6, 2.0)],
                              "b": [(0, 8.0), (6, 7.0)]},
                             tmp_path / "plot.png", "SWD")
  plot = np.asarray(Image.open(path))
  assert plot.shape == (440, 720, 3)
  colours = scripts.load("benchmarks/curves.py").COLOURS
  assert (plot == colours[0]).all(-1).sum() > 100  # Curve a drawn.
  assert (plot == colours[1]).all(-1).sum() > 50

  grid = np.zeros((32, 48, 3), np.uint8)
  grid[:, :16] = 255
  path = compare.side_by_side({"x": grid, "y": grid[..., :1]},
                              tmp_path / "grids.png", height=64)
  out = np.asarray(Image.open(path))
  assert out.shape == (12 + 20 + 64 + 12, 3 * 12 + 2 * 96, 3)
  # Scaled by 2 with nearest: the white third of x is 32 px wide.
  np.testing.assert_array_equal(out[40, 12:44], 255)
  np.testing.assert_array_equal(out[40, 44:108], 0)


def _user_error(compare, capsys, **flag_values):
  """compare_gans' main with these flags: its one error line (exit 2)."""
  with flagsaver.flagsaver(**flag_values):
    return user_error(compare.main, ["compare_gans"], capsys)


def test_unknown_model_is_one_line_and_exit_2(compare, capsys, tmp_path):
  out = tmp_path / "out"
  assert _user_error(compare, capsys, models=["mlp", "nope"],
                     out=str(out)) == (
                         "error: unknown models ['nope']; known: mlp, dcgan, "
                         "vanilla, progressive, stylegan2")
  assert not out.exists()  # Nothing trained or written.


def test_no_model_trained_is_one_line_and_exit_2(compare, capsys, tmp_path):
  # 17 px suits neither network: each training process refuses its config
  # (exit 2), and the comparison says so instead of writing an empty table.
  out = tmp_path / "out"
  line = _user_error(compare, capsys, models=["dcgan", "stylegan2"],
                     resolution=17, out=str(out))
  assert line.startswith("error: no model to evaluate — dcgan: training "
                         "failed: error: data.resolution=17 is invalid")
  assert "; stylegan2: training failed: error: data.resolution=17" in line
  assert not (out / "results.md").exists()


def test_skip_training_without_a_run_is_one_line_and_exit_2(compare, capsys,
                                                            tmp_path):
  out = tmp_path / "out"
  assert _user_error(compare, capsys, models=["mlp"], skip_training=True,
                     out=str(out)) == (
                         f"error: no model to evaluate — mlp: no finished run "
                         f"in {out / 'work' / 'mlp'} to evaluate (run without "
                         "--skip_training first)")
