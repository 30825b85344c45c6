"""generate: files, seed determinism, batch independence, labels, errors."""

import re
import time

import numpy as np
from PIL import Image
import pytest

from stylegan_jax import generate
from stylegan_jax import sampling
from stylegan_jax.tools import common
from tests.tools import run_main
from tests.tools import user_error


def test_parse_range():
  assert common.parse_range("0-3,42") == [0, 1, 2, 3, 42]
  assert common.parse_range(" 7 , 2-2") == [7, 2]
  for bad, match in [("", "empty"), ("3-1", "start is after the end"),
                     ("a", "expected an integer"), ("1,,2", "expected"),
                     ("-1", "expected"), (str(2**32), "outside")]:
    with pytest.raises(ValueError, match=match):
      common.parse_range(bad)


def test_z_from_seeds_matches_official_rule():
  z = sampling.z_from_seeds([3, 9], 8)
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
  expected = sampling.generate_images(uncond, [0, 1, 2, 42])
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
  a = sampling.generate_images(uncond, seeds, batch_size=1,
                               noise_mode=noise_mode)
  b = sampling.generate_images(uncond, seeds, batch_size=3,
                               noise_mode=noise_mode)
  alone = sampling.generate_images(uncond, [5], noise_mode=noise_mode)
  assert a.shape == (5, 8, 8, 3) and a.dtype == np.uint8
  np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(a[0], alone[0])
  assert len({x.tobytes() for x in a}) == 5  # Seeds differ.


def test_noise_modes_differ_and_random_is_seeded(uncond):
  const = sampling.generate_images(uncond, [0, 1], noise_mode="const")
  rand = sampling.generate_images(uncond, [0, 1], noise_mode="random")
  assert not np.array_equal(const, rand)
  np.testing.assert_array_equal(
      rand, sampling.generate_images(uncond, [0, 1], noise_mode="random"))


def test_truncation_psi_zero_gives_one_image(uncond):
  imgs = sampling.generate_images(uncond, [0, 1, 2], truncation_psi=0.0)
  assert (imgs == imgs[0]).all()
  cut = sampling.generate_images(uncond, [0, 1, 2], truncation_psi=0.0,
                                 truncation_cutoff=2)
  assert not (cut == cut[0]).all()  # Only the first 2 of 4 ws truncated.


def test_conditional_model_needs_a_class(cond):
  with pytest.raises(ValueError, match="circles"):
    sampling.generate_images(cond, [0])
  by_name = sampling.generate_images(cond, [0, 1], class_label="stripes")
  by_index = sampling.generate_images(cond, [0, 1], class_label="1")
  other = sampling.generate_images(cond, [0, 1], class_label=0)
  np.testing.assert_array_equal(by_name, by_index)
  assert not np.array_equal(by_name, other)
  with pytest.raises(ValueError, match="unknown class"):
    sampling.generate_images(cond, [0], class_label="dots")


@pytest.mark.parametrize("args, match", [
    (["--seeds", "5-2"], "start is after the end"),
    (["--seeds", "0", "--class", "1"], "unconditional"),
    (["--seeds", "x"], "expected an integer"),
    (["--seeds", "0", "--truncation_cutoff", "9"], "truncation_cutoff"),
])
def test_cli_errors(uncond_path, tmp_path, args, match, capsys):
  line = user_error(generate.main, ["--model", str(uncond_path),
                                    "--outdir", str(tmp_path), *args], capsys)
  assert re.search(match, line), line
  assert not list(tmp_path.glob("*.png"))


def test_cli_missing_model(tmp_path, capsys):
  line = user_error(generate.main, ["--model", str(tmp_path / "nope.npz"),
                                    "--seeds", "0", "--outdir",
                                    str(tmp_path)], capsys)
  assert "no model at" in line


@pytest.mark.parametrize("args, match", [
    (["--seeds", "0-10000000"], "more than 100,000 values"),
    (["--seeds", "0", "--truncation_psi", "nan"], "finite number"),
    (["--seeds", "0", "--batch_size", "0"], "--batch_size must be"),
    (["--seeds", "0-2000", "--grid"], "--grid takes at most"),
])
def test_cli_checks_arguments_before_any_work(tmp_path, args, match, capsys):
  start = time.monotonic()
  line = user_error(generate.main, ["--model", str(tmp_path / "absent.npz"),
                                    "--outdir", str(tmp_path / "o"), *args],
                    capsys)
  assert match in line and time.monotonic() - start < 2
  assert not (tmp_path / "o").exists()


def test_cli_outdir_that_is_a_file(uncond_path, tmp_path, capsys):
  (tmp_path / "f").write_text("x")
  line = user_error(generate.main, ["--model", str(uncond_path), "--seeds",
                                    "0", "--outdir", str(tmp_path / "f")],
                    capsys)
  assert "--outdir" in line and "is a file" in line
