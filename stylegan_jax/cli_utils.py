"""Shared pieces of the image tools (generate, style_mixing, interpolate).

Owns the flags every tool takes (`--model`, `--seeds`, truncation, `--class`,
`--noise_mode`, `--batch_size`, `--outdir`), seed/index-range parsing, the
seed -> z rule, class labels, and the jitted, batched map/synthesis calls.

A seed's z is `np.random.RandomState(seed).randn(z_dim)`, as in the official
tools, and with `noise_mode='random'` its noise comes from
`jax.random.key(seed)`, drawn per image; so the image for a seed never
depends on the batch size or its position in the batch.
"""

from collections.abc import Iterator, Sequence
import functools
import math
import pathlib

from absl import flags
import jax
import numpy as np

from stylegan_jax import images
from stylegan_jax import model_io
from stylegan_jax.nets.synthesis import NOISE_MODES

# Other tools (project, sample) define some of these names too; allowing
# override lets one process (the test suite) import them all. The meanings
# and defaults match, and FlagHolders read flags by name.
_SHARED = {"allow_override": True}
MODEL = flags.DEFINE_string(
    "model", None, "Model spec: a training workdir[@step], an exported .npz "
    "or an official .pkl.", **_SHARED)
NETWORK = flags.DEFINE_enum(
    "network", "G_ema", model_io.NETWORKS,
    "Which generator of a workdir or pickle: G_ema or G.", **_SHARED)
SEEDS = flags.DEFINE_string("seeds", None, "Seeds, e.g. '0-7,42'.", **_SHARED)
TRUNCATION_PSI = flags.DEFINE_float(
    "truncation_psi", 1.0, "Truncation psi (1: none, 0: the average image).",
    **_SHARED)
TRUNCATION_CUTOFF = flags.DEFINE_integer(
    "truncation_cutoff", None, "Truncate only the first N ws (default: all).",
    **_SHARED)
CLASS = flags.DEFINE_string(
    "class", None, "Class name or index (conditional models only).",
    **_SHARED)
NOISE_MODE = flags.DEFINE_enum(
    "noise_mode", "const", NOISE_MODES,
    "Per-pixel noise: const, random (from the seed) or none.", **_SHARED)
BATCH_SIZE = flags.DEFINE_integer("batch_size", 8, "Images per generator "
                                  "call.", **_SHARED)
OUTDIR = flags.DEFINE_string("outdir", "out", "Output folder.", **_SHARED)

MAX_SEED = 2**32 - 1  # np.random.RandomState accepts [0, 2**32).


def parse_range(text: str, name: str = "seeds", lo: int = 0,
                hi: int = MAX_SEED) -> list[int]:
  """'0-7,42' -> [0, 1, ..., 7, 42], in the order given.

  Args:
    text: comma-separated integers and inclusive `a-b` ranges.
    name: what the numbers are, for error messages.
    lo, hi: the inclusive bounds every number must lie in.

  Returns:
    The list of integers (duplicates kept).

  Raises:
    ValueError: naming the bad part of `text`.
  """
  if text is None or not str(text).strip():
    raise ValueError(f"--{name} is empty; give e.g. '0-7,42'")
  out = []
  for part in str(text).split(","):
    part = part.strip()
    first, sep, last = part.partition("-")
    try:
      a = int(first)
      b = int(last) if sep else a
    except ValueError:
      raise ValueError(f"bad --{name} entry {part!r} in {text!r}: expected "
                       "an integer or a range like '3-7'") from None
    if a > b:
      raise ValueError(f"bad --{name} range {part!r}: start > end")
    if a < lo or b > hi:
      raise ValueError(f"--{name} entry {part!r} is outside [{lo}, {hi}]")
    out.extend(range(a, b + 1))
  return out


def z_from_seeds(seeds: Sequence[int], z_dim: int) -> np.ndarray:
  """Seeds -> z [N, z_dim] float32, one RandomState per seed."""
  z = [np.random.RandomState(s).randn(z_dim) for s in seeds]
  return np.asarray(z, np.float32).reshape(len(seeds), z_dim)


def labels(model: model_io.Model, class_label: str | int | None,
           n: int) -> np.ndarray | None:
  """One-hot labels c [n, c_dim] for a class name/index, None if unconditional.

  Raises:
    ValueError: a conditional model without a class (the message lists the
      classes), an unconditional model with one, or an unknown class.
  """
  if not model.G.c_dim:
    if class_label is not None:
      raise ValueError(f"{model.source} is unconditional; drop --class")
    return None
  if class_label is None:
    names = list(model.class_names) or list(range(model.G.c_dim))
    raise ValueError(f"{model.source} is conditional: pass --class with a "
                     f"name or index from {names}")
  c = np.zeros((n, model.G.c_dim), np.float32)
  c[:, model.class_index(class_label)] = 1
  return c


def batches(n: int, batch_size: int) -> Iterator[slice]:
  """Slices covering range(n) in chunks of at most batch_size."""
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}")
  for start in range(0, n, batch_size):
    yield slice(start, min(start + batch_size, n))


def _run_batched(fn, arrays: Sequence[np.ndarray | None], n: int,
                 batch_size: int) -> np.ndarray:
  """Runs fn on batches of `arrays` (leading dim n), padding the last one.

  Padding (by repeating the last row) keeps one compiled shape per run.
  """
  size = max(1, min(batch_size, n))
  outs = []
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
    outs.append(np.asarray(fn(*chunk))[:count])
  return np.concatenate(outs)


@functools.partial(jax.jit, static_argnames=("G", "truncation_psi",
                                             "truncation_cutoff"))
def _map(G, variables, z, c, truncation_psi, truncation_cutoff):
  return G.apply(variables, z, c, truncation_psi, truncation_cutoff,
                 method=G.map)


@functools.partial(jax.jit, static_argnames=("G", "noise_mode"))
def _synthesize(G, variables, ws, noise_seeds, noise_mode):
  if noise_mode != "random":
    return G.apply(variables, ws, noise_mode=noise_mode, method=G.synthesize)

  def one(w, seed):  # Per-image noise: independent of the batch.
    key = jax.random.key(seed)
    return G.apply(variables, w[None], noise_mode="random",
                   rngs={"noise": key}, method=G.synthesize)[0]

  return jax.vmap(one)(ws, noise_seeds)


def map_z(model: model_io.Model, z: np.ndarray, c: np.ndarray | None,
          truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
          batch_size: int = 8) -> np.ndarray:
  """z [N, z_dim], c [N, c_dim] or None -> ws [N, num_ws, w_dim] float32."""
  if truncation_cutoff is not None and not (
      0 <= truncation_cutoff <= model.G.num_ws):
    raise ValueError(f"truncation_cutoff must be in [0, {model.G.num_ws}], "
                     f"got {truncation_cutoff}")
  # psi is static: psi = 1 then skips truncation exactly (and needs no w_avg).
  fn = lambda z_, c_: _map(model.G, model.variables, z_, c_,
                           float(truncation_psi), truncation_cutoff)
  return _run_batched(fn, [z, c], len(z), batch_size)


def map_seeds(model: model_io.Model, seeds: Sequence[int],
              class_label: str | int | None = None,
              truncation_psi: float = 1.0,
              truncation_cutoff: int | None = None,
              batch_size: int = 8) -> np.ndarray:
  """Seeds -> ws [N, num_ws, w_dim] float32 (z from `z_from_seeds`)."""
  z = z_from_seeds(seeds, model.G.z_dim)
  c = labels(model, class_label, len(seeds))
  return map_z(model, z, c, truncation_psi, truncation_cutoff, batch_size)


def synthesize(model: model_io.Model, ws: np.ndarray, noise_mode: str = "const",
               noise_seeds: Sequence[int] | None = None,
               batch_size: int = 8) -> np.ndarray:
  """ws [N, num_ws, w_dim] -> uint8 images [N, H, W, C].

  Args:
    model: the model.
    ws: [N, num_ws, w_dim].
    noise_mode: 'const', 'random' or 'none'.
    noise_seeds: [N] ints; with 'random', image i's noise comes from
      `jax.random.key(noise_seeds[i])`. Ignored otherwise.
    batch_size: images per generator call.
  """
  if noise_mode not in NOISE_MODES:
    raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got "
                     f"{noise_mode!r}")
  ws = np.asarray(ws, np.float32)
  expected = (model.G.num_ws, model.G.w_dim)
  if ws.ndim != 3 or ws.shape[1:] != expected:
    raise ValueError(f"ws must be [N, {expected[0]}, {expected[1]}], got "
                     f"{ws.shape}")
  seeds = None
  if noise_mode == "random":
    if noise_seeds is None or len(noise_seeds) != len(ws):
      raise ValueError("noise_mode='random' needs one noise seed per image")
    seeds = np.asarray(noise_seeds, np.uint32)
  fn = lambda ws_, seeds_: _synthesize(model.G, model.variables, ws_, seeds_,
                                       noise_mode)
  return images.to_uint8(_run_batched(fn, [ws, seeds], len(ws), batch_size))


def grid_cols(n: int) -> int:
  """A near-square column count for n images."""
  return max(1, math.ceil(math.sqrt(n)))


def generation_kwargs() -> dict[str, object]:
  """The shared generation flags, as keyword arguments of the tools."""
  return dict(truncation_psi=TRUNCATION_PSI.value,
              truncation_cutoff=TRUNCATION_CUTOFF.value,
              class_label=CLASS.value, noise_mode=NOISE_MODE.value,
              batch_size=BATCH_SIZE.value)


def load(spec: str | None) -> model_io.Model:
  """`load_model` with a clear error when --model is missing."""
  if not spec:
    raise ValueError("--model is required: a training workdir[@step], an "
                     "exported .npz or an official .pkl")
  return model_io.load_model(spec, network=NETWORK.value)


def outdir(path: str) -> pathlib.Path:
  """Creates the output folder and returns it."""
  out = pathlib.Path(path)
  out.mkdir(parents=True, exist_ok=True)
  return out
