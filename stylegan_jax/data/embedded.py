"""The embedded art dataset: procedural geometric abstraction, no files.

This module owns a small labelled dataset that ships inside the package, so a
training run, a test or a demo needs no download. Each image is one of a few
styles of geometric abstraction, drawn from a seed at any resolution:

  0 `mondrian`     a grid of black lines on off-white, some cells filled with
                   red, blue or yellow;
  1 `circles`      concentric rings of saturated colour, plus a fan of arcs
                   coming in from the edge, on a plain ground;
  2 `stripes`      parallel bands in 2-4 colours at any angle;
  3 `color_field`  two or three soft-edged rectangles stacked on a coloured
                   ground, as in Rothko's colour-field paintings;
  4 `dots`         a regular grid of coloured spots on white (spot paintings).

The styles differ in colour statistics and edge structure even at 16-32 px, so
a small GAN visibly learns them and a class-conditional one can be checked by
eye. Images are painted in float32 on a 2x (4x below 32 px) supersampled grid
and box-downsampled, which is cheap, light anti-aliasing. Everything is
vectorised over a batch of images of one style: 2000 images at 32 px take
about a second on two cores.

Uses NumPy only (no TensorFlow), so the data can also be built without it.
"""

from collections.abc import Callable, Sequence

import numpy as np

STYLE_NAMES: tuple[str, ...] = (
    "mondrian",
    "circles",
    "stripes",
    "color_field",
    "dots",
)

MIN_RESOLUTION = 8
MAX_RESOLUTION = 1024

# Mixed into every image's seed so these streams differ from other users of
# the same small integer seeds.
_SALT = 0x5A17

# Painted pixels per chunk in `make_dataset` (bounds peak memory to ~100 MB).
_CHUNK_PIXELS = 1 << 21

Params = dict[str, np.ndarray]


# ------------------------------------------------------------------ colours --


def _hsv(h, s, v) -> np.ndarray:
  """HSV in [0, 1] (broadcastable arrays) to RGB float32 [..., 3]."""
  h, s, v = np.broadcast_arrays(
      np.asarray(h, np.float64), np.asarray(s, np.float64),
      np.asarray(v, np.float64))
  i = np.floor(h * 6.0) % 6
  f = h * 6.0 - np.floor(h * 6.0)
  p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
  r = np.choose(i.astype(int), [v, q, p, p, t, v])
  g = np.choose(i.astype(int), [t, v, v, q, p, p])
  b = np.choose(i.astype(int), [p, p, t, v, v, q])
  return np.stack([r, g, b], axis=-1).astype(np.float32)


def _vivid(rng: np.random.Generator, n: int) -> np.ndarray:
  """`n` saturated colours with well-spread hues, [n, 3]."""
  hues = (rng.uniform() + np.arange(n) / n + rng.uniform(-0.08, 0.08, n)) % 1
  hues = rng.permutation(hues)
  return _hsv(hues, rng.uniform(0.65, 1.0, n), rng.uniform(0.6, 1.0, n))


_WHITE = np.array([0.94, 0.92, 0.86], np.float32)
_BLACK = np.array([0.08, 0.08, 0.09], np.float32)
_PRIMARIES = np.array(
    [[0.86, 0.12, 0.10], [0.10, 0.22, 0.62], [0.98, 0.82, 0.10]], np.float32)


# ------------------------------------------------------------------- styles --
# Each style has a sampler, rng -> Params for one image (fixed-size arrays so a
# batch stacks), and a painter, (batched Params, u [S, S], v [S, S]) ->
# float32 [N, S, S, 3] in [0, 1]. u runs left to right, v top to bottom.


def _sample_mondrian(rng: np.random.Generator) -> Params:
  xs = np.full(3, 9.0)  # Unused lines sit off the canvas.
  ys = np.full(3, 9.0)
  nx, ny = rng.integers(1, 4, size=2)
  xs[:nx] = np.sort(rng.uniform(0.12, 0.88, nx))
  ys[:ny] = np.sort(rng.uniform(0.12, 0.88, ny))
  # Cells are indexed [row, col] by how many lines lie before them.
  choice = rng.choice(5, size=(4, 4), p=[0.62, 0.12, 0.11, 0.11, 0.04])
  choice[rng.integers(0, ny + 1), rng.integers(0, nx + 1)] = rng.integers(1, 4)
  palette = np.concatenate([_WHITE[None], _PRIMARIES, _BLACK[None]])
  return {
      "xs": xs.astype(np.float32),
      "ys": ys.astype(np.float32),
      "width": np.float32(rng.uniform(0.035, 0.06)),
      "cells": palette[choice],  # [4, 4, 3]
  }


def _paint_mondrian(p: Params, u: np.ndarray, v: np.ndarray) -> np.ndarray:
  # Separable: column features depend on u only, row features on v only.
  u, v = u[0][None, :, None], v[:, 0][None, :, None]  # [1, S, 1]
  xs, ys = p["xs"][:, None, :], p["ys"][:, None, :]  # [N, 1, 3]
  col = np.sum(u > xs, axis=-1)  # [N, S]
  row = np.sum(v > ys, axis=-1)
  half = p["width"][:, None] / 2
  on_x = np.min(np.abs(u - xs), axis=-1) < half  # [N, S]
  on_y = np.min(np.abs(v - ys), axis=-1) < half
  n = np.arange(len(col))[:, None, None]
  img = p["cells"][n, row[:, :, None], col[:, None, :]]  # [N, S, S, 3]
  line = on_y[:, :, None] | on_x[:, None, :]  # [N, S, S]
  return np.where(line[..., None], _BLACK, img)


def _sample_circles(rng: np.random.Generator) -> Params:
  ground = _hsv(rng.uniform(), rng.uniform(0.1, 0.5), rng.uniform(0.15, 0.9))
  arc_center = rng.integers(0, 2, size=2) + rng.uniform(-0.1, 0.1, 2)
  # Open the fan of arcs towards the middle of the canvas.
  span = rng.uniform(0.35, 0.6) * np.pi
  toward = np.arctan2(0.5 - arc_center[1], 0.5 - arc_center[0])
  return {
      "ground": ground,
      "center": rng.uniform(0.3, 0.7, 2).astype(np.float32),
      "ring": np.float32(rng.uniform(0.06, 0.1)),
      "rings": np.int32(rng.integers(3, 6)),
      "colors": _vivid(rng, 6),  # [6, 3]
      "arc_center": arc_center.astype(np.float32),
      "arc_ring": np.float32(rng.uniform(0.06, 0.1)),
      "arc_rings": np.int32(rng.integers(5, 10)),
      "arc_from": np.float32(toward - span / 2 + rng.uniform(-0.2, 0.2)),
      "arc_span": np.float32(span),
      "arc_colors": _vivid(rng, 10),  # [10, 3]
  }


def _paint_circles(p: Params, u: np.ndarray, v: np.ndarray) -> np.ndarray:
  n = np.arange(len(p["ring"]))[:, None, None]
  shape = (len(n),) + u.shape + (3,)
  img = np.broadcast_to(p["ground"][:, None, None, :], shape)
  # Arcs: every other ring of a concentric family, cut to an angular sector.
  ax = u[None] - p["arc_center"][:, 0, None, None]  # [N, S, S]
  ay = v[None] - p["arc_center"][:, 1, None, None]
  k = np.floor(np.hypot(ax, ay) / p["arc_ring"][:, None, None]).astype(int)
  angle = (np.arctan2(ay, ax) - p["arc_from"][:, None, None]) % (2 * np.pi)
  on = ((k % 2 == 1) & (k < p["arc_rings"][:, None, None])
        & (angle < p["arc_span"][:, None, None]))
  arc = p["arc_colors"][n, np.minimum(k, 9)]
  img = np.where(on[..., None], arc, img)
  # Full concentric rings on top.
  cx = u[None] - p["center"][:, 0, None, None]
  cy = v[None] - p["center"][:, 1, None, None]
  k = np.floor(np.hypot(cx, cy) / p["ring"][:, None, None]).astype(int)
  on = k < p["rings"][:, None, None]
  ring = p["colors"][n, np.minimum(k, 5)]
  return np.where(on[..., None], ring, img)


def _sample_stripes(rng: np.random.Generator) -> Params:
  num = rng.integers(2, 5)
  colors = _vivid(rng, 4)
  if rng.uniform() < 0.4:  # Sometimes one band is near-white or near-black.
    colors[rng.integers(0, num)] = _WHITE if rng.uniform() < 0.5 else _BLACK
  return {
      "angle": np.float32(rng.uniform(0, np.pi)),
      "width": np.float32(rng.uniform(0.07, 0.16)),
      "phase": np.float32(rng.uniform(0, 1)),
      "num": np.int32(num),
      "colors": colors,  # [4, 3]
  }


def _paint_stripes(p: Params, u: np.ndarray, v: np.ndarray) -> np.ndarray:
  c = np.cos(p["angle"])[:, None, None]
  s = np.sin(p["angle"])[:, None, None]
  t = (u[None] - 0.5) * c + (v[None] - 0.5) * s  # [N, S, S]
  band = np.floor(t / p["width"][:, None, None] + p["phase"][:, None, None])
  band = band.astype(int) % p["num"][:, None, None]
  n = np.arange(len(band))[:, None, None]
  return p["colors"][n, band]


def _sample_color_field(rng: np.random.Generator) -> Params:
  hue = rng.uniform()
  ground = _hsv(hue, rng.uniform(0.5, 0.9), rng.uniform(0.25, 0.7))
  num = rng.integers(2, 4)
  margin_x = rng.uniform(0.07, 0.13)
  margin_y, gap = rng.uniform(0.06, 0.1), rng.uniform(0.03, 0.06)
  heights = rng.dirichlet(np.full(num, 3.0)) * (1 - 2 * margin_y - gap * (
      num - 1))
  tops = margin_y + np.concatenate([[0], np.cumsum(heights + gap)[:-1]])
  y0 = np.full(3, 5.0)  # Unused blocks sit off the canvas.
  y1 = np.full(3, 5.0)
  y0[:num], y1[:num] = tops, tops + heights
  hues = (hue + rng.choice([-1, 1]) * rng.uniform(0.02, 0.15, 3)
          + (rng.uniform(size=3) < 0.25) * 0.5) % 1
  colors = _hsv(hues, rng.uniform(0.45, 0.95, 3), rng.uniform(0.35, 0.95, 3))
  return {
      "ground": ground,
      "x0": np.float32(margin_x),
      "x1": np.float32(1 - margin_x - rng.uniform(-0.02, 0.02)),
      "y0": y0.astype(np.float32),
      "y1": y1.astype(np.float32),
      "soft": np.float32(rng.uniform(0.012, 0.03)),
      "colors": colors,  # [3, 3]
      "wave": rng.uniform(0, 2 * np.pi, 4).astype(np.float32),
  }


def _sigmoid(x: np.ndarray) -> np.ndarray:
  return 0.5 + 0.5 * np.tanh(0.5 * x)


def _paint_color_field(p: Params, u: np.ndarray, v: np.ndarray) -> np.ndarray:
  soft = p["soft"][:, None, None]
  # Brushy edges: the block outlines wobble a little.
  wave = p["wave"][:, :, None, None]  # [N, 4, 1, 1]
  wobble_u = 0.008 * (np.sin(23 * v[None] + wave[:, 0])
                      + np.sin(37 * v[None] + wave[:, 1]))
  wobble_v = 0.008 * (np.sin(19 * u[None] + wave[:, 2])
                      + np.sin(41 * u[None] + wave[:, 3]))
  uu, vv = u[None] + wobble_u, v[None] + wobble_v  # [N, S, S]
  in_x = (_sigmoid((uu - p["x0"][:, None, None]) / soft)
          * _sigmoid((p["x1"][:, None, None] - uu) / soft))
  img = np.broadcast_to(p["ground"][:, None, None, :], uu.shape + (3,))
  for b in range(3):
    alpha = in_x * (_sigmoid((vv - p["y0"][:, b, None, None]) / soft)
                    * _sigmoid((p["y1"][:, b, None, None] - vv) / soft))
    alpha = 0.92 * alpha[..., None]  # Thin paint: the ground shows through.
    img = img * (1 - alpha) + p["colors"][:, b, None, None, :] * alpha
  return img


def _sample_dots(rng: np.random.Generator) -> Params:
  return {
      "grid": np.int32(rng.integers(3, 7)),
      "radius": np.float32(rng.uniform(0.26, 0.4)),
      "colors": _vivid(rng, 36).reshape(6, 6, 3),
      "ground": (_WHITE + rng.uniform(-0.04, 0.04)).astype(np.float32),
  }


def _paint_dots(p: Params, u: np.ndarray, v: np.ndarray) -> np.ndarray:
  g = p["grid"][:, None, None].astype(np.float32)
  gu, gv = u[None] * g, v[None] * g  # [N, S, S]
  col, row = np.floor(gu).astype(int), np.floor(gv).astype(int)
  dist = np.hypot(gu - col - 0.5, gv - row - 0.5)  # In cell units.
  n = np.arange(len(g))[:, None, None]
  dot = p["colors"][n, np.minimum(row, 5), np.minimum(col, 5)]
  on = dist < p["radius"][:, None, None]
  return np.where(on[..., None], dot, p["ground"][:, None, None, :])


_Sampler = Callable[[np.random.Generator], Params]
_Painter = Callable[[Params, np.ndarray, np.ndarray], np.ndarray]
_STYLES: tuple[tuple[_Sampler, _Painter], ...] = (
    (_sample_mondrian, _paint_mondrian),
    (_sample_circles, _paint_circles),
    (_sample_stripes, _paint_stripes),
    (_sample_color_field, _paint_color_field),
    (_sample_dots, _paint_dots),
)
assert len(_STYLES) == len(STYLE_NAMES)


# ---------------------------------------------------------------- rendering --


def _check(style: int, resolution: int) -> None:
  if not 0 <= style < len(STYLE_NAMES):
    raise ValueError(
        f"style must be in [0, {len(STYLE_NAMES)}), got {style}")
  if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
    raise ValueError(
        f"resolution must be in [{MIN_RESOLUTION}, {MAX_RESOLUTION}], got "
        f"{resolution}")


def _supersample(resolution: int) -> int:
  return 4 if resolution < 32 else 2


def _render_batch(style: int, seeds: Sequence[int],
                  resolution: int) -> np.ndarray:
  """Renders one style for many seeds.

  Args:
    style: index into `STYLE_NAMES`.
    seeds: non-negative integer seeds, one per image.
    resolution: output height and width in pixels.

  Returns:
    uint8 [len(seeds), resolution, resolution, 3].
  """
  sampler, painter = _STYLES[style]
  params = [sampler(np.random.default_rng([_SALT, style, s])) for s in seeds]
  batch = {k: np.stack([p[k] for p in params]) for k in params[0]}
  ss = _supersample(resolution)
  size = resolution * ss
  axis = (np.arange(size, dtype=np.float32) + 0.5) / size  # Pixel centres.
  v, u = np.meshgrid(axis, axis, indexing="ij")  # [S, S] each
  img = painter(batch, u, v).astype(np.float32)  # [N, S, S, 3]
  # Box filter with a fixed summation order, so a batch of one gives the same
  # bytes as the same image inside a larger batch.
  acc = np.zeros((len(seeds), resolution, resolution, 3), np.float32)
  for dy in range(ss):
    for dx in range(ss):
      acc += img[:, dy::ss, dx::ss]
  acc *= np.float32(255.0 / ss**2)
  return np.clip(np.rint(acc), 0, 255).astype(np.uint8)


def render(style: int, seed: int, resolution: int) -> np.ndarray:
  """Renders one image of the embedded dataset.

  Args:
    style: index into `STYLE_NAMES`.
    seed: non-negative integer; the same (style, seed) gives the same picture
      (up to resampling) at every resolution.
    resolution: height and width in pixels, 8 to 1024.

  Returns:
    uint8 [resolution, resolution, 3].
  """
  _check(style, resolution)
  if seed < 0:
    raise ValueError(f"seed must be non-negative, got {seed}")
  return _render_batch(style, [seed], resolution)[0]


def image_seed(seed: int, index: int) -> int:
  """The `render` seed of image `index` in `make_dataset(..., seed=seed)`."""
  return seed * 2**32 + index


def make_dataset(num_images: int, resolution: int, seed: int = 0, *,
                 start: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Builds the embedded dataset in memory.

  Labels cycle through the styles (image i has style i % len(STYLE_NAMES)),
  so classes are balanced, and image i equals
  `render(i % len(STYLE_NAMES), image_seed(seed, i), resolution)`.

  Args:
    num_images: number of images N.
    resolution: height and width in pixels, 8 to 1024.
    seed: non-negative dataset seed.
    start: index of the first image: images start .. start + N - 1 of the
      stream (e.g. a held-out set after the first `start`).

  Returns:
    (images uint8 [N, resolution, resolution, 3], labels int32 [N]).
  """
  _check(0, resolution)
  if num_images < 0 or seed < 0 or start < 0:
    raise ValueError(f"num_images, seed and start must be non-negative, got "
                     f"{num_images}, {seed}, {start}")
  index_of = np.arange(start, start + num_images)
  labels = (index_of % len(STYLE_NAMES)).astype(np.int32)
  images = np.empty((num_images, resolution, resolution, 3), np.uint8)
  chunk = max(1, _CHUNK_PIXELS // (resolution * _supersample(resolution))**2)
  for style in range(len(STYLE_NAMES)):
    index = np.flatnonzero(labels == style)
    for first in range(0, len(index), chunk):
      part = index[first:first + chunk]
      seeds = [image_seed(seed, int(index_of[i])) for i in part]
      images[part] = _render_batch(style, seeds, resolution)
  return images, labels
