"""The embedded glyph dataset: ten classes of handwritten-style digits.

A small MNIST-like set that ships inside the package, so the 28 x 28
grayscale baselines train and test with no download. Each class is a digit
shape built from strokes (polylines sampled from lines and elliptic arcs,
with a few per-class variants: a `1` with or without its flag and foot, a
crossed `7`, an open or closed `4`). Every image draws, from its own seed:
the shape's proportions, a smooth random warp (wobbly strokes), aspect,
slant, rotation, size, position and stroke width. Strokes are drawn white on
black with pillow's ImageDraw at 4x (2x from 64 px) with round caps and
joins, then box-reduced: light anti-aliasing, like MNIST's grey edges. No
font files are used.

Conventions follow `data.embedded`: image i of `make_dataset(n, seed)` has
label i % 10 (balanced classes) and equals `render(i % 10,
embedded.image_seed(seed, i), resolution)`, so it does not depend on n.
10k images at 28 px take 2-3 s on one unloaded core. NumPy and pillow only (no
TensorFlow).
"""

import numpy as np
from PIL import Image
from PIL import ImageDraw

from stylegan_jax.data.embedded import image_seed

CLASS_NAMES: tuple[str, ...] = ("zero", "one", "two", "three", "four",
                                "five", "six", "seven", "eight", "nine")

MIN_RESOLUTION = 8
MAX_RESOLUTION = 256

# Mixed into every image's seed so these streams differ from other users of
# the same small integer seeds.
_SALT = 0x61F5

Stroke = np.ndarray  # [P, 2] points (x right, y down).


# ------------------------------------------------------------------ strokes --
# Glyphs live in a box about 0.7 wide and 1 high, centred on the origin.


def _arc(rng: np.random.Generator, cx: float, cy: float, rx: float, ry: float,
         a0: float, a1: float) -> Stroke:
  """Points [P, 2] on an elliptic arc from angle a0 to a1, in degrees.

  Angles run clockwise on screen (y points down); the radii are jittered by
  up to 12%.
  """
  rx *= rng.uniform(0.88, 1.12)
  ry *= rng.uniform(0.88, 1.12)
  t = np.radians(np.linspace(a0, a1, max(4, int(abs(a1 - a0) / 15) + 1)))
  return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _line(*points: tuple[float, float]) -> Stroke:
  return np.asarray(points, np.float64)


def _jitter(rng: np.random.Generator, scale: float = 0.06) -> float:
  return rng.uniform(-scale, scale)


def _zero(rng):
  return [_arc(rng, 0, 0, 0.3, 0.5, -90, 270 + rng.uniform(0, 25))]


def _one(rng):
  top, bottom = (_jitter(rng), -0.5), (_jitter(rng), 0.5)
  strokes = [_line(top, bottom)]
  if rng.uniform() < 0.6:  # The flag.
    strokes.append(_line((top[0] - rng.uniform(0.12, 0.22), -0.3), top))
  if rng.uniform() < 0.3:  # The foot.
    strokes.append(_line((bottom[0] - 0.18, 0.5), (bottom[0] + 0.18, 0.5)))
  return strokes


def _two(rng):
  arc = _arc(rng, 0, -0.22, 0.28, 0.28, 190, 385)
  foot = _line((-0.3 + _jitter(rng), 0.5), (0.32 + _jitter(rng), 0.5))
  return [np.concatenate([arc, foot])]


def _three(rng):
  upper = _arc(rng, 0, -0.25, 0.25, 0.25, 200, 450)
  lower = _arc(rng, 0, 0.25, 0.3, 0.25, 270, 510)
  lower[:, 0] += upper[-1, 0] - lower[0, 0]  # Meet in the middle.
  lower[:, 1] += upper[-1, 1] - lower[0, 1]
  return [np.concatenate([upper, lower])]


def _four(rng):
  x = 0.12 + _jitter(rng, 0.05)
  y = 0.15 + _jitter(rng)
  top = (x, -0.5) if rng.uniform() < 0.5 else (x - 0.12, -0.5)  # Closed/open.
  return [_line(top, (-0.32, y), (0.32, y)),
          _line((x, -0.5 + rng.uniform(0, 0.25)), (x, 0.5))]


def _five(rng):
  top = _line((0.28 + _jitter(rng), -0.5), (-0.2, -0.5), (-0.24, -0.05))
  belly = _arc(rng, 0, 0.2, 0.28, 0.3, 220, 500)
  belly += top[-1] - belly[0]
  return [np.concatenate([top, belly])]


def _six(rng):
  loop = _arc(rng, 0, 0.22, 0.27, 0.28, 180, 540)
  stem = _arc(rng, 0.3, 0.22, 0.57, 0.72, 250, 180)
  stem += loop[0] - stem[-1]
  return [np.concatenate([stem, loop])]


def _seven(rng):
  strokes = [_line((-0.3, -0.5 + _jitter(rng)), (0.3, -0.5),
                   (-0.08 + _jitter(rng, 0.12), 0.5))]
  if rng.uniform() < 0.25:  # The crossbar.
    strokes.append(_line((-0.12, 0.02), (0.22, 0.02)))
  return strokes


def _eight(rng):
  return [_arc(rng, 0, -0.26, 0.22, 0.24, 90, 450),
          _arc(rng, 0, 0.24, 0.28, 0.26, -90, 270)]


def _nine(rng):
  loop = _arc(rng, 0, -0.22, 0.27, 0.28, 0, 360)
  stem = _line((loop[0, 0], loop[0, 1]), (0.2 + _jitter(rng, 0.1), 0.5))
  return [np.concatenate([loop, stem])]


_GLYPHS = (_zero, _one, _two, _three, _four, _five, _six, _seven, _eight,
           _nine)
assert len(_GLYPHS) == len(CLASS_NAMES)


# ---------------------------------------------------------------- rendering --


def _check(label: int, resolution: int) -> None:
  if not 0 <= label < len(CLASS_NAMES):
    raise ValueError(f"label must be in [0, {len(CLASS_NAMES)}), got {label}")
  if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
    raise ValueError(
        f"resolution must be in [{MIN_RESOLUTION}, {MAX_RESOLUTION}], got "
        f"{resolution}")


def _place(strokes: list[Stroke], rng: np.random.Generator, resolution: int,
           width: float) -> list[Stroke]:
  """Warps, slants, rotates, sizes and positions strokes in pixel units."""
  # A smooth random warp: each point moves by a sum of two sinusoids.
  amp = rng.uniform(0, 0.045, size=(2, 2))
  freq = rng.uniform(2, 5, size=(2, 2, 2))
  phase = rng.uniform(0, 2 * np.pi, size=(2, 2))
  slant = rng.uniform(-0.15, 0.35)
  angle = np.radians(rng.uniform(-10, 10))
  aspect = rng.uniform(0.8, 1.2)
  rot = np.array([[np.cos(angle), -np.sin(angle)],
                  [np.sin(angle), np.cos(angle)]])
  placed = []
  for p in strokes:
    wave = np.sin(p @ freq.reshape(2, 4) + phase.reshape(4))  # [P, 4]
    p = p + (wave.reshape(-1, 2, 2) * amp).sum(-1)  # [P, 2]
    p = p * [aspect, 1.0]
    p = p + np.outer(-p[:, 1], [slant, 0])  # The top leans right.
    placed.append(p @ rot.T)
  points = np.concatenate(placed)
  lo, hi = points.min(0), points.max(0)
  size = rng.uniform(0.55, 0.75) * resolution
  scale = size / max(hi - lo)
  half = (hi - lo) * scale / 2 + width / 2  # Half the inked extent.
  room = np.maximum(resolution / 2 - half, 0)
  shift = rng.uniform(-1, 1, 2) * np.minimum(0.08 * resolution, room)
  center = resolution / 2 + shift
  return [(p - (lo + hi) / 2) * scale + center for p in placed]


def _draw(strokes: list[Stroke], width: float, resolution: int) -> np.ndarray:
  """Draws strokes (pixel units) supersampled; returns uint8 [R, R]."""
  ss = 4 if resolution < 64 else 2
  img = Image.new("L", (resolution * ss, resolution * ss), 0)
  draw = ImageDraw.Draw(img)
  w = max(1, round(width * ss))
  r = w / 2
  for p in strokes:
    p = p * ss
    draw.line(p.ravel().tolist(), fill=255, width=w)
    for x0, y0, x1, y1 in np.concatenate([p - r, p + r], 1).tolist():
      draw.ellipse((x0, y0, x1, y1), fill=255)  # Round joins and caps.
  return np.asarray(img.reduce(ss))


def render(label: int, seed: int, resolution: int = 28) -> np.ndarray:
  """Renders one glyph.

  Args:
    label: class index into `CLASS_NAMES`.
    seed: non-negative integer; the same (label, seed) gives the same image.
    resolution: height and width in pixels, 8 to 256.

  Returns:
    uint8 [resolution, resolution, 1], white strokes on black.
  """
  _check(label, resolution)
  if seed < 0:
    raise ValueError(f"seed must be non-negative, got {seed}")
  rng = np.random.default_rng([_SALT, label, seed])
  strokes = _GLYPHS[label](rng)
  # Stroke width in output pixels; at least one, so small glyphs stay solid.
  width = max(1.0, rng.uniform(1.5, 3.2) * resolution / 28)
  strokes = _place(strokes, rng, resolution, width)
  return _draw(strokes, width, resolution)[:, :, None]


def make_dataset(num_images: int, seed: int = 0,
                 resolution: int = 28) -> tuple[np.ndarray, np.ndarray]:
  """Builds the glyph dataset in memory.

  Args:
    num_images: number of images N.
    seed: non-negative dataset seed.
    resolution: height and width in pixels, 8 to 256.

  Returns:
    (images uint8 [N, resolution, resolution, 1], labels int32 [N]); image i
    has label i % 10 and equals `render(i % 10, image_seed(seed, i),
    resolution)`.
  """
  _check(0, resolution)
  if num_images < 0 or seed < 0:
    raise ValueError(
        f"num_images and seed must be non-negative, got {num_images}, {seed}")
  labels = np.arange(num_images, dtype=np.int32) % len(CLASS_NAMES)
  images = np.empty((num_images, resolution, resolution, 1), np.uint8)
  for i, label in enumerate(labels):
    images[i] = render(int(label), image_seed(seed, i), resolution)
  return images, labels
