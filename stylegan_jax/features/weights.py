"""Feature-network weights: the user's torch file, checked, converted, cached.

This module owns turning a weights file the user names into the params of
`features.inception`, `features.vgg` and `features.lpips`. Nothing is ever
downloaded: `load(kind, path)` reads the user's `.pth` (or `.pth.xz`) with
the safe torch reader (no torch, nothing from the file runs), checks every
expected key and shape, converts to our layout (HWIO kernels, ...) and
caches the result as an `.npz`, so later loads skip the torch parsing.

Kinds and the standard files they expect:

* `inception`: `pt_inception-2015-12-05-6726825d.pth`, pytorch-fid's GitHub
  release asset (tag `fid_weights`);
* `vgg16`: `vgg16-397923af.pth`, torchvision's ImageNet VGG16 weights;
* `vgg19`: `vgg19-dcbb9e9d.pth`, torchvision's ImageNet VGG19 weights;
* `lpips_vgg`: `vgg.pth`, the `lpips` package's `weights/v0.1/vgg.pth`.

Cache: `<cache_dir>/features/<kind>-v<FORMAT>-<sha256>.npz`, where the
SHA-256 is the source file's. `cache_dir` is the argument, else
`$STYLEGAN_JAX_CACHE`, else `~/.cache/stylegan_jax`. The hash is computed
once per file: `sha256-index.json` beside the caches maps each source's
real path to its size, mtime and hash, and a file whose size and mtime are
unchanged is not hashed again. Writes go to a temporary file that is then
renamed, so concurrent loaders never see half a cache; an unwritable cache
directory only costs the caching (a warning), not the load.
"""

import dataclasses
import hashlib
import json
import os
import pathlib
import tempfile
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_jax.errors import UserError
from stylegan_jax.features import inception
from stylegan_jax.features import lpips
from stylegan_jax.features import vgg
from stylegan_jax.interop import torch_file

FORMAT = 1  # Bump when a conversion changes; old caches are then ignored.
_INDEX = "sha256-index.json"
_META = "__source__"
_LIST = 4  # Names shown per problem in an error message.

Shapes = dict[str, tuple[int, ...]]


class WeightsError(UserError):
  """A weights file is missing, unreadable, or not the expected network.

  A user mistake (the wrong file named), so the tools report it on one line.
  """


@dataclasses.dataclass(frozen=True)
class _Kind:
  network: str
  standard: str  # Which file to bring and where it comes from.
  layout: str  # What the state dict holds.
  shapes: Callable[[], tuple[Shapes, Shapes]]
  convert: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


KINDS = {
    "inception": _Kind(
        "the FID Inception-v3",
        "pytorch-fid's pt_inception-2015-12-05-6726825d.pth (its GitHub "
        "release asset, tag fid_weights)",
        "the fid_inception_v3() state dict: Conv2d_1a_3x3.conv.weight ... "
        "Mixed_7c.*, fc.weight [1008, 2048]",
        inception.torch_shapes, inception.from_torch),
    "vgg16": _Kind(
        "VGG16",
        "torchvision's ImageNet VGG16 weights vgg16-397923af.pth",
        "a torchvision vgg16 state dict: features.{0..28}.weight/bias, "
        "optionally classifier.{0,3,6}.*",
        lambda: vgg.torch_shapes(16),
        lambda sd: vgg.from_torch(sd, 16)),
    "vgg19": _Kind(
        "VGG19",
        "torchvision's ImageNet VGG19 weights vgg19-dcbb9e9d.pth",
        "a torchvision vgg19 state dict: features.{0..34}.weight/bias, "
        "optionally classifier.{0,3,6}.*",
        lambda: vgg.torch_shapes(19),
        lambda sd: vgg.from_torch(sd, 19)),
    "lpips_vgg": _Kind(
        "the LPIPS-VGG heads",
        "the lpips package's weights/v0.1/vgg.pth",
        "lin0.model.1.weight [1, 64, 1, 1] ... lin4.model.1.weight "
        "[1, 512, 1, 1]",
        lpips.torch_shapes, lpips.from_torch),
}


def default_cache_dir() -> pathlib.Path:
  """`$STYLEGAN_JAX_CACHE`, else `~/.cache/stylegan_jax`."""
  env = os.environ.get("STYLEGAN_JAX_CACHE")
  if env:
    return pathlib.Path(env).expanduser()
  return pathlib.Path.home() / ".cache" / "stylegan_jax"


def load(
    kind: str,
    path: str | os.PathLike[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> dict[str, jax.Array]:
  """Reads, checks, converts and caches one feature network's weights.

  Args:
    kind: 'inception', 'vgg16', 'vgg19' or 'lpips_vgg'.
    path: the user's torch file (`.pth`, or xz-compressed `.pth.xz`).
    cache_dir: where converted weights are kept (see the module docstring).

  Returns:
    The params of the kind's module ({name: float32 array}), on the default
    device.

  Raises:
    WeightsError: unknown kind, no file, an unreadable file, or a state dict
      with missing, unexpected or wrongly shaped entries.
  """
  spec = KINDS.get(kind)
  if spec is None:
    raise WeightsError(f"unknown weights kind {kind!r}; choose one of "
                       f"{sorted(KINDS)}")
  path = pathlib.Path(path).expanduser()
  if not path.is_file():
    raise WeightsError(
        f"no {spec.network} weights at {path}: bring {spec.standard} "
        f"({spec.layout}); stylegan_jax never downloads weights")
  root = pathlib.Path(cache_dir).expanduser() if cache_dir else (
      default_cache_dir())
  root = root / "features"
  try:
    sha256 = _source_sha256(path, root)
  except OSError as e:
    raise WeightsError(f"cannot read {spec.network} weights from {path}: "
                       f"{e}") from None
  cached = root / f"{kind}-v{FORMAT}-{sha256}.npz"
  params = _read_cache(cached)
  if params is None:
    params = _convert(kind, spec, path)
    _write_cache(cached, params, {
        "kind": kind, "format": FORMAT, "source": str(path.resolve()),
        "size": path.stat().st_size, "sha256": sha256})
  return {k: jnp.asarray(v) for k, v in params.items()}


def check_state_dict(kind: str, state_dict: dict[str, np.ndarray],
                     where: str = "the state dict") -> None:
  """Raises `WeightsError` unless `state_dict` has the kind's keys/shapes."""
  spec = KINDS[kind]
  required, optional = spec.shapes()
  missing = [k for k in required if k not in state_dict]
  known = required | optional
  unexpected = [k for k in state_dict if k not in known]
  wrong = [f"{k} {tuple(v.shape)} != {known[k]}"
           for k, v in state_dict.items()
           if k in known and tuple(v.shape) != known[k]]
  problems = []
  for what, names in (("missing", missing), ("unexpected", unexpected),
                      ("wrong shapes", wrong)):
    if names:
      more = f" (+{len(names) - _LIST} more)" if len(names) > _LIST else ""
      problems.append(f"{what}: {', '.join(names[:_LIST])}{more}")
  if problems:
    raise WeightsError(
        f"{where} is not {spec.network} ({'; '.join(problems)}); bring "
        f"{spec.standard}")


def _convert(kind: str, spec: _Kind,
             path: pathlib.Path) -> dict[str, np.ndarray]:
  try:
    state_dict = torch_file.load_torch_state_dict(path)
  except torch_file.TorchFileError as e:
    raise WeightsError(
        f"cannot read {spec.network} weights from {path}: {e}; bring "
        f"{spec.standard}") from None
  check_state_dict(kind, state_dict, str(path))
  try:
    return spec.convert(state_dict)
  except ValueError as e:
    raise WeightsError(f"{path}: {e}") from None


# --------------------------------------------------------------------------
# The cache.


def _source_sha256(path: pathlib.Path, root: pathlib.Path) -> str:
  """The file's SHA-256, hashed only when its size or mtime changed."""
  real = str(path.resolve())
  stat = path.stat()
  index = _read_index(root)
  entry = index.get(real)
  if (isinstance(entry, dict) and entry.get("size") == stat.st_size
      and entry.get("mtime_ns") == stat.st_mtime_ns
      and isinstance(entry.get("sha256"), str)):
    return entry["sha256"]
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      digest.update(chunk)
  sha256 = digest.hexdigest()
  index = _read_index(root)  # Re-read: another process may have written.
  index[real] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                 "sha256": sha256}
  _atomic_write(root / _INDEX,
                lambda f: f.write(json.dumps(index, indent=1).encode()))
  return sha256


def _read_index(root: pathlib.Path) -> dict:
  try:
    index = json.loads((root / _INDEX).read_text())
  except (OSError, ValueError):
    return {}
  return index if isinstance(index, dict) else {}


def _read_cache(cached: pathlib.Path) -> dict[str, np.ndarray] | None:
  """The cached params, or None when absent or unreadable (then rebuilt).

  The file name pins the kind, the conversion format and the source hash.
  """
  if not cached.is_file():
    return None
  try:
    with np.load(cached, allow_pickle=False) as f:
      params = {k: f[k] for k in f.files if k != _META}
  except (OSError, ValueError, EOFError):
    return None
  return params


def _write_cache(cached: pathlib.Path, params: dict[str, np.ndarray],
                 meta: dict) -> None:
  arrays = dict(params)
  arrays[_META] = np.asarray(json.dumps(meta))
  _atomic_write(cached, lambda f: np.savez(f, **arrays))


def _atomic_write(target: pathlib.Path, write: Callable) -> None:
  """Writes via a temporary file and a rename; warns instead of failing."""
  try:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-",
                               suffix=target.suffix)
    try:
      with os.fdopen(fd, "wb") as f:
        write(f)
      os.replace(tmp, target)
    except BaseException:
      os.unlink(tmp)
      raise
  except OSError as e:
    warnings.warn(f"could not write the weights cache {target}: {e}; "
                  "weights will be converted again next time")
