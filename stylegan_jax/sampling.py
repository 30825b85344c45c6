"""Generating images from a model: seeds, style mixing and latent walks.

The library behind the generation tools (`stylegan_jax.tools.generate`,
`style_mixing`, `interpolate`); every function takes a loaded
`model_io.Model`.

A seed's z is `np.random.RandomState(seed).randn(z_dim)`, as in the
official tools, and with `noise_mode='random'` its noise comes from
`jax.random.key(seed)`, drawn per image; so the image for a seed never
depends on the batch size or its position in the batch. Calls are jitted
and batched; the last batch is padded so each run compiles one shape.

A classic baseline's G (`model.is_stylegan` False) maps z straight to
images: `iter_z_images`, `generate_images` and Z-space walks work with it
(it has no noise inputs, so `noise_mode` does not change its images);
truncation, style mixing and W-space walks need a StyleGAN model and say so.
"""

from collections.abc import Iterator, Sequence
import functools
from typing import NamedTuple

import jax
import numpy as np

from stylegan_jax import images
from stylegan_jax import model_io
from stylegan_jax.errors import UserError
from stylegan_jax.nets.synthesis import NOISE_MODES

MAX_SEED = 2**32 - 1  # np.random.RandomState accepts [0, 2**32).
SPACES = ("w", "z")


def z_from_seeds(seeds: Sequence[int], z_dim: int) -> np.ndarray:
  """Seeds -> z [N, z_dim] float32, one RandomState per seed."""
  z = [np.random.RandomState(s).randn(z_dim) for s in seeds]
  return np.asarray(z, np.float32).reshape(len(seeds), z_dim)


def class_labels(model: model_io.Model, class_label: str | int | None,
                 n: int) -> np.ndarray | None:
  """One-hot labels c [n, c_dim] for a class name/index, None if unconditional.

  Raises:
    UserError: a conditional model without a class (the message lists the
      classes), an unconditional model with one, or an unknown class.
  """
  if not model.G.c_dim:
    if class_label is not None:
      raise UserError(f"{model.source} is unconditional — drop --class")
    return None
  if class_label is None:
    names = list(model.class_names) or list(range(model.G.c_dim))
    raise UserError(f"{model.source} is conditional — pass --class with a "
                    f"name or index from {names}")
  c = np.zeros((n, model.G.c_dim), np.float32)
  c[:, model.class_index(class_label)] = 1
  return c


def batches(n: int, batch_size: int) -> Iterator[slice]:
  """Slices covering range(n) in chunks of at most batch_size."""
  if batch_size < 1:
    raise UserError(f"batch_size must be >= 1, got {batch_size}")
  for start in range(0, n, batch_size):
    yield slice(start, min(start + batch_size, n))


def _run_batched(fn, arrays: Sequence[np.ndarray | None], n: int,
                 batch_size: int) -> Iterator[np.ndarray]:
  """Yields fn on batches of `arrays` (leading dim n), padding the last one.

  Padding (by repeating the last row) keeps one compiled shape per run.
  """
  size = max(1, min(batch_size, n))
  for s in batches(n, size):
    count = s.stop - s.start
    chunk = []
    for a in arrays:
      if a is None:
        chunk.append(None)
        continue
      part = a[s]
      if count < size:
        part = np.concatenate([part, np.repeat(part[-1:], size - count, 0)])
      chunk.append(part)
    yield np.asarray(fn(*chunk))[:count]


@functools.partial(jax.jit, static_argnames=("G", "truncation_psi",
                                             "truncation_cutoff"))
def _map(G, variables, z, c, truncation_psi, truncation_cutoff):
  return G.apply(variables, z, c, truncation_psi, truncation_cutoff,
                 method=G.map)


@functools.partial(jax.jit, static_argnames=("G",))
def _generate(G, variables, z, c):
  return G.apply(variables, z, c)


@functools.partial(jax.jit, static_argnames=("G", "noise_mode"))
def _synthesize(G, variables, ws, noise_seeds, noise_mode):
  if noise_mode != "random":
    return G.apply(variables, ws, noise_mode=noise_mode, method=G.synthesize)

  def one(w, seed):  # Per-image noise: independent of the batch.
    key = jax.random.key(seed)
    return G.apply(variables, w[None], noise_mode="random",
                   rngs={"noise": key}, method=G.synthesize)[0]

  return jax.vmap(one)(ws, noise_seeds)


def _check_truncation(model, truncation_psi, truncation_cutoff) -> None:
  if not np.isfinite(truncation_psi):
    raise UserError(f"truncation_psi must be a finite number, got "
                    f"{truncation_psi}")
  if truncation_cutoff is not None and not (
      0 <= truncation_cutoff <= model.G.num_ws):
    raise UserError(f"truncation_cutoff must be in [0, {model.G.num_ws}], "
                    f"got {truncation_cutoff}")


def map_z(model: model_io.Model, z: np.ndarray, c: np.ndarray | None,
          truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
          batch_size: int = 8) -> np.ndarray:
  """z [N, z_dim], c [N, c_dim] or None -> ws [N, num_ws, w_dim] float32."""
  model.require_stylegan("mapping z to W")
  _check_truncation(model, truncation_psi, truncation_cutoff)
  # psi is static: psi = 1 then skips truncation exactly (and needs no w_avg).
  fn = lambda z_, c_: _map(model.G, model.variables, z_, c_,  # pylint: disable=unnecessary-lambda-assignment
                           float(truncation_psi), truncation_cutoff)
  return np.concatenate(list(_run_batched(fn, [z, c], len(z), batch_size)))


def map_seeds(model: model_io.Model, seeds: Sequence[int],
              class_label: str | int | None = None,
              truncation_psi: float = 1.0,
              truncation_cutoff: int | None = None,
              batch_size: int = 8) -> np.ndarray:
  """Seeds -> ws [N, num_ws, w_dim] float32 (z from `z_from_seeds`)."""
  z = z_from_seeds(seeds, model.G.z_dim)
  c = class_labels(model, class_label, len(seeds))
  return map_z(model, z, c, truncation_psi, truncation_cutoff, batch_size)


def iter_synthesize(model: model_io.Model, ws: np.ndarray,
                    noise_mode: str = "const",
                    noise_seeds: Sequence[int] | None = None,
                    batch_size: int = 8) -> Iterator[np.ndarray]:
  """Yields uint8 image batches [B, H, W, C] for ws [N, num_ws, w_dim].

  Args:
    model: the model.
    ws: [N, num_ws, w_dim].
    noise_mode: 'const', 'random' or 'none'.
    noise_seeds: [N] ints; with 'random', image i's noise comes from
      `jax.random.key(noise_seeds[i])`. Ignored otherwise.
    batch_size: images per generator call.
  """
  if noise_mode not in NOISE_MODES:
    raise UserError(f"noise_mode must be one of {NOISE_MODES}, got "
                    f"{noise_mode!r}")
  ws = np.asarray(ws, np.float32)
  expected = (model.G.num_ws, model.G.w_dim)
  if ws.ndim != 3 or ws.shape[1:] != expected:
    raise UserError(f"ws must be [N, {expected[0]}, {expected[1]}], got "
                    f"{ws.shape}")
  seeds = None
  if noise_mode == "random":
    if noise_seeds is None or len(noise_seeds) != len(ws):
      raise UserError("noise_mode='random' needs one noise seed per image")
    seeds = np.asarray(noise_seeds, np.uint32)
  fn = lambda ws_, seeds_: _synthesize(model.G, model.variables, ws_, seeds_,  # pylint: disable=unnecessary-lambda-assignment
                                       noise_mode)
  for batch in _run_batched(fn, [ws, seeds], len(ws), batch_size):
    yield images.to_uint8(batch)


def synthesize(model: model_io.Model, ws: np.ndarray,
               noise_mode: str = "const",
               noise_seeds: Sequence[int] | None = None,
               batch_size: int = 8) -> np.ndarray:
  """ws [N, num_ws, w_dim] -> uint8 images [N, H, W, C] (see iter_synthesize)."""
  return np.concatenate(list(iter_synthesize(model, ws, noise_mode,
                                             noise_seeds, batch_size)))


def iter_z_images(model: model_io.Model, z: np.ndarray,
                  c: np.ndarray | None, *, truncation_psi: float = 1.0,
                  truncation_cutoff: int | None = None,
                  noise_mode: str = "const",
                  noise_seeds: Sequence[int] | None = None,
                  batch_size: int = 8) -> Iterator[np.ndarray]:
  """Yields uint8 image batches [B, H, W, C] for z [N, z_dim] and c.

  A StyleGAN model maps (with truncation) and synthesizes (`noise_mode`,
  `noise_seeds` as in `iter_synthesize`); a baseline runs G on z directly
  (truncation needs W: anything but psi 1 and no cutoff is an error).
  """
  if model.is_stylegan:
    ws = map_z(model, z, c, truncation_psi, truncation_cutoff, batch_size)
    yield from iter_synthesize(model, ws, noise_mode, noise_seeds,
                               batch_size)
    return
  if truncation_psi != 1 or truncation_cutoff is not None:
    model.require_stylegan("truncation", "drop --truncation_psi and "
                           "--truncation_cutoff")
  if noise_mode not in NOISE_MODES:
    raise UserError(f"noise_mode must be one of {NOISE_MODES}, got "
                    f"{noise_mode!r}")

  def fn(z_, c_):
    return _generate(model.G, model.variables, z_, c_)

  for batch in _run_batched(fn, [np.asarray(z, np.float32), c], len(z),
                            batch_size):
    yield images.to_uint8(batch)


# --------------------------------------------------------------- generate --


def iter_images(model: model_io.Model, seeds: Sequence[int], *,
                truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None,
                class_label: str | int | None = None,
                noise_mode: str = "const",
                batch_size: int = 8) -> Iterator[tuple[list[int], np.ndarray]]:
  """Yields (seeds, uint8 images [B, H, W, C]) batch by batch.

  Memory stays bounded by one batch however many seeds are asked for.
  """
  seeds = list(seeds)
  if not seeds:
    raise UserError("no seeds given — e.g. --seeds 0-7")
  size = max(1, min(batch_size, len(seeds)))
  for s in batches(len(seeds), size):
    part = seeds[s]
    padded = part + part[-1:] * (size - len(part))  # One compiled shape.
    z = z_from_seeds(padded, model.G.z_dim)
    c = class_labels(model, class_label, len(padded))
    rendered = np.concatenate(list(iter_z_images(
        model, z, c, truncation_psi=truncation_psi,
        truncation_cutoff=truncation_cutoff, noise_mode=noise_mode,
        noise_seeds=padded, batch_size=size)))
    yield part, rendered[:len(part)]


def generate_images(model: model_io.Model, seeds: Sequence[int], *,
                    truncation_psi: float = 1.0,
                    truncation_cutoff: int | None = None,
                    class_label: str | int | None = None,
                    noise_mode: str = "const",
                    batch_size: int = 8) -> np.ndarray:
  """Renders one image per seed.

  Args:
    model: a loaded `model_io.Model`.
    seeds: N seeds; z = RandomState(seed).randn(z_dim).
    truncation_psi: 1 for none, 0 for the average image.
    truncation_cutoff: truncate only the first this many ws (None: all).
    class_label: a class name or index; required iff the model is
      conditional.
    noise_mode: 'const', 'random' (noise keyed by the seed) or 'none'.
    batch_size: images per generator call; does not change the images.

  Returns:
    uint8 [N, H, W, C].
  """
  return np.concatenate([batch for _, batch in iter_images(
      model, seeds, truncation_psi=truncation_psi,
      truncation_cutoff=truncation_cutoff, class_label=class_label,
      noise_mode=noise_mode, batch_size=batch_size)])


# ------------------------------------------------------------ style mixing --


class StyleMixing(NamedTuple):
  """Everything one grid holds (uint8 images).

  Attributes:
    grid: [(R + 1) * H, (C + 1) * W, ch], blank top-left corner.
    cells: [R, C, H, W, ch], cell (r, c) = row r's ws with column c's styles.
    row_images: [R, H, W, ch], the row seeds unmixed.
    col_images: [C, H, W, ch], the column seeds unmixed.
  """

  grid: np.ndarray
  cells: np.ndarray
  row_images: np.ndarray
  col_images: np.ndarray


def mix_ws(row_ws: np.ndarray, col_ws: np.ndarray,
           styles: Sequence[int]) -> np.ndarray:
  """Splices ws for every (row, column) pair.

  Args:
    row_ws: [R, num_ws, w_dim].
    col_ws: [C, num_ws, w_dim].
    styles: indices into num_ws copied from the column's ws.

  Returns:
    [R, C, num_ws, w_dim].
  """
  num_ws = row_ws.shape[1]
  bad = [s for s in styles if not 0 <= s < num_ws]
  if bad:
    raise UserError(f"style indices {bad} out of range — this model has "
                    f"num_ws={num_ws} (valid: 0-{num_ws - 1})")
  mixed = np.repeat(row_ws[:, None], len(col_ws), axis=1).copy()
  idx = list(styles)
  mixed[:, :, idx] = col_ws[None][:, :, idx]
  return mixed


def style_mixing_grid(model: model_io.Model, row_seeds: Sequence[int],
                      col_seeds: Sequence[int],
                      styles: Sequence[int] | None = None, *,
                      truncation_psi: float = 1.0,
                      truncation_cutoff: int | None = None,
                      class_label: str | int | None = None,
                      noise_mode: str = "const",
                      batch_size: int = 8) -> StyleMixing:
  """Renders the style-mixing grid.

  Cell (r, c) renders the row seed's ws with the `styles` entries (indices
  into [0, num_ws)) replaced by the column seed's, as in the official tool:
  low indices carry coarse styles (pose, layout), high ones fine styles
  (colour, texture).

  Args:
    model: a loaded `model_io.Model`.
    row_seeds: R seeds giving each cell's ws.
    col_seeds: C seeds whose ws replace `styles`.
    styles: indices in [0, num_ws); None: the coarse half, `0` to
      `num_ws // 2 - 1` (the official tool's `0-6` on a 1024-px model).
    truncation_psi, truncation_cutoff: applied when mapping every seed.
    class_label: class name or index (conditional models only).
    noise_mode: 'const', 'random' (keyed by the row seed in a cell) or
      'none'.
    batch_size: images per generator call.

  Returns:
    A `StyleMixing` of uint8 arrays.
  """
  model.require_stylegan("style mixing")
  if not len(row_seeds) or not len(col_seeds):
    raise UserError("give at least one row seed and one column seed")
  if styles is None:
    styles = list(range(max(1, model.G.num_ws // 2)))
  if not len(styles):
    raise UserError("give at least one style index")
  seeds = list(row_seeds) + list(col_seeds)
  ws = map_seeds(model, seeds, class_label, truncation_psi,
                 truncation_cutoff, batch_size)
  row_ws, col_ws = ws[:len(row_seeds)], ws[len(row_seeds):]
  mixed = mix_ws(row_ws, col_ws, styles)
  r, c = mixed.shape[:2]
  all_ws = np.concatenate([ws, mixed.reshape(r * c, *ws.shape[1:])])
  noise_seeds = seeds + [s for s in row_seeds for _ in col_seeds]
  rendered = synthesize(model, all_ws, noise_mode, noise_seeds, batch_size)
  row_images = rendered[:r]
  col_images = rendered[r:r + c]
  cells = rendered[r + c:].reshape(r, c, *rendered.shape[1:])
  blank = np.zeros_like(rendered[:1])
  tiles = [blank, col_images]
  for i in range(r):
    tiles += [row_images[i:i + 1], cells[i]]
  grid = images.tile(np.concatenate(tiles), c + 1)
  return StyleMixing(grid, cells, row_images, col_images)


# ------------------------------------------------------------ latent walks --


def lerp(a, b, t):
  """(1 - t) a + t b; exact at t = 0 and t = 1.

  Args:
    a, b: arrays of one shape, e.g. ws [num_ws, w_dim].
    t: a float, or an array broadcastable against a.
  """
  a, b = np.asarray(a), np.asarray(b)
  return ((1 - t) * a + t * b).astype(np.result_type(a, b))


def slerp(a, b, t, eps: float = 1e-7):
  """Spherical interpolation along the last axis; exact at t = 0 and 1.

  Follows the great circle between a's and b's directions, with weights
  sin((1 - t) theta) / sin(theta) and sin(t theta) / sin(theta) on a and b
  themselves, so unit-norm inputs stay unit norm and the angle to a grows
  linearly in t. Nearly parallel inputs fall back to `lerp`.

  Args:
    a, b: [..., D].
    t: a float, or an array broadcastable against a[..., :1].

  Returns:
    [..., D], in a's and b's dtype.
  """
  a, b = np.asarray(a), np.asarray(b)
  dtype = np.result_type(a, b)
  a64, b64 = a.astype(np.float64), b.astype(np.float64)
  t = np.asarray(t, np.float64)
  if t.ndim:
    t = t[..., None] if t.shape[-1:] != (1,) else t
  na = np.linalg.norm(a64, axis=-1, keepdims=True)
  nb = np.linalg.norm(b64, axis=-1, keepdims=True)
  cos = np.sum(a64 * b64, axis=-1, keepdims=True) / np.maximum(na * nb, 1e-30)
  theta = np.arccos(np.clip(cos, -1.0, 1.0))
  sin = np.sin(theta)
  parallel = sin < eps
  safe = np.where(parallel, 1.0, sin)
  wa = np.where(parallel, 1 - t, np.sin((1 - t) * theta) / safe)
  wb = np.where(parallel, t, np.sin(t * theta) / safe)
  return (wa * a64 + wb * b64).astype(dtype)


def walk_schedule(num_seeds: int, frames_per_seed: int,
                  loop: bool) -> list[tuple[int, int, float]]:
  """(from index, to index, t) for every frame.

  (k - 1) * frames_per_seed + 1 frames for k seeds, or k * frames_per_seed
  with `loop`.
  """
  if num_seeds < 2:
    raise UserError(f"a walk needs at least 2 seeds, got {num_seeds}")
  if frames_per_seed < 1:
    raise UserError(f"frames_per_seed must be >= 1, got {frames_per_seed}")
  segments = num_seeds if loop else num_seeds - 1
  out = [(i, (i + 1) % num_seeds, j / frames_per_seed)
         for i in range(segments) for j in range(frames_per_seed)]
  if not loop:
    out.append((num_seeds - 1, num_seeds - 1, 0.0))
  return out


def interpolation_frames(model: model_io.Model, seeds: Sequence[int], *,
                         space: str = "w", frames_per_seed: int = 24,
                         loop: bool = False, truncation_psi: float = 1.0,
                         truncation_cutoff: int | None = None,
                         class_label: str | int | None = None,
                         noise_mode: str = "const",
                         batch_size: int = 8) -> np.ndarray:
  """Renders a latent walk through `seeds`.

  Args:
    model: a loaded `model_io.Model`.
    seeds: k >= 2 seeds, visited in order.
    space: 'w' (lerp of mapped ws) or 'z' (slerp of z, then mapped; the
      one walk a baseline can take).
    frames_per_seed: frames per step from one seed to the next.
    loop: also walk from the last seed back to the first.
    truncation_psi, truncation_cutoff: applied when mapping.
    class_label: class name or index (conditional models only).
    noise_mode: 'const', 'random' (one noise draw, keyed by the first seed,
      for every frame, so the walk does not flicker) or 'none'.
    batch_size: frames per generator call.

  Returns:
    uint8 [T, H, W, C]; T as in `walk_schedule`.
  """
  if space not in SPACES:
    raise UserError(f"space must be one of {SPACES}, got {space!r}")
  if space == "w":
    model.require_stylegan("a walk in W", "walk in Z instead (--space z)")
  schedule = walk_schedule(len(seeds), frames_per_seed, loop)
  noise_seeds = [seeds[0]] * len(schedule)
  if space == "w":
    keys = map_seeds(model, seeds, class_label, truncation_psi,
                     truncation_cutoff, batch_size)
    ws = np.stack([lerp(keys[i], keys[j], t) for i, j, t in schedule])
    return synthesize(model, ws, noise_mode, noise_seeds, batch_size)
  keys = z_from_seeds(seeds, model.G.z_dim)
  z = np.stack([slerp(keys[i], keys[j], t) for i, j, t in schedule])
  c = class_labels(model, class_label, len(z))
  return np.concatenate(list(iter_z_images(
      model, z, c, truncation_psi=truncation_psi,
      truncation_cutoff=truncation_cutoff, noise_mode=noise_mode,
      noise_seeds=noise_seeds, batch_size=batch_size)))
