"""The style classifier of `style_acc`: a small convnet for the embedded set.

This module owns the network that tells the five embedded styles
(`data.embedded.STYLE_NAMES`) apart, how it is trained and where it is
kept. It is trained deterministically, in well under a minute on two CPU
cores (once: it is cached, see below), on freshly drawn embedded images at
the generator's resolution and channel count:
`embedded.make_dataset(NUM_TRAIN + NUM_TEST, resolution, seed)` with a seed
other than the training set's (`classifier_seed`), so no training image is
ever one the GAN saw. The last `NUM_TEST` images are held out and the
classifier's accuracy on them is logged (and checked in the tests: a
classifier that does not recognise real paintings measures nothing; it is
~98% at 16 and 32 px).

Network (`StyleClassifier`): images box-downsampled to at most 32 px, then
three 3x3 conv + ReLU + 2x2 average-pool blocks (`WIDTHS` maps), global
average and max pooling, one dense layer to six logits: the five styles and
NONE, "none of them". NONE is trained on `unstyled` images, which have the
paintings' colours but not their structure (colour blobs, shuffled tiles,
wavy bands, colour noise), so that a sample is only counted as a style when
it has the style's structure: without NONE, the classifier named blurry
blobs of primaries "mondrian" and a generator that had learnt the palettes
but no shapes scored ~85%; without the wavy bands and the noise, a demo
whose stripes row was swirling colour texture scored 83% on stripes (14%
with them). Trained with Adam (cosine decay) on the cross-entropy, random
flips (the styles are symmetric) and a little pixel noise.

A trained classifier is kept in memory for the process (`load_or_train`)
and on disk under `<cache_dir>/metrics/` keyed by everything that defines
it, so a second run loads it in milliseconds.
"""

import functools
import hashlib
import json
import pathlib
import time
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from PIL import Image

from stylegan_jax import images as images_lib
from stylegan_jax import tree_util
from stylegan_jax.data import embedded
from stylegan_jax.evaluators import context as context_lib

FORMAT = 6  # Bump when the network or its training changes.
SEED = 90_210  # The classifier's embedded seed (see `classifier_seed`).
NUM_TRAIN = 3000  # Training paintings (600 per style).
NUM_TEST = 500  # Held-out images (100 per style).
# The sixth class, 'none of the styles' (`unstyled`): training and held-out
# images made from other paintings of the same stream.
NONE = len(embedded.STYLE_NAMES)
NUM_NONE = 1000
NUM_NONE_TEST = 200
STEPS = 2500
BATCH = 32
LEARNING_RATE = 3e-3
NOISE_STD = 0.05  # Pixel noise added in training (images in [-1, 1]).
MAX_RESOLUTION = 32  # Larger images are box-downsampled to this first.
WIDTHS = (32, 64, 64)
_PREDICT_BATCH = 256

Log = Callable[[str], None]


def classifier_seed(data_seed: int) -> int:
  """The classifier's embedded seed, never the training set's own."""
  return SEED if data_seed != SEED else SEED + 1


def _downsample(x: jax.Array) -> jax.Array:
  """[N, R, R, C] -> [N, r, r, C], r = min(R, 32), by box filtering."""
  size = x.shape[1]
  if size <= MAX_RESOLUTION:
    return x
  f = size // MAX_RESOLUTION
  n, c = x.shape[0], x.shape[-1]
  return x.reshape(n, MAX_RESOLUTION, f, MAX_RESOLUTION, f, c).mean((2, 4))


class StyleClassifier(nn.Module):
  """Images in [-1, 1] [N, R, R, C] -> style logits [N, num_classes]."""

  num_classes: int = len(embedded.STYLE_NAMES) + 1  # The styles and NONE.

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = _downsample(x)  # [N, <=32, <=32, C]
    for width in WIDTHS:
      x = nn.relu(nn.Conv(width, (3, 3))(x))
      x = nn.avg_pool(x, (2, 2), strides=(2, 2))  # Halves the side.
    x = jnp.concatenate([x.mean((1, 2)), x.max((1, 2))], -1)  # [N, 2 * 64]
    return nn.Dense(self.num_classes)(x)


def to_input(images: np.ndarray) -> np.ndarray:
  """uint8 images -> float32 in [-1, 1] (the classifier's input)."""
  return images_lib.to_float(images).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _programs():
  net = StyleClassifier()
  tx = optax.adam(optax.cosine_decay_schedule(LEARNING_RATE, STEPS))

  def loss_fn(params, x, y):
    logits = net.apply({"params": params}, x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

  @jax.jit
  def train_step(params, opt_state, x, y, key):
    k_flip, k_noise = jax.random.split(key)
    flips = jax.random.bernoulli(k_flip, 0.5, (2, x.shape[0], 1, 1, 1))
    x = jnp.where(flips[0], x[:, :, ::-1], x)  # Horizontal flips.
    x = jnp.where(flips[1], x[:, ::-1], x)  # Vertical flips.
    x = x + NOISE_STD * jax.random.normal(k_noise, x.shape)
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  @jax.jit
  def predict(params, x):
    return jnp.argmax(net.apply({"params": params}, x), -1)

  return net, tx, train_step, predict


def predict(params, images: np.ndarray) -> np.ndarray:
  """The classifier's styles for uint8 images [N, R, R, C] -> int [N]."""
  fn = _programs()[3]
  out = []
  for start in range(0, len(images), _PREDICT_BATCH):
    out.append(np.asarray(fn(params, to_input(
        images[start:start + _PREDICT_BATCH]))))
  return np.concatenate(out) if out else np.zeros(0, np.int64)


def _blurred(x: np.ndarray, k: int) -> np.ndarray:
  """uint8 [R, R, C] -> its k x k box average, bilinearly upsampled."""
  r = x.shape[0]
  small = x.reshape(k, r // k, k, r // k, -1).mean((1, 3))  # [k, k, C]
  return np.stack([np.asarray(Image.fromarray(
      small[..., c].astype(np.float32), "F").resize((r, r), Image.BILINEAR))
                   for c in range(x.shape[-1])], -1)


def _warped(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """uint8 [R, R, C] -> float [R, R, C] bent by a smooth random displacement.

  Each row is shifted along x and each column along y by a sine of the other
  coordinate (amplitude 0.12-0.25 of the side, 0.75-1.5 periods across it),
  sampled bilinearly: straight bands become waves and swirls.
  """
  r = x.shape[0]
  amp = rng.uniform(0.12, 0.25, 2) * r
  freq = rng.uniform(0.75, 1.5, 2) * 2 * np.pi / r
  phase = rng.uniform(0, 2 * np.pi, 2)
  yy, xx = np.meshgrid(np.arange(r, dtype=np.float64),
                       np.arange(r, dtype=np.float64), indexing="ij")
  sx = np.clip(xx + amp[0] * np.sin(freq[0] * yy + phase[0]), 0, r - 1)
  sy = np.clip(yy + amp[1] * np.sin(freq[1] * xx + phase[1]), 0, r - 1)
  x0, y0 = np.minimum(sx.astype(int), r - 2), np.minimum(sy.astype(int), r - 2)
  fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]
  img = x.astype(np.float64)
  top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
  bottom = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
  return top * (1 - fy) + bottom * fy


def _shuffled(x: np.ndarray, tile: int, rng: np.random.Generator
              ) -> np.ndarray:
  """[R, R, C] -> its tile x tile tiles in a random order."""
  r, c = x.shape[0], x.shape[-1]
  n = r // tile
  tiles = x.reshape(n, tile, n, tile, c).transpose(0, 2, 1, 3, 4).reshape(
      n * n, tile, tile, c)[rng.permutation(n * n)]
  return tiles.reshape(n, n, tile, tile, c).transpose(0, 2, 1, 3, 4).reshape(
      x.shape)


def unstyled(num: int, resolution: int, seed: int) -> np.ndarray:
  """Images with the paintings' colours but none of the styles' structure.

  Made from paintings after the classifier's own (`make_dataset(..., start=
  NUM_TRAIN + NUM_TEST)`), four kinds in turn:
    * a painting box-averaged to 2x2 or 4x4 and upsampled (colour blobs, the
      look of an untrained generator; not from color_field, whose soft
      fields stay themselves);
    * a mondrian or circles painting cut into 4x4 tiles that are shuffled
      (lines and rings broken; shuffled stripes, dots or colour fields still
      look like themselves);
    * a stripes painting bent by a smooth random displacement (`_warped`):
      wavy, swirling bands, which a generator that has the stripes' palette
      and frequency but not their straightness draws;
    * a stripes, circles or mondrian painting with its pixels (1x1 or 2x2
      tiles) shuffled: colour noise in the painting's palette.
  (Averages of two styles were tried too: they cost the paintings 3%
  accuracy, some being faint enough to look like one.)

  Returns:
    uint8 [num, R, R, 3].
  """
  k = len(embedded.STYLE_NAMES)
  src, labels = embedded.make_dataset(3 * num + 2 * k, resolution, seed,
                                      start=NUM_TRAIN + NUM_TEST)
  rng = np.random.default_rng([seed, NONE])
  by_style = [src[labels == s] for s in range(k)]
  index = {n: embedded.STYLE_NAMES.index(n) for n in embedded.STYLE_NAMES}
  # Shuffled tiles of stripes, dots or color fields still look like them.
  tiled = [index["mondrian"], index["circles"]]
  noisy = [index["stripes"], index["circles"], index["mondrian"]]
  out = np.empty((num,) + src.shape[1:], np.float64)
  used = np.zeros(k, int)  # Paintings taken per style (blobs from the front).
  for i in range(num):
    a, b = rng.choice(k, 2, replace=False)
    kind = i % 4
    if kind == 0:
      a = a if a != index["color_field"] else b
      out[i] = _blurred(by_style[a][used[a]], int(rng.choice([2, 4])))
    elif kind == 1:
      a = tiled[a % len(tiled)]
      out[i] = _shuffled(by_style[a][-1 - used[a]], resolution // 4, rng)
    elif kind == 2:
      a = index["stripes"]
      out[i] = _warped(by_style[a][-1 - used[a]], rng)
    else:
      a = noisy[a % len(noisy)]
      out[i] = _shuffled(by_style[a][-1 - used[a]],
                         int(rng.choice([1, 2])), rng)
    used[a] += 1
  return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def training_data(resolution: int, channels: int, seed: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """(train images, labels, held-out images, labels); images uint8 NHWC.

  Labels are styles and NONE; the held-out images are NUM_TEST paintings
  followed by NUM_NONE_TEST unstyled images.
  """
  x, y = embedded.make_dataset(NUM_TRAIN + NUM_TEST, resolution, seed)
  none = unstyled(NUM_NONE + NUM_NONE_TEST, resolution, seed)
  y_none = np.full(len(none), NONE, np.int32)
  x_train = np.concatenate([x[:NUM_TRAIN], none[:NUM_NONE]])
  y_train = np.concatenate([y[:NUM_TRAIN], y_none[:NUM_NONE]])
  x_test = np.concatenate([x[NUM_TRAIN:], none[NUM_NONE:]])
  y_test = np.concatenate([y[NUM_TRAIN:], y_none[NUM_NONE:]])
  return (images_lib.to_channels(x_train, channels), y_train.astype(np.int32),
          images_lib.to_channels(x_test, channels), y_test.astype(np.int32))


def train(resolution: int, channels: int, seed: int
          ) -> tuple[dict, float]:
  """Trains a classifier from scratch.

  Args:
    resolution: image side R (8 to 1024).
    channels: 1 or 3.
    seed: the embedded set's seed for its images.

  Returns:
    (params, accuracy on the NUM_TEST held-out images).
  """
  net, tx, train_step, _ = _programs()
  x_train, y_train, x_test, y_test = training_data(resolution, channels, seed)
  x_train = to_input(x_train)
  key = jax.random.key(seed)
  key, init_key = jax.random.split(key)
  params = net.init(init_key, x_train[:1])["params"]
  opt_state = tx.init(params)
  order = np.random.default_rng(seed)
  perm = np.zeros(0, np.int64)
  for step in range(STEPS):
    if len(perm) < BATCH:
      perm = np.concatenate([perm, order.permutation(len(x_train))])
    idx, perm = perm[:BATCH], perm[BATCH:]
    params, opt_state, _ = train_step(params, opt_state, x_train[idx],
                                      y_train[idx],
                                      jax.random.fold_in(key, step))
  params = jax.device_get(params)
  # The paintings' accuracy (NONE counts as a mistake).
  accuracy = float(np.mean(predict(params, x_test[:NUM_TEST]) ==
                           y_test[:NUM_TEST]))
  return params, accuracy


def cache_key(resolution: int, channels: int, seed: int) -> dict:
  """What identifies a trained classifier."""
  return {"format": FORMAT, "resolution": resolution, "channels": channels,
          "seed": seed, "num_train": NUM_TRAIN, "num_test": NUM_TEST,
          "num_none": NUM_NONE, "steps": STEPS, "batch": BATCH,
          "lr": LEARNING_RATE,
          "noise": NOISE_STD, "widths": list(WIDTHS)}


@functools.lru_cache(maxsize=8)
def _in_memory(resolution: int, channels: int, seed: int,
               cache_dir: str | None) -> tuple[dict, float, str]:
  key = cache_key(resolution, channels, seed)
  text = json.dumps(key, sort_keys=True)
  path = None
  if cache_dir is not None:
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = (pathlib.Path(cache_dir) / "metrics" /
            f"style-classifier-{resolution}px-{channels}ch-{digest}.npz")
    arrays = context_lib.read_cache(path, text)
    if arrays is not None and "held_out_accuracy" in arrays:
      accuracy = float(arrays.pop("held_out_accuracy"))
      return (tree_util.unflatten(arrays), accuracy,
              f"the style classifier from the cache {path}")
  start = time.perf_counter()
  params, accuracy = train(resolution, channels, seed)
  where = ""
  if path is not None and jax.process_index() == 0:
    context_lib.write_cache(
        path, {**tree_util.flatten(params),
               "held_out_accuracy": np.float64(accuracy)}, text)
    where = f", cached in {path}"
  return (params, accuracy,
          f"trained the style classifier ({resolution} px, {channels} "
          f"channels, embedded seed {seed}) in "
          f"{time.perf_counter() - start:.1f} s{where}")


def load_or_train(resolution: int, channels: int, seed: int, *,
                  cache_dir: str | pathlib.Path | None = None,
                  log: Log = print) -> tuple[dict, float]:
  """The classifier for one image format: memory, else disk, else trained.

  Args:
    resolution: image side R.
    channels: 1 or 3.
    seed: its embedded seed (`classifier_seed(data seed)`).
    cache_dir: the metrics cache root (`<cache_dir>/metrics/...`); None
      keeps it in memory only.
    log: gets one line saying where the classifier came from (the first
      time in this process) and its held-out accuracy.

  Returns:
    (params, held-out accuracy in [0, 1]).
  """
  args = (resolution, channels, seed,
          None if cache_dir is None else str(cache_dir))
  fresh = _in_memory.cache_info().currsize
  params, accuracy, how = _in_memory(*args)
  if _in_memory.cache_info().currsize != fresh:
    log(f"style_acc: {how}; held-out accuracy {100 * accuracy:.1f}% on "
        f"{NUM_TEST} real images")
  return params, accuracy
