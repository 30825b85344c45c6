"""What the evaluators of one run share: devices, images, features, caches.

This module owns the work every metric builds on, so each metric object
only does its own maths:

* the feature networks (`FEATURE_NETS`): the FID Inception (pool3 and the
  1008 logits) and VGG16's fc2, their weights loaded once from the user's
  files (`features.weights.load`, which caches the conversion), placed
  replicated on the mesh;
* features of the generated images (`generated.py`'s definition) and of the
  real ones (`reals.py`'s), computed batch by batch with one jitted program
  per network over the device mesh (images split along `data`, features
  gathered replicated), the next batch dispatched before the previous one
  is copied to the host. Within one evaluation the generated features are
  kept, so `fid50k_full`, `kid50k_full` and `is50k` render and embed the
  50k images once;
* the statistics cache: real-image features (and, for Inception, their mean
  and covariance) are stored under `<cache_dir>/metrics/` keyed by the
  dataset's identity, resolution, channels, network (a digest of the
  weights), resize mode and image count; the key is printed with the file,
  and the training loop reuses them in memory between snapshots;
* progress lines for long extractions (count, rate, time left).

In a multi-process run every process computes (the programs span every
device), process 0 alone writes cache files, and all agree on whether a
cache can be used before anyone skips work.
"""

import dataclasses
import functools
import hashlib
import json
import pathlib
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import numpy as np

from stylegan_jax import images as images_lib
from stylegan_jax import sharding
from stylegan_jax.evaluators import generated as generated_lib
from stylegan_jax.evaluators import reals as reals_lib
from stylegan_jax.evaluators import specs
from stylegan_jax.features import inception
from stylegan_jax.features import vgg
from stylegan_jax.features import weights as weights_lib
from stylegan_jax.metrics import fid

CACHE_FORMAT = 1  # Bump when what is cached changes; old files are ignored.
PR_RESOLUTION = 224  # VGG16's input side for precision/recall.
# Feature network -> (the weights key, its outputs kept for real images).
FEATURE_NETS = {"inception": ("inception", ("pool3",)),
                "vgg16": ("vgg16", ("fc2",))}
_PROGRESS_SECONDS = 10.0

Log = Callable[[str], None]


class Progress:
  """Progress lines for a long loop: at the start, every ~10 s and at the end.

  Args:
    log: where lines go.
    what: e.g. 'fid50k_full: Inception features of 50,000 generated images'.
    total: the count to reach.
  """

  def __init__(self, log: Log, what: str, total: int):
    self.log, self.what, self.total = log, what, total
    self.start = self.last = time.monotonic()
    self.log(f"{what} ...")

  def update(self, done: int) -> None:
    now = time.monotonic()
    if done >= self.total:
      rate = done / max(now - self.start, 1e-9)
      self.log(f"{self.what}: done in {now - self.start:.1f} s "
               f"({rate:.1f}/s)")
    elif now - self.last >= _PROGRESS_SECONDS:
      self.last = now
      rate = done / max(now - self.start, 1e-9)
      left = (self.total - done) / max(rate, 1e-9)
      self.log(f"{self.what}: {done:,}/{self.total:,} "
               f"({100 * done / self.total:.0f}%), {rate:.1f}/s, "
               f"{left:.0f} s left")


@functools.lru_cache(maxsize=16)
def _feature_fn(net: str, resized: bool, mesh: jax.sharding.Mesh):
  """jitted (params, images [B, ...]) -> {output: [B, D]}, replicated.

  Args:
    net: 'inception' or 'vgg16'.
    resized: inception only: the input is already [B, 299, 299, 3] in
      [0, 1] (clean resize on the host), else uint8 at any size.
    mesh: outputs are replicated over it.
  """

  def rgb(x):
    return jnp.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x

  if net == "inception":

    def fn(params, x):
      x = x if resized else inception.resize_pytorch_fid(rgb(x))
      return inception.forward(params, x)  # pool3 [B, 2048], logits
  else:

    def fn(params, x):
      x = rgb(x).astype(jnp.float32) / 255  # [B, H, W, 3] in [0, 1]
      x = jax.image.resize(x, (x.shape[0], PR_RESOLUTION, PR_RESOLUTION, 3),
                           "linear", antialias=True)
      return {"fc2": vgg.fc2(params, x)}  # [B, 4096]

  return jax.jit(fn, out_shardings=sharding.replicated(mesh))


@functools.lru_cache(maxsize=4)
def _gather_fn(mesh: jax.sharding.Mesh):
  return jax.jit(lambda x: x, out_shardings=sharding.replicated(mesh))


def to_host(x: jax.Array, mesh: jax.sharding.Mesh) -> np.ndarray:
  """A (possibly multi-process) sharded array as one NumPy array."""
  if not x.is_fully_addressable:
    x = _gather_fn(mesh)(x)
  return np.asarray(x)


def all_processes(flag: bool) -> bool:
  """True when `flag` is true on every process (a collective if > 1)."""
  if jax.process_count() == 1:
    return bool(flag)
  flags = multihost_utils.process_allgather(np.int32(bool(flag)))
  return bool(np.min(flags))


def params_digest(params: dict[str, Any]) -> str:
  """A short SHA-256 of a network's arrays (names, shapes and bytes)."""
  digest = hashlib.sha256()
  for name in sorted(params):
    a = np.ascontiguousarray(np.asarray(params[name]))
    digest.update(f"{name}{a.shape}{a.dtype}".encode())
    digest.update(a.tobytes())
  return digest.hexdigest()[:16]


@dataclasses.dataclass
class _Memo:
  """Features of the first `count` images: {output: [count, D]}."""

  count: int
  arrays: dict[str, np.ndarray]

  def prefix(self, num: int) -> dict[str, np.ndarray]:
    return {k: v[:num] for k, v in self.arrays.items()}


class Context:
  """Shared state of the evaluators of one run (see the module docstring).

  Args:
    evals: the `evals` config section (read, not kept).
    reals: the real images.
    class_probs: the dataset's class distribution [c_dim] (empty or None if
      unconditional); generated labels are drawn from it.
    mesh: the device mesh the programs span.
    log: where progress and cache lines go.
    feature_params: already loaded params by weights key ('inception',
      'vgg16', 'lpips'), used instead of reading those files (tests).
  """

  def __init__(self, evals, *, reals: reals_lib.RealImages, class_probs,
               mesh: jax.sharding.Mesh, log: Log = print,
               feature_params: dict[str, dict] | None = None):
    self.reals = reals
    self.mesh = mesh
    self.log = log
    n = mesh.devices.size
    self.batch_size = -(-int(evals.batch_size) // n) * n
    self.max_images = int(evals.max_images)
    self.resize_mode = str(evals.resize_mode)
    self.cache_dir = (pathlib.Path(evals.cache_dir).expanduser()
                      if evals.cache_dir else weights_lib.default_cache_dir())
    self.paths = {k: str(evals[k]) for k in specs.WEIGHTS}
    self.generated = generated_lib.GeneratedImages(
        seed=int(evals.seed), truncation_psi=float(evals.truncation_psi),
        noise_mode=str(evals.noise_mode),
        class_probs=tuple(float(p) for p in (
            () if class_probs is None else class_probs)))
    self._params = dict(feature_params or {})
    self._digests: dict[str, str] = {}
    self._real_memo: dict[tuple, _Memo] = {}
    self._gen_memo: dict[str, _Memo] = {}
    self._labels = np.zeros(0, np.int64)
    self.G = self.variables = None
    self.notes: list[str] = []

  # ---------------------------------------------------------------- setup --

  def params(self, key: str) -> dict[str, jax.Array]:
    """A feature network's params ('inception', 'vgg16', 'lpips'), replicated.

    Raises:
      WeightsError: the file is missing or not that network.
    """
    if key not in self._params or key not in self._digests:
      params = self._params.get(key)
      if params is None:
        kind = specs.WEIGHTS[key][0]
        params = weights_lib.load(kind, self.paths[key],
                                  cache_dir=self.cache_dir)
      self._digests[key] = params_digest(params)
      self._params[key] = jax.device_put(params,
                                         sharding.replicated(self.mesh))
    return self._params[key]

  def start(self, G, variables) -> None:
    """Begins an evaluation of generator G with `variables`."""
    generated_lib.check_generator(G, self.generated.truncation_psi)
    self.G = G
    self.variables = jax.device_put(variables, sharding.replicated(self.mesh))
    self._gen_memo = {}
    self.notes = []
    if bool(self.generated.class_probs) != bool(G.c_dim) or (
        G.c_dim and len(self.generated.class_probs) != G.c_dim):
      raise ValueError(f"the generator has c_dim={G.c_dim} but the class "
                       f"distribution has {len(self.generated.class_probs)} "
                       "classes")

  def labels(self, num: int) -> np.ndarray:
    """The classes of generated images 0..num-1 (drawn once, then kept)."""
    if len(self._labels) < num:
      self._labels = self.generated.labels(num)
    return self._labels[:num]

  def counts(self, spec: specs.MetricSpec) -> tuple[int, int]:
    """(generated, real) image counts of a metric, after `max_images`."""
    cap = self.max_images or specs.MAX_IMAGES
    real = 0 if spec.max_real == 0 else min(
        spec.max_real or self.reals.count, self.reals.count, cap)
    return min(spec.num_gen, cap), real

  # ------------------------------------------------------------ batching --

  def pad_batch(self, arrays, valid: int) -> list[np.ndarray]:
    """Pads each array's rows to the batch size by repeating the last row."""
    out = []
    for a in arrays:
      if valid < self.batch_size:
        a = np.concatenate([a, np.repeat(a[-1:], self.batch_size - valid, 0)])
      out.append(a)
    return out

  def generated_batches(self, num: int,
                        first: int = 0) -> Iterator[tuple[jax.Array, int]]:
    """Yields (uint8 images [B, H, W, C] sharded on `data`, valid rows).

    Args:
      num: images first..num-1 are rendered.
      first: the first image.
    """
    render = generated_lib.render_fn(self.G, self.generated.truncation_psi,
                                     self.generated.noise_mode, self.mesh)
    labels = self.labels(num)
    for start in range(first, num, self.batch_size):
      stop = min(start + self.batch_size, num)
      inputs = self.generated.inputs(start, stop, self.G.z_dim, labels)
      z, c, seeds = generated_lib.to_devices(
          self.pad_batch(inputs, stop - start), self.mesh)
      yield render(self.variables, z, c, seeds), stop - start

  def real_batches(self, num: int,
                   skipped: list[str]) -> Iterator[tuple[jax.Array, int]]:
    """Yields (uint8 real images [B, R, R, C] sharded, valid rows)."""
    for batch in self.reals.batches(num, self.batch_size,
                                    self.G.img_resolution,
                                    self.G.img_channels, skipped):
      valid = len(batch)
      [x] = generated_lib.to_devices(self.pad_batch([batch], valid), self.mesh)
      yield x, valid

  # ------------------------------------------------------------ features --

  def _extract(self, net: str, batches, total: int,
               what: str) -> dict[str, np.ndarray]:
    """Runs a feature network over device batches; host arrays [n, D]."""
    params = self.params(FEATURE_NETS[net][0])
    clean = net == "inception" and self.resize_mode == "clean"
    fn = _feature_fn(net, clean, self.mesh)
    progress = Progress(self.log, what, total)
    parts: dict[str, list[np.ndarray]] = {}
    done, pending = 0, None

    def collect(item):
      nonlocal done
      out, valid = item
      for k, v in out.items():
        parts.setdefault(k, []).append(np.asarray(v)[:valid])
      done += valid
      progress.update(done)

    for x, valid in batches:
      if clean:  # clean-fid's PIL resize runs on the host.
        [x] = generated_lib.to_devices(
            [inception.resize_clean(self._rgb(to_host(x, self.mesh)))],
            self.mesh)
      out = fn(params, x)  # Dispatched; copied once the next one is queued.
      if pending is not None:
        collect(pending)
      pending = (out, valid)
    if pending is not None:
      collect(pending)
    if not parts:
      raise ValueError(f"{what}: no images")
    return {k: np.concatenate(v) for k, v in parts.items()}

  @staticmethod
  def _rgb(x: np.ndarray) -> np.ndarray:
    return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x

  def generated_features(self, net: str, num: int,
                         label: str) -> dict[str, np.ndarray]:
    """A feature network's outputs for generated images 0..num-1.

    Kept for the rest of the evaluation; a later, larger request computes
    only the images not seen yet.
    """
    memo = self._gen_memo.get(net)
    if memo is not None and memo.count >= num:
      return memo.prefix(num)
    have = 0 if memo is None else memo.count
    out = self._extract(
        net, self.generated_batches(num, first=have), num - have,
        f"{label}: {_NET_NAMES[net]} features of {num - have:,} generated "
        "images")
    if memo is not None:
      out = {k: np.concatenate([memo.arrays[k], v]) for k, v in out.items()}
    self._gen_memo[net] = _Memo(num, out)
    return {k: v[:num] for k, v in out.items()}

  def cache_key(self, net: str, num: int) -> dict[str, Any]:
    """What identifies the real-image statistics of `net` on `num` images."""
    key = {"format": CACHE_FORMAT, "dataset": self.reals.identity(),
           "resolution": self.G.img_resolution,
           "channels": self.G.img_channels, "network": net,
           "weights": self._digests[FEATURE_NETS[net][0]], "count": num}
    if net == "inception":
      key["resize"] = self.resize_mode
    elif net == "vgg16":
      key["resize"] = f"linear-antialias-{PR_RESOLUTION}"
    return key

  def real_features(self, net: str, num: int,
                    label: str) -> dict[str, np.ndarray]:
    """A network's outputs for the first `num` real images, cached.

    Returns:
      {output: [n, D]} for the network's kept outputs (n < num when a
      folder has unreadable files: a note says so), and for Inception also
      'pool3/mean' [2048] and 'pool3/cov' [2048, 2048] (float64).
    """
    self.params(FEATURE_NETS[net][0])  # Loads the weights and their digest.
    res, ch = self.G.img_resolution, self.G.img_channels
    memo = self._real_memo.get((net, res, ch, num))
    if memo is not None:
      return memo.arrays
    key = self.cache_key(net, num)
    text = json.dumps(key, sort_keys=True)
    name = (f"reals-{net}-{res}px-{num}-"
            f"{hashlib.sha256(text.encode()).hexdigest()[:12]}.npz")
    path = self.cache_dir / "metrics" / name
    arrays = read_cache(path, text)
    if all_processes(arrays is not None):
      self.log(f"{label}: real-image statistics from the cache {path} "
               f"(key {text})")
    else:
      self.log(f"{label}: computing real-image statistics for the cache "
               f"{path} (key {text})")
      skipped: list[str] = []
      out = self._extract(
          net, self.real_batches(num, skipped), num,
          f"{label}: {_NET_NAMES[net]} features of {num:,} real images "
          f"({self.reals.describe()})")
      kept = FEATURE_NETS[net][1]
      arrays = {k: out[k] for k in kept}
      if net == "inception" and len(arrays["pool3"]) >= 2:
        mean, cov = fid.feature_statistics(arrays["pool3"])
        arrays["pool3/mean"], arrays["pool3/cov"] = mean, cov
      if skipped:
        arrays["skipped"] = np.asarray(skipped)
      if jax.process_index() == 0:
        write_cache(path, arrays, text)
    if "skipped" in arrays:
      self.notes.append(reals_lib.skipped_note(
          [str(s) for s in arrays["skipped"]], self.reals.path))
    arrays = {k: v for k, v in arrays.items() if k != "skipped"}
    self._real_memo[(net, res, ch, num)] = _Memo(num, arrays)
    return arrays

  # -------------------------------------------------------------- images --

  def generated_images(self, num: int) -> np.ndarray:
    """Generated images 0..num-1 on the host, uint8 [num, H, W, C]."""
    parts = [to_host(x, self.mesh)[:valid]
             for x, valid in self.generated_batches(num)]
    return np.concatenate(parts)

  def real_images(self, num: int) -> np.ndarray:
    """The first `num` real images on the host, uint8 [<= num, R, R, C].

    Kept between evaluations (the training loop's snapshots).
    """
    res, ch = self.G.img_resolution, self.G.img_channels
    key = ("images", res, ch, num)
    memo = self._real_memo.get(key)
    if memo is None:
      skipped: list[str] = []
      data = self.reals.read(num, res, ch, skipped)
      memo = self._real_memo[key] = _Memo(num, {"images": data,
                                                "skipped": skipped})
    if memo.arrays["skipped"]:
      self.notes.append(reals_lib.skipped_note(memo.arrays["skipped"],
                                               self.reals.path))
    return memo.arrays["images"]


_NET_NAMES = {"inception": "Inception", "vgg16": "VGG16"}


def read_cache(path: pathlib.Path, key_text: str) -> dict | None:
  """The arrays of a cache file whose stored key matches, else None."""
  if not path.is_file():
    return None
  try:
    with np.load(path, allow_pickle=False) as f:
      if str(f["__key__"]) != key_text:
        return None
      return {k: f[k] for k in f.files if k != "__key__"}
  except (OSError, ValueError, KeyError, EOFError):
    return None


def write_cache(path: pathlib.Path, arrays: dict[str, np.ndarray],
                 key_text: str) -> None:
  """Writes atomically; an unwritable cache warns instead of failing."""
  try:
    with images_lib.atomic_path(path) as tmp, open(tmp, "wb") as f:
      np.savez(f, __key__=np.asarray(key_text), **arrays)
  except OSError as e:
    warnings.warn(f"could not write the metrics cache {path}: {e}; what it "
                  "holds will be computed again next time")
