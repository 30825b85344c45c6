"""images: the official uint8 rule, grids, atomic writes, reading."""

import numpy as np
from PIL import Image
import pytest

from stylegan_jax import images


def test_to_uint8_is_the_official_truncating_rule():
  x = np.array([-2.0, -1.0, 0.0, 1.0, 3.0, (3 - 128) / 127.5,
                (200.999 - 128) / 127.5], np.float32)
  # (x * 127.5 + 128).clamp(0, 255), then truncated.
  assert images.to_uint8(x).tolist() == [0, 0, 128, 255, 255, 3, 200]


def test_uint8_round_trips_exactly():
  levels = np.arange(256, dtype=np.uint8)
  np.testing.assert_array_equal(images.to_uint8(images.to_float(levels)),
                                levels)


def test_tile_pads_with_black():
  x = np.full((3, 2, 2, 1), 7, np.uint8)
  grid = images.tile(x, 2)
  assert grid.shape == (4, 4, 1)
  assert (grid[:2] == 7).all() and (grid[2:, :2] == 7).all()
  assert (grid[2:, 2:] == 0).all()


def test_atomic_writes_leave_nothing_on_error(tmp_path):
  with pytest.raises(RuntimeError):
    with images.atomic_path(tmp_path / "out.png") as tmp:
      tmp.write_bytes(b"half")
      raise RuntimeError("disk full")
  assert list(tmp_path.iterdir()) == []
  path = images.save_png(np.zeros((4, 4, 1), np.uint8), tmp_path / "g.png")
  assert [p.name for p in tmp_path.iterdir()] == ["g.png"]
  with Image.open(path) as img:
    assert img.mode == "L" and img.size == (4, 4)


def test_gif_and_reading(tmp_path):
  frames = np.stack([np.full((4, 6, 3), i * 40, np.uint8) for i in range(3)])
  with Image.open(images.write_gif(frames, tmp_path / "w.gif")) as gif:
    assert gif.n_frames == 3 and gif.size == (6, 4)
  Image.fromarray(np.zeros((6, 10), np.uint16) + 65535).save(tmp_path / "a.png")
  x = images.read_image(tmp_path / "a.png", 4)
  assert x.shape == (4, 4, 3) and (x == 255).all()  # 16-bit scaled.
  assert images.find_images(tmp_path) == ["a.png", "w.gif"]
