"""benchmarks/ada_limited_data.py: its runs differ only in `augment`, and
its plot draws every mode's curves (no training here; the script's own run
is reported in benchmarks/RESULTS.md)."""

import importlib.util
import pathlib

import numpy as np
from PIL import Image

from stylegan_jax import configs

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _script():
  spec = importlib.util.spec_from_file_location(
      "ada_limited_data", ROOT / "benchmarks" / "ada_limited_data.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_runs_differ_only_in_augmentation():
  script = _script()
  args = script.parse_args(["--resolution", "32", "--kimg", "50",
                            "--fixed_p", "0.3"])
  runs = {m: script.experiment_config(args, m) for m in script.MODES}
  for config in runs.values():
    configs.validate(config)
    assert config.data.embedded_num_images == 300
    assert config.train.total_kimg == 50 and config.data.resolution == 32
  strip = lambda c: {k: v for k, v in c.to_dict().items() if k != "augment"}  # pylint: disable=unnecessary-lambda-assignment
  assert strip(runs["noaug"]) == strip(runs["fixed"]) == strip(runs["ada"])
  assert [(runs[m].augment.mode, runs[m].augment.p) for m in script.MODES
          ] == [("noaug", 0.0), ("fixed", 0.3), ("ada", 0.0)]


def test_plot_draws_each_mode(tmp_path):
  script = _script()
  kimg = np.linspace(0.5, 12, 24)
  runs = {mode: {"rt": [[k, np.tanh(k / d)] for k in kimg],
                 "p": [[k, k / 100 * (mode == "ada")] for k in kimg],
                 "swd": [[k, 30 / (1 + k)] for k in kimg[::4]]}
          for mode, d in (("noaug", 4), ("fixed", 8), ("ada", 16))}
  path = tmp_path / "curves.png"
  script.plot_curves(runs, path, "test", target=0.6)
  pixels = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)
  assert Image.open(path).size == (3 * 420, 346)
  for mode, color in script.COLORS.items():
    assert np.sum(np.all(pixels == color, axis=1)) > 200, mode
