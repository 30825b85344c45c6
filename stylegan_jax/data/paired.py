"""The embedded paired art set: line drawings -> the painted images.

This module owns the image pairs pix2pix trains on without a download, the
paired analogue of `embedded.py` (edges -> photo, as the paper's
edges2shoes, with the procedural paintings as the photos). The target is
an image of the embedded dataset (`embedded.make_dataset`); the source is
its line drawing (`line_drawing`): black ink on white paper wherever the
painted colour changes. The drawing keeps the composition (Mondrian's grid,
the rings, the bands, the spots, the colour-field blocks) and drops every
colour, so the translator has to learn each style's palette and how to
fill the regions the lines enclose.

Pair i of `make_pairs(n, res, seed, start=s)` is drawn from image s + i of
the embedded stream: a held-out split is the pairs after the training ones
(`start` = the training count), never an image trained on.

NumPy only (no TensorFlow, no JAX).
"""

import numpy as np

from stylegan_jax.data import embedded

# A colour step of this size (max over RGB, in [0, 1]) or more draws a fully
# black line; smaller steps draw grey ones.
INK_STEP = 0.25
PAPER = 1.0  # White.


def line_drawing(images: np.ndarray) -> np.ndarray:
  """Black-on-white line drawings of where the colour changes.

  Each pixel's ink is the largest colour step (max over the RGB channels,
  in [0, 1]) to its right and lower neighbours, divided by `INK_STEP` and
  clipped to 1; lines are therefore one pixel wide on the upper-left side
  of each edge and grey where the step is small. The drawing is grey, with
  the same value in the three channels.

  Args:
    images: uint8 [N, H, W, 3].

  Returns:
    uint8 [N, H, W, 3].
  """
  x = np.asarray(images, np.float32) / 255.0  # [N, H, W, 3]
  step = np.zeros(x.shape[:3], np.float32)
  right = np.abs(x[:, :, 1:] - x[:, :, :-1]).max(axis=-1)  # [N, H, W-1]
  down = np.abs(x[:, 1:] - x[:, :-1]).max(axis=-1)  # [N, H-1, W]
  step[:, :, :-1] = right
  step[:, :-1] = np.maximum(step[:, :-1], down)
  ink = np.clip(step / INK_STEP, 0.0, 1.0)
  grey = np.rint((PAPER - ink) * 255.0).astype(np.uint8)  # [N, H, W]
  return np.repeat(grey[..., None], 3, axis=-1)


def make_pairs(num_pairs: int, resolution: int, seed: int = 0, *,
               start: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Line drawings and the paintings they come from.

  Args:
    num_pairs: N.
    resolution: height and width in pixels, 8 to 1024.
    seed: the embedded dataset's seed.
    start: the first image of the embedded stream (see the module
      docstring).

  Returns:
    (sources, targets), uint8 [N, resolution, resolution, 3] each.
  """
  targets, _ = embedded.make_dataset(num_pairs, resolution, seed, start=start)
  return line_drawing(targets), targets
