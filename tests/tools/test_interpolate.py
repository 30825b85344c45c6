"""interpolate: lerp/slerp, frame counts and endpoints, the GIF, errors."""

import os

import re

import numpy as np
from PIL import Image
import pytest

from stylegan_jax import images
from stylegan_jax import interpolate
from stylegan_jax import sampling
from tests.tools import run_main
from tests.tools import user_error


def _angle(a, b):
  cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
  return np.arccos(np.clip(cos, -1, 1))


def test_lerp_endpoints_are_exact():
  rng = np.random.RandomState(0)
  a, b = rng.randn(4, 8).astype(np.float32), rng.randn(4, 8).astype(np.float32)
  np.testing.assert_array_equal(sampling.lerp(a, b, 0.0), a)
  np.testing.assert_array_equal(sampling.lerp(a, b, 1.0), b)
  np.testing.assert_allclose(sampling.lerp(a, b, 0.5), (a + b) / 2,
                             rtol=1e-6)


def test_slerp_endpoints_norm_and_midpoint_angle():
  rng = np.random.RandomState(1)
  a, b = rng.randn(16), rng.randn(16)
  np.testing.assert_array_equal(sampling.slerp(a, b, 0.0), a)
  np.testing.assert_array_equal(sampling.slerp(a, b, 1.0), b)
  a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
  ts = np.linspace(0, 1, 11)
  path = sampling.slerp(a, b, ts)  # Vectorised over t: [11, 16].
  assert path.shape == (11, 16)
  np.testing.assert_allclose(np.linalg.norm(path, axis=-1), 1, atol=1e-12)
  theta = _angle(a, b)
  mid = sampling.slerp(a, b, 0.5)
  np.testing.assert_allclose(_angle(a, mid), theta / 2, atol=1e-12)
  np.testing.assert_allclose(_angle(mid, b), theta / 2, atol=1e-12)
  # The angle from a grows linearly in t.
  np.testing.assert_allclose([_angle(a, p) for p in path], ts * theta,
                             atol=1e-7)
  # Parallel inputs fall back to lerp; dtype is kept.
  a32 = a.astype(np.float32)
  out = sampling.slerp(a32, 2 * a32, 0.5)
  assert out.dtype == np.float32
  np.testing.assert_allclose(out, 1.5 * a32, rtol=1e-6)


def test_walk_schedule_counts():
  assert len(sampling.walk_schedule(3, 4, loop=False)) == 9
  assert len(sampling.walk_schedule(3, 4, loop=True)) == 12
  assert sampling.walk_schedule(2, 2, loop=True)[-1] == (1, 0, 0.5)
  with pytest.raises(ValueError, match="at least 2 seeds"):
    sampling.walk_schedule(1, 4, loop=False)


def test_cli_writes_frames_and_gif(uncond, uncond_path, tmp_path, capsys):
  run_main(interpolate.main, ["--model", str(uncond_path), "--seeds", "0,5,9",
                              "--frames_per_seed", "3", "--batch_size", "4",
                              "--outdir", str(tmp_path)])
  frames = sorted(tmp_path.glob("frame*.png"))
  assert [p.name for p in frames] == [f"frame{i:05d}.png" for i in range(7)]
  seeds = sampling.generate_images(uncond, [0, 5, 9])
  for i, frame in [(0, 0), (1, 3), (2, 6)]:  # Keyframes are seed images.
    np.testing.assert_array_equal(np.asarray(Image.open(frames[frame])),
                                  seeds[i])
  with Image.open(tmp_path / "walk.gif") as gif:
    assert gif.n_frames == 7 and gif.size == (8, 8)
  printed = capsys.readouterr().out
  assert "walk.gif" in printed and "walk.mp4" in printed  # Written or skipped.


def test_z_space_loop(cond):
  frames = sampling.interpolation_frames(
      cond, [3, 4], space="z", frames_per_seed=4, loop=True, class_label=2,
      truncation_psi=0.8, batch_size=4)
  assert frames.shape == (8, 8, 8, 3)
  seeds = sampling.generate_images(cond, [3, 4], class_label=2,
                                   truncation_psi=0.8, batch_size=4)
  np.testing.assert_array_equal(frames[0], seeds[0])
  np.testing.assert_array_equal(frames[4], seeds[1])
  assert len({f.tobytes() for f in frames[:5]}) == 5
  # With two seeds the loop walks the same great circle back.
  for j in (1, 2, 3):
    assert np.abs(frames[8 - j].astype(int) - frames[j]).max() <= 1


@pytest.mark.parametrize("args, match", [
    (["--seeds", "3"], "at least 2 seeds"),
    (["--seeds", "1,2", "--frames_per_seed", "0"], "frames_per_seed"),
    (["--seeds", "1,2", "--class", "x"], "unconditional"),
])
def test_cli_errors(uncond_path, tmp_path, args, match, capsys):
  line = user_error(interpolate.main, ["--model", str(uncond_path),
                                       "--outdir", str(tmp_path), *args],
                    capsys)
  assert re.search(match, line), line
  assert not list(tmp_path.iterdir())


def test_write_mp4_pipes_raw_frames_to_ffmpeg(tmp_path, monkeypatch):
  # A stand-in ffmpeg that stores its stdin: checks the piping, not x264.
  fake = tmp_path / "bin" / "ffmpeg"
  fake.parent.mkdir()
  fake.write_text('#!/bin/sh\nfor last; do :; done\ncat > "$last"\n')
  fake.chmod(0o755)
  monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
  frames = np.arange(3 * 5 * 7 * 3, dtype=np.uint8).reshape(3, 5, 7, 3)
  path = images.write_mp4(frames, tmp_path / "walk.mp4", fps=12)
  padded = np.pad(frames, ((0, 0), (0, 1), (0, 1), (0, 0)), "edge")
  assert path.read_bytes() == padded.tobytes()  # Even sizes for yuv420p.
  monkeypatch.setattr(images.shutil, "which", lambda name: None)
  assert images.write_mp4(frames, tmp_path / "none.mp4") is None
