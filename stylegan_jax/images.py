"""Image grids and PNG writing (pillow); images are NHWC floats in [-1, 1]."""

import pathlib

import numpy as np
from PIL import Image


def to_uint8(images) -> np.ndarray:
  """[..., H, W, C] floats in [-1, 1] -> uint8 in [0, 255] (clipped)."""
  x = np.asarray(images, dtype=np.float32) * 127.5 + 128
  return np.clip(np.rint(x - 0.5), 0, 255).astype(np.uint8)


def make_grid(images, cols: int) -> np.ndarray:
  """Tiles [N, H, W, C] images in [-1, 1] into one uint8 grid."""
  return tile(to_uint8(images), cols)


def tile(x: np.ndarray, cols: int) -> np.ndarray:
  """uint8 [N, H, W, C] -> one [rows * H, cols * W, C] grid (black padding)."""
  n, h, w, ch = x.shape
  rows = -(-n // cols)
  pad = rows * cols - n
  if pad:
    x = np.concatenate([x, np.zeros((pad, h, w, ch), np.uint8)])
  x = x.reshape(rows, cols, h, w, ch).transpose(0, 2, 1, 3, 4)
  return x.reshape(rows * h, cols * w, ch)


def save_png(array: np.ndarray, path) -> pathlib.Path:
  """Writes a [H, W, C] uint8 array (C = 1 or 3) as a PNG."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  if array.shape[-1] == 1:
    array = array[..., 0]
  Image.fromarray(array).save(path)
  return path
