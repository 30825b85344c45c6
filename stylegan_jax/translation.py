"""Applying a trained pix2pix translator: images in, translations out, scores.

The library behind `python -m stylegan_jax.translate`, the held-out scores
of the benchmark and the tests. Every function takes a `model_io.Model`
whose G is pix2pix's `UNetGenerator` (`load_model('workdirs/pix2pix')`).

G runs as in evaluation: without dropout, unless a `dropout_key` is given
(the paper keeps dropout on at test time; then the masks depend on the key
and on how the images are batched). With `norm='instance'` (the default)
each image is translated on its own, so results do not depend on the batch
size; with `norm='batch'` a batch is normalised with its own statistics,
as the paper does at test time. Batches are not padded (padding would
change batch statistics); a run compiles at most two batch shapes.
"""

from collections.abc import Iterator
import functools

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_jax import model_io
from stylegan_jax.errors import UserError
from stylegan_jax.metrics import image_quality
from stylegan_jax.nets.pix2pix import UNetGenerator

# SSIM's 11 x 11 window needs images at least this large.
MIN_SSIM_RESOLUTION = 11


def check_translator(model: model_io.Model) -> UNetGenerator:
  """The model's U-Net, or a UserError for any other kind of model."""
  if not isinstance(model.G, UNetGenerator):
    raise UserError(f"{model.source} is not a pix2pix model — train one "
                    "with experiments/pix2pix.py and pass its workdir")
  return model.G


@functools.partial(jax.jit, static_argnames=("G",))
def _translate(G, params, source, dropout_key):
  if dropout_key is None:
    return G.apply({"params": params}, source)
  return G.apply({"params": params}, source, train=True,
                 rngs={"dropout": dropout_key})


def iter_translations(model: model_io.Model, sources: np.ndarray, *,
                      batch_size: int = 8,
                      dropout_key: jax.Array | None = None
                      ) -> Iterator[np.ndarray]:
  """Yields G(sources) batch by batch.

  Args:
    model: a pix2pix model.
    sources: float32 [N, R, R, C] in [-1, 1], R the model's resolution.
    batch_size: images per call.
    dropout_key: run with dropout, batch i using fold_in(dropout_key, i);
      None: no dropout.

  Yields:
    float32 [<= batch_size, R, R, C] in [-1, 1].
  """
  G = check_translator(model)
  res = G.img_resolution
  sources = np.asarray(sources, np.float32)
  if sources.ndim != 4 or sources.shape[1:] != (res, res, G.in_channels):
    raise UserError(f"sources must be [N, {res}, {res}, {G.in_channels}] "
                    f"for {model.source}, got {sources.shape}")
  if batch_size < 1:
    raise UserError(f"batch_size must be >= 1, got {batch_size}")
  for i, start in enumerate(range(0, len(sources), batch_size)):
    key = (None if dropout_key is None
           else jax.random.fold_in(dropout_key, i))
    out = _translate(G, model.variables["params"],
                     sources[start:start + batch_size], key)
    yield np.asarray(out)


def translate(model: model_io.Model, sources: np.ndarray, *,
              batch_size: int = 8,
              dropout_key: jax.Array | None = None) -> np.ndarray:
  """G(sources), float32 [N, R, R, C] in [-1, 1] (see `iter_translations`)."""
  parts = list(iter_translations(model, sources, batch_size=batch_size,
                                 dropout_key=dropout_key))
  if not parts:
    return np.zeros((0,) + np.shape(sources)[1:], np.float32)
  return np.concatenate(parts)


def scores(translations: np.ndarray, targets: np.ndarray) -> dict[str, float]:
  """How close translations are to their targets, averaged over images.

  Args:
    translations, targets: float32 [N, H, W, C] in [-1, 1].

  Returns:
    {'l1': mean |target - translation| in [-1, 1] units (the training loss's
    L1 term), 'psnr': dB, 'ssim': `metrics.image_quality.ssim` (None below
    11 px)}.
  """
  a = jnp.asarray(targets, jnp.float32)
  b = jnp.asarray(translations, jnp.float32)
  if a.shape != b.shape or a.ndim != 4 or not len(a):
    raise ValueError(f"need two equal [N, H, W, C] batches, got {a.shape} "
                     f"and {b.shape}")
  out = {"l1": float(jnp.mean(jnp.abs(a - b))),
         "psnr": float(jnp.mean(image_quality.psnr(a, b))),
         "ssim": None}
  if min(a.shape[1:3]) >= MIN_SSIM_RESOLUTION:
    out["ssim"] = float(jnp.mean(image_quality.ssim(a, b)))
  return out


def evaluate(model: model_io.Model, sources: np.ndarray, targets: np.ndarray,
             *, batch_size: int = 8) -> dict[str, float]:
  """`scores` of the model's translations of `sources` against `targets`."""
  return scores(translate(model, sources, batch_size=batch_size), targets)
