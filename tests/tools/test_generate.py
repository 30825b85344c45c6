"""generate: files, seed determinism, batch independence, labels, errors."""

from absl import app
import numpy as np
from PIL import Image
import pytest

from stylegan_jax import cli_utils
from stylegan_jax import generate
from tests.tools import run_main


def test_parse_range():
  assert cli_utils.parse_range("0-3,42") == [0, 1, 2, 3, 42]
  assert cli_utils.parse_range(" 7 , 2-2") == [7, 2]
  for bad, match in [("", "empty"), ("3-1", "start > end"),
                     ("a", "expected an integer"), ("1,,2", "expected"),
                     ("-1", "expected"), (str(2**32), "outside")]:
    with pytest.raises(ValueError, match=match):
      cli_utils.parse_range(bad)


def test_z_from_seeds_matches_official_rule():
  z = cli_utils.z_from_seeds([3, 9], 8)
  assert z.dtype == np.float32 and z.shape == (2, 8)
  np.testing.assert_array_equal(
      z[1], np.random.RandomState(9).randn(8).astype(np.float32))


def test_cli_writes_one_png_per_seed_and_grid(uncond, uncond_path, tmp_path):
  out1, out3 = tmp_path / "b1", tmp_path / "b3"
  for out, batch in [(out1, "1"), (out3, "3")]:
    run_main(generate.main, ["--model", str(uncond_path), "--seeds", "0-2,42",
                             "--batch_size", batch, "--outdir", str(out),
                             "--grid"])
  names = ["seed0000.png", "seed0001.png", "seed0002.png", "seed0042.png"]
  assert sorted(p.name for p in out3.iterdir()) == sorted(names + ["grid.png"])
  expected = generate.generate_images(uncond, [0, 1, 2, 42])
  for i, name in enumerate(names):
    # Batch size changes nothing, down to the PNG bytes.
    assert (out1 / name).read_bytes() == (out3 / name).read_bytes()
    np.testing.assert_array_equal(np.asarray(Image.open(out3 / name)),
                                  expected[i])
  grid = np.asarray(Image.open(out3 / "grid.png"))
  assert grid.shape == (16, 16, 3)  # 4 images, 2 columns.
  np.testing.assert_array_equal(grid[8:, :8], expected[2])


@pytest.mark.parametrize("noise_mode", ["const", "random"])
def test_image_for_a_seed_ignores_batch_and_position(uncond, noise_mode):
  seeds = [5, 1, 2, 3, 4]
  a = generate.generate_images(uncond, seeds, batch_size=1,
                               noise_mode=noise_mode)
  b = generate.generate_images(uncond, seeds, batch_size=3,
                               noise_mode=noise_mode)
  alone = generate.generate_images(uncond, [5], noise_mode=noise_mode)
  assert a.shape == (5, 8, 8, 3) and a.dtype == np.uint8
  np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(a[0], alone[0])
  assert len({x.tobytes() for x in a}) == 5  # Seeds differ.


def test_noise_modes_differ_and_random_is_seeded(uncond):
  const = generate.generate_images(uncond, [0, 1], noise_mode="const")
  rand = generate.generate_images(uncond, [0, 1], noise_mode="random")
  assert not np.array_equal(const, rand)
  np.testing.assert_array_equal(
      rand, generate.generate_images(uncond, [0, 1], noise_mode="random"))


def test_truncation_psi_zero_gives_one_image(uncond):
  imgs = generate.generate_images(uncond, [0, 1, 2], truncation_psi=0.0)
  assert (imgs == imgs[0]).all()
  cut = generate.generate_images(uncond, [0, 1, 2], truncation_psi=0.0,
                                 truncation_cutoff=2)
  assert not (cut == cut[0]).all()  # Only the first 2 of 4 ws truncated.


def test_conditional_model_needs_a_class(cond):
  with pytest.raises(ValueError, match="circles"):
    generate.generate_images(cond, [0])
  by_name = generate.generate_images(cond, [0, 1], class_label="stripes")
  by_index = generate.generate_images(cond, [0, 1], class_label="1")
  other = generate.generate_images(cond, [0, 1], class_label=0)
  np.testing.assert_array_equal(by_name, by_index)
  assert not np.array_equal(by_name, other)
  with pytest.raises(ValueError, match="unknown class"):
    generate.generate_images(cond, [0], class_label="dots")


@pytest.mark.parametrize("args, match", [
    (["--seeds", "5-2"], "start > end"),
    (["--seeds", "0", "--class", "1"], "unconditional"),
    (["--seeds", "x"], "expected an integer"),
    (["--seeds", "0", "--truncation_cutoff", "9"], "truncation_cutoff"),
])
def test_cli_errors(uncond_path, tmp_path, args, match):
  with pytest.raises(app.UsageError, match=match):
    run_main(generate.main, ["--model", str(uncond_path),
                             "--outdir", str(tmp_path), *args])
  assert not list(tmp_path.glob("*.png"))


def test_cli_missing_model(tmp_path):
  with pytest.raises(app.UsageError, match="no model at"):
    run_main(generate.main, ["--model", str(tmp_path / "nope.npz"),
                             "--seeds", "0", "--outdir", str(tmp_path)])
