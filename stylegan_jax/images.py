"""Image helpers, in one place: uint8 <-> float, grids, files in and out.

Arrays are NHWC; floats are in [-1, 1] (the networks' range), uint8 in
[0, 255]. The float -> uint8 rule is the official one,
`(x * 127.5 + 128).clamp(0, 255)` truncated to an integer, and uint8 -> float
is `x / 127.5 - 1` (the two round-trip exactly).

Reading (pillow, no TensorFlow): which files count as images, conversion of
every pillow mode to 8-bit RGB (16-bit and float images scaled, transparency
composited on white, EXIF orientation applied), a centre crop with Lanczos
resize, and shrinking to a shorter side. Writing: PNG, animated GIF and MP4
(through ffmpeg when present); every file is written under a temporary name
and renamed into place, so an interrupted write never leaves a partial file.
"""

from collections.abc import Sequence
import contextlib
import os
import pathlib
import shutil
import subprocess
import tempfile

import numpy as np
from PIL import Image
from PIL import ImageOps

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif",
                    ".tiff", ".ppm", ".pgm")
# What pillow raises for corrupt, truncated or unsupported files.
READ_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)

# -------------------------------------------------------------- conversions --


def to_uint8(images) -> np.ndarray:
  """[..., H, W, C] floats in [-1, 1] -> uint8 in [0, 255] (clipped)."""
  x = np.asarray(images, dtype=np.float32) * 127.5 + 128
  return np.clip(x, 0, 255).astype(np.uint8)  # Truncates, as the official.


def to_float(images) -> np.ndarray:
  """uint8 [..., H, W, C] -> float32 in [-1, 1]."""
  return np.asarray(images).astype(np.float32) / 127.5 - 1.0


def to_channels(images: np.ndarray, channels: int) -> np.ndarray:
  """uint8 [..., 3] or [..., 1] -> [..., channels] (pillow's 'L' weights)."""
  have = images.shape[-1]
  if have == channels:
    return images
  if channels == 3:
    return np.repeat(images, 3, axis=-1)
  luma = images.astype(np.float32) @ np.array([0.299, 0.587, 0.114],
                                               np.float32)  # [..., H, W]
  return np.clip(np.rint(luma), 0, 255).astype(np.uint8)[..., None]


def tile(x: np.ndarray, cols: int) -> np.ndarray:
  """uint8 [N, H, W, C] -> one [rows * H, cols * W, C] grid (black padding)."""
  n, h, w, ch = x.shape
  rows = -(-n // cols)
  pad = rows * cols - n
  if pad:
    x = np.concatenate([x, np.zeros((pad, h, w, ch), x.dtype)])
  x = x.reshape(rows, cols, h, w, ch).transpose(0, 2, 1, 3, 4)
  return x.reshape(rows * h, cols * w, ch)


def make_grid(images, cols: int) -> np.ndarray:
  """Tiles [N, H, W, C] images in [-1, 1] into one uint8 grid."""
  return tile(to_uint8(images), cols)


def grid_cols(n: int) -> int:
  """A near-square column count for n images."""
  return max(1, int(np.ceil(np.sqrt(n))))


# ------------------------------------------------------------------ writing --


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
  """Yields a temporary path beside `path`; renamed onto it on success.

  On any error the temporary file is removed and `path` is untouched.
  """
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial",
                             dir=path.parent)
  os.close(fd)
  try:
    yield pathlib.Path(tmp)
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.unlink(tmp)
    raise


def _pil(array: np.ndarray) -> Image.Image:
  array = np.asarray(array)
  if array.dtype != np.uint8:
    raise ValueError(f"expected uint8 pixels, got {array.dtype}")
  return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


def save_png(array: np.ndarray, path) -> pathlib.Path:
  """Writes a [H, W, C] uint8 array (C = 1 or 3) as a PNG."""
  path = pathlib.Path(path)
  with atomic_path(path) as tmp:
    _pil(array).save(tmp, format="PNG")
  return path


def write_gif(frames: np.ndarray, path, fps: float = 24) -> pathlib.Path:
  """uint8 [T, H, W, C] -> an endlessly looping animated GIF."""
  path = pathlib.Path(path)
  first, *rest = [_pil(f) for f in frames]
  with atomic_path(path) as tmp:
    first.save(tmp, format="GIF", save_all=True, append_images=rest,
               duration=max(20, round(1000 / fps)), loop=0)
  return path


def write_mp4(frames: np.ndarray, path, fps: int = 24) -> pathlib.Path | None:
  """uint8 [T, H, W, C] -> H.264 MP4 via ffmpeg; None if ffmpeg is absent."""
  ffmpeg = shutil.which("ffmpeg")
  if ffmpeg is None:
    return None
  path = pathlib.Path(path)
  frames = to_channels(np.asarray(frames), 3)
  t, h, w, _ = frames.shape
  # yuv420p (what players expect) needs even sizes; pad by edge pixels.
  frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), "edge")
  with atomic_path(path) as tmp:
    cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", f"{w + w % 2}x{h + h % 2}",
           "-r", str(fps), "-i", "-", "-c:v", "libx264", "-pix_fmt",
           "yuv420p", "-f", "mp4", str(tmp)]
    result = subprocess.run(cmd, input=np.ascontiguousarray(frames).tobytes(),
                            capture_output=True, check=False)
    if result.returncode:
      raise RuntimeError(f"ffmpeg failed ({t} frames to {path}): "
                         f"{result.stderr.decode(errors='replace')[-1000:]}")
  return path


# ------------------------------------------------------------------ reading --


def find_images(root: str | os.PathLike) -> list[str]:
  """Image files under `root`, as sorted POSIX paths relative to it.

  Hidden files and folders are skipped.
  """
  root = pathlib.Path(root)
  found = []
  for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    for name in filenames:
      if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
        found.append((pathlib.Path(dirpath) / name).relative_to(root))
  return sorted(p.as_posix() for p in found)


def to_rgb(img: Image.Image) -> Image.Image:
  """Converts any pillow image to 8-bit RGB (see the module docstring)."""
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


def read_image(path: str | os.PathLike, resolution: int | None = None, *,
               shorter_side: int = 0, channels: int = 3) -> np.ndarray:
  """Reads an image file as uint8, optionally resized.

  Args:
    path: the image file.
    resolution: if given, centre-crop to a square and Lanczos-resize to
      resolution x resolution.
    shorter_side: if > 0 (and no `resolution`), shrink (never enlarge) so the
      shorter side is this, keeping the aspect ratio; JPEGs are decoded at a
      reduced scale when that stays at least this large.
    channels: 3 (RGB) or 1 (luminance).

  Returns:
    uint8 [H, W, channels].

  Raises:
    One of READ_ERRORS for unreadable, corrupt or truncated files.
  """
  with Image.open(path) as img:
    if shorter_side > 0 and img.format == "JPEG":
      img.draft("RGB", (shorter_side, shorter_side))
    img.load()  # Decode now, so truncated files raise here.
    img = to_rgb(ImageOps.exif_transpose(img))
    if resolution is not None:
      img = center_crop_resize(img, resolution)
    elif shorter_side > 0 and min(img.size) > shorter_side:
      w, h = img.size
      scale = shorter_side / min(w, h)
      size = (max(shorter_side, round(w * scale)),
              max(shorter_side, round(h * scale)))
      img = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if channels == 1:
      img = img.convert("L")
    array = np.asarray(img, np.uint8).copy()
  return array.reshape(array.shape[0], array.shape[1], channels)


def read_many(paths: Sequence[str | os.PathLike], resolution: int | None,
              channels: int = 3) -> list[np.ndarray | None]:
  """Reads files on a thread pool (pillow releases the GIL); None if corrupt."""
  import concurrent.futures  # pylint: disable=g-import-not-at-top

  def one(path):
    try:
      return read_image(path, resolution, channels=channels)
    except READ_ERRORS:
      return None

  workers = min(16, os.cpu_count() or 1, max(1, len(paths)))
  with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    return list(pool.map(one, paths))
