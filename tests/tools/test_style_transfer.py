"""style_transfer CLI: the image, the GIF and the numbers; one-line errors.

Runs on the fixture's ternary VGG19 (random weights: plumbing only) with
the working size and step count of `tests/test_style_transfer.py`, so a
session running both compiles the L-BFGS step once.
"""

import json
import os
import re
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from stylegan_jax import style_transfer
from stylegan_jax.tools import style_transfer as tool
from tests import reference
from tests.test_style_transfer import SIZE
from tests.test_style_transfer import VGG19_FILE
from tests.test_style_transfer import content_and_style
from tests.tools import run_main
from tests.tools import user_error


@pytest.fixture(name="files")
def fixture_files(tmp_path, monkeypatch):
  monkeypatch.setenv("STYLEGAN_JAX_CACHE", str(tmp_path / "cache"))
  content, style = content_and_style()
  Image.fromarray(content).save(tmp_path / "content.png")
  Image.fromarray(style).save(tmp_path / "style.png")
  return tmp_path


def _vgg19():
  return str(reference.require(reference.reference_dir() / VGG19_FILE))


def test_cli_writes_image_gif_and_numbers(files, capsys):
  out = files / "out" / "styled.png"
  run_main(tool.main, [
      "--content", str(files / "content.png"),
      "--style", str(files / "style.png"), "--vgg19", _vgg19(),
      "--out", str(out), "--size", str(SIZE), "--num_steps", "4",
      "--progress_every", "2", "--log_every", "2"])
  printed = capsys.readouterr().out
  with Image.open(out) as img:
    assert img.size == (30, 40) and img.mode == "RGB"  # the content's size
  with Image.open(out.with_suffix(".gif")) as gif:
    assert gif.size == (24, 32)  # the working size
    assert gif.n_frames == 3  # steps 0, 2 and the end
  report = json.loads(out.with_suffix(".json").read_text())
  assert report["working_size"] == [32, 24]
  assert report["output_size"] == [40, 30]
  assert report["recipe"]["content_layers"] == ["conv_4"]
  assert report["recipe"]["style_layers"] == list(style_transfer.STYLE_LAYERS)
  assert report["recipe"]["style_weight"] == 1.0
  assert report["loss_end"] < report["loss_start"]
  scores, start = report["scores"], report["content_scores"]
  assert scores["style_distance"][0] < start["style_distance"][0]
  assert start["content_distance"] == 0.0
  assert start["ssim"] == pytest.approx(1.0, abs=1e-6)
  assert 0.0 < scores["ssim"] < 1.0
  # The printed numbers are the written ones.
  assert f"{scores['style_distance'][0]:.6g} (content image: " in printed
  assert f"to the content image, conv_4): {scores['content_distance']:.6g}" \
      in printed
  assert f"SSIM to the content image: {scores['ssim']:.4f}" in printed
  assert "step     2/4: total" in printed and "step     4/4" in printed


@pytest.mark.slow  # ~5 s: VGG19 forwards at the recipe's 256 px.
def test_cli_recipe_crop_saves_the_centre_square(files):
  # No steps: the result is the recipe's 256x256 crop of the content image,
  # saved back at its centre square of 30x30.
  out = files / "crop.png"
  run_main(tool.main, [
      "--content", str(files / "content.png"),
      "--style", str(files / "style.png"), "--vgg19", _vgg19(),
      "--out", str(out), "--num_steps", "0", "--progress_every", "0"])
  assert not out.with_suffix(".gif").exists()
  report = json.loads(out.with_suffix(".json").read_text())
  assert report["working_size"] == [256, 256]
  assert report["scores"]["content_distance"] == 0.0
  content, _ = content_and_style()
  with Image.open(out) as img:
    saved = np.asarray(img, np.float32)
  assert saved.shape == (30, 30, 3)
  # Up to 256 px and back: the centre square, up to resampling blur (as
  # in tests/test_style_transfer.py: one pixel off gives ~17 of 255).
  error = np.mean(np.abs(saved - content[5:35]))
  assert error < 10.0, error


@pytest.mark.parametrize("args, match", [
    (["--style_layers", "conv_1,conv_17"], "unknown VGG19 style layers"),
    (["--style_blend", "1,2"], "2 style blend weights for 1 style images"),
    (["--style_blend", "1,x"], "bad --style_blend"),
    (["--size", "9"], r"--size must be in \[16, 2048\]"),
    (["--num_steps", "-1"], "--num_steps must be in"),
    (["--progress_every", "1", "--num_steps", "5000"], "GIF frames"),
    (["--out", "styled.jpg"], "is not a .png file"),
    (["--gif", "g.gif", "--progress_every", "0"], "--gif needs GIF frames"),
    (["--style_weight", "nan"], "style weight must be a finite number"),
    (["--optimizer", "sgd"], "invalid choice"),
])
def test_cli_mistakes_are_one_line(files, capsys, args, match):
  # Every mistake is found before the weights are read.
  base = {"--content": str(files / "content.png"),
          "--style": str(files / "style.png"),
          "--vgg19": str(files / "unread.pth"),
          "--out": str(files / "o.png")}
  for flag, value in zip(args[::2], args[1::2]):
    base[flag] = value
  line = user_error(tool.main, [x for kv in base.items() for x in kv],
                    capsys)
  assert re.search(match, line), line


def test_cli_missing_input_image(files, capsys):
  line = user_error(tool.main, [
      "--content", str(files / "absent.png"),
      "--style", str(files / "style.png"), "--vgg19", str(files / "w.pth"),
      "--out", str(files / "o.png")], capsys)
  assert "--content" in line and "absent.png does not exist" in line


def test_missing_weights_name_the_file_and_layout(files):
  # Through `python -m`: the library module's entry point runs the tool.
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  result = subprocess.run(
      [sys.executable, "-m", "stylegan_jax.style_transfer",
       "--content", str(files / "content.png"),
       "--style", str(files / "style.png"),
       "--vgg19", str(files / "vgg19-dcbb9e9d.pth"),
       "--out", str(files / "o.png")],
      capture_output=True, text=True, timeout=120, check=False, env=env)
  assert result.returncode == 2, result.stderr[-2000:]
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: no VGG19 weights"), (
      lines)
  assert "vgg19-dcbb9e9d.pth" in lines[0]
  assert "features.{0..34}.weight/bias" in lines[0]
  assert "never downloads" in lines[0]
  assert not (files / "o.png").exists()
