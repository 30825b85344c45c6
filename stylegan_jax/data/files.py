"""Finding and decoding image files with pillow (no TensorFlow).

Shared by the TFDS builders, the metrics CLI and the projector: which files
count as images, conversion of every pillow mode to 8-bit RGB (16-bit and
float scaled, transparency composited on white), and the centre-crop +
Lanczos resize the tools use.
"""

import os
import pathlib

import numpy as np
from PIL import Image
from PIL import ImageOps

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif",
                    ".tiff", ".ppm", ".pgm")


def find_images(root: pathlib.Path) -> list[str]:
  """Image files under `root`, as sorted POSIX paths relative to it."""
  found = []
  for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    for name in filenames:
      if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
        found.append((pathlib.Path(dirpath) / name).relative_to(root))
  return sorted(p.as_posix() for p in found)


def to_rgb(img: Image.Image) -> Image.Image:
  """Converts any PIL image to 8-bit RGB (see the module docstring)."""
  mode = img.mode
  if mode == "RGB":
    return img
  if mode.startswith("I") or mode == "F":
    arr = np.asarray(img)
    if mode == "F":
      scale = 255.0 if arr.size and np.nanmax(arr) <= 1.0 else 1.0
    elif mode.startswith("I;16") or (arr.size and arr.max() > 255):
      scale = 255.0 / 65535.0
    else:
      scale = 1.0
    arr = np.clip(np.rint(np.nan_to_num(arr * scale)), 0, 255)
    return Image.fromarray(arr.astype(np.uint8), "L").convert("RGB")
  has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
      mode == "P" and "transparency" in img.info)
  if has_alpha:
    rgba = img.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")
  return img.convert("RGB")


def center_crop_resize(img: Image.Image, resolution: int) -> Image.Image:
  """Centre crop to a square, then Lanczos resize to `resolution`."""
  w, h = img.size
  side = min(w, h)
  left, top = (w - side) // 2, (h - side) // 2
  img = img.crop((left, top, left + side, top + side))
  if side != resolution:
    img = img.resize((resolution, resolution), Image.Resampling.LANCZOS)
  return img


def load_image(path: str | os.PathLike, resolution: int | None = None,
               channels: int = 3) -> np.ndarray:
  """Reads an image file, optionally centre-cropped and resized.

  EXIF orientation is applied; see `to_rgb` for the mode conversions.

  Args:
    path: the image file.
    resolution: if given, centre-crop to a square and Lanczos-resize to
      resolution x resolution.
    channels: 3 (RGB) or 1 (luminance).

  Returns:
    uint8 [H, W, channels].

  Raises:
    OSError, ValueError, ...: whatever pillow raises for a corrupt file.
  """
  with Image.open(path) as img:
    img.load()  # Decode now, so truncated files raise here.
    img = ImageOps.exif_transpose(img)
    img = to_rgb(img).convert("RGB" if channels == 3 else "L")
    if resolution is not None:
      img = center_crop_resize(img, resolution)
    array = np.asarray(img, np.uint8)
  return array.reshape(array.shape[0], array.shape[1], channels)
