"""One way to name a model, used by every tool; exports written and checked.

A model spec is one of:

* a training workdir (`workdirs/demo`), optionally with a checkpoint step
  (`workdirs/demo@1500`): its newest (or chosen) checkpoint, of which only
  the networks' variables are read;
* an exported model file (`*.npz`, written by `save_model` or
  `python -m stylegan_jax.convert`): variables plus a versioned JSON config,
  no pickled code (read with `allow_pickle=False`);
* an official StyleGAN2-ADA network pickle (`*.pkl`), read by the safe
  reader in `interop.official_pickle` (no torch, nothing from it runs).

`network` picks G_ema (default) or G where the source has both.

Workdirs and exports hold StyleGAN2 networks or a classic baseline's
(`mlp`, `dcgan`, `vanilla`; `nets.factory.NETWORKS`). A baseline's G maps z
straight to images: it generates, but has no W space, so what works in W
(mapping, truncation, style mixing, W walks, projection) asks for a StyleGAN
model (`Model.require_stylegan`).

Exports are untrusted files: before anything is built, the JSON config is
checked (known fields, types, sane sizes), the archive's members are checked
against the arrays that config implies (every one present, nothing else,
exact shapes and dtypes, uncompressed sizes within what those shapes need and
within `max_bytes`), and the arrays must be finite. Loading a model imports
neither `stylegan_jax.train` nor TensorFlow.
"""

import dataclasses
import json
import math
import os
import pathlib
import zipfile
from typing import Any

import flax.linen as nn
import jax
import ml_collections
import numpy as np

from stylegan_jax import checkpoint
from stylegan_jax import tree_util
from stylegan_jax.errors import UserError
from stylegan_jax.images import atomic_path
from stylegan_jax.interop import official
from stylegan_jax.interop import official_pickle
from stylegan_jax.nets import create_networks
from stylegan_jax.nets import factory
from stylegan_jax.nets.factory import abstract_discriminator_variables
from stylegan_jax.nets.factory import abstract_generator_variables

FORMAT = "stylegan_jax.model"
FORMAT_VERSION = 1
NETWORKS = ("G_ema", "G")
# Exports larger than this (uncompressed) are refused unless asked for.
DEFAULT_MAX_BYTES = 8 << 30
_CONFIG_MAX_BYTES = 1 << 20
Variables = dict[str, Any]


class ModelFileError(UserError):
  """A model file is missing, unreadable, tampered with or not a model."""


@dataclasses.dataclass(frozen=True)
class Model:
  """A generator (and, when the source has one, a discriminator).

  Attributes:
    G: the generator module (StyleGAN2's `Generator` or a baseline's).
    variables: its variables, {'params': ..., 'buffers': ...} ('params'
      only for a baseline).
    class_names: label names for conditional models (indices as strings
      when the source has no names); empty when unconditional.
    source: where it came from, for messages.
    D: the discriminator, or None.
    d_variables: D's variables, or None.
  """

  G: nn.Module
  variables: Variables
  class_names: tuple[str, ...] = ()
  source: str = ""
  D: nn.Module | None = None
  d_variables: Variables | None = None

  @property
  def family(self) -> str:
    """'stylegan2' or the baseline's name ('mlp', 'dcgan', 'vanilla')."""
    return factory.network_family(self.G)

  @property
  def is_stylegan(self) -> bool:
    """Whether G is StyleGAN's (a W space, noise inputs)."""
    return factory.is_stylegan(self.G)

  def require_stylegan(self, what: str,
                       hint: str = "generate and metrics swd work with it"
                       ) -> None:
    """Raises a one-line UserError unless G is StyleGAN's.

    Args:
      what: what needs W, e.g. 'style mixing'.
      hint: what the user can do instead.
    """
    if not self.is_stylegan:
      raise UserError(
          f"{what} needs a StyleGAN model (it works in W) — {self.source} is "
          f"a baseline ({self.family}) whose G maps z straight to images; "
          f"{hint}")

  def generate(self, z, c=None) -> jax.Array:
    """A baseline's z [N, z_dim], c [N, c_dim] -> images [N, H, W, C]."""
    if self.is_stylegan:
      raise UserError(f"{self.source} is a StyleGAN model — use map and "
                      "synthesize (or sampling.generate_images)")
    return self.G.apply(self.variables, z, c)

  def class_index(self, name_or_index: str | int) -> int:
    """A class given by name or index -> its index, with a clear error."""
    if not self.G.c_dim:
      raise UserError(f"{self.source} is unconditional — it takes no class")
    names = list(self.class_names)
    if isinstance(name_or_index, str) and name_or_index in names:
      return names.index(name_or_index)
    try:
      index = int(name_or_index)
    except ValueError:
      raise UserError(f"unknown class {name_or_index!r} — {self.source} has "
                      f"{names}") from None
    if not 0 <= index < self.G.c_dim:
      raise UserError(f"class index {index} out of range — use 0 to "
                      f"{self.G.c_dim - 1}")
    return index

  def map(self, z, c=None, truncation_psi: float = 1.0,
          truncation_cutoff: int | None = None) -> jax.Array:
    """z [N, z_dim], c [N, c_dim] -> ws [N, num_ws, w_dim] (G.map)."""
    self.require_stylegan("mapping z to W")
    return self.G.apply(self.variables, z, c, truncation_psi,
                        truncation_cutoff, method=self.G.map)

  def synthesize(self, ws, noise_mode: str = "const",
                 noise_key: jax.Array | None = None) -> jax.Array:
    """ws [N, num_ws, w_dim] -> images [N, H, W, C] in [-1, 1]."""
    self.require_stylegan("synthesis from W")
    rngs = {"noise": noise_key} if noise_key is not None else None
    return self.G.apply(self.variables, ws, noise_mode=noise_mode,
                        method=self.G.synthesize, rngs=rngs)


def load_model(spec: str | os.PathLike, network: str = "G_ema", *,
               max_bytes: int = DEFAULT_MAX_BYTES) -> Model:
  """Loads the model a spec names (see the module docstring).

  Args:
    spec: workdir[@step], exported `.npz`, or official `.pkl`.
    network: 'G_ema' or 'G'.
    max_bytes: refuse exports whose arrays need more memory than this.

  Returns:
    The Model.

  Raises:
    ModelFileError (a UserError) naming the spec and what was expected.
  """
  if network not in NETWORKS:
    raise UserError(f"network must be one of {NETWORKS}, got {network!r}")
  text = str(spec)
  path_text, _, step_text = text.rpartition("@") if "@" in text else (
      text, "", "")
  path = pathlib.Path(path_text)
  if path.is_dir():
    if step_text and not step_text.isdigit():
      raise ModelFileError(f"{text}: the step after '@' must be a number")
    return _from_workdir(path, int(step_text) if step_text else None, network)
  if step_text:
    raise ModelFileError(f"{text}: '@step' only applies to a training "
                         "workdir")
  if not path.exists():
    raise ModelFileError(
        f"no model at {path} — expected a training workdir (with "
        "checkpoints/), an exported .npz or an official .pkl")
  if path.suffix == ".pkl":
    return _from_official_pickle(path, network)
  return _from_export(path, max_bytes)


def _from_workdir(workdir: pathlib.Path, step: int | None,
                  network: str) -> Model:
  if not (workdir / checkpoint.CHECKPOINTS).is_dir():
    raise ModelFileError(f"{workdir} is not a training workdir — it has no "
                         "checkpoints/ folder")
  manager = checkpoint.create_manager(workdir, read_only=True)
  steps = checkpoint.steps(manager)
  if not steps:
    raise ModelFileError(f"no checkpoint in {workdir}/checkpoints — train "
                         "first, or name another model")
  if step is None:
    step = steps[-1]
  elif step not in steps:
    raise ModelFileError(f"{workdir} has no checkpoint {step} — it has "
                         f"{steps}")
  meta = checkpoint.read_config(manager, step)
  config = _stored_config(meta["config"])
  G, D = create_networks(config, meta["c_dim"])
  g_fields = ("ema_params", "ema_buffers") if network == "G_ema" else (
      "g_params", "g_buffers")
  g_abstract = abstract_generator_variables(G)
  # A baseline's G has no buffers (its state holds empty ones).
  collections = [c for c in ("params", "buffers") if c in g_abstract]
  abstract = {g_fields[i]: g_abstract[c] for i, c in enumerate(collections)}
  abstract["d_params"] = abstract_discriminator_variables(D)["params"]
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  abstract = jax.tree.map(
      lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=device),
      abstract)
  restored = checkpoint.restore_variables(manager, step, abstract)
  return Model(G=G, variables={c: restored[g_fields[i]]
                               for i, c in enumerate(collections)},
               class_names=tuple(meta.get("class_names", ())),
               source=f"{workdir}@{step} ({network})", D=D,
               d_variables={"params": restored["d_params"]})


def _stored_config(stored: dict[str, Any]) -> ml_collections.ConfigDict:
  """A checkpoint's JSON config, with keys older runs did not write."""
  config = ml_collections.ConfigDict(stored)
  if "channels" not in config.data:
    config.data.channels = 3  # Before data.channels, everything was RGB.
  if "num_fp16_res" not in config.model:  # Before mixed precision: float32.
    config.model.num_fp16_res = 0
    config.model.fp16_dtype = "bfloat16"
  return config


def _from_official_pickle(path: pathlib.Path, network: str) -> Model:
  snapshot = official_pickle.load_snapshot(path)
  net = snapshot.G_ema if network == "G_ema" else snapshot.G
  G, variables = official.import_generator(net.init_kwargs, net.state_dict)
  D, d_variables = official.import_discriminator(snapshot.D.init_kwargs,
                                                 snapshot.D.state_dict)
  return Model(G=G, variables=variables,
               class_names=tuple(str(i) for i in range(G.c_dim)),
               source=f"{path} ({network})", D=D, d_variables=d_variables)


# ------------------------------------------------------------------ export --


def _module_fields(module) -> dict[str, Any]:
  out = {}
  for f in dataclasses.fields(module):
    if f.name in ("parent", "name"):
      continue
    value = getattr(module, f.name)
    out[f.name] = list(value) if isinstance(value, tuple) else value
  return out


def save_model(path: str | os.PathLike, model: Model) -> pathlib.Path:
  """Writes `model` as an exported `.npz` (arrays + JSON config).

  The file is written under a temporary name and renamed, so an interrupted
  or failed export (a full disk) leaves nothing under `path` and no partial
  file beside it.
  """
  path = pathlib.Path(path)
  if path.suffix != ".npz":
    raise UserError(f"exported models end in .npz, got {path} — e.g. "
                    f"{path.with_suffix('.npz')}")
  config = {"format": FORMAT, "version": FORMAT_VERSION,
            "family": model.family,
            "generator": _module_fields(model.G),
            "class_names": list(model.class_names),
            "source": model.source}
  arrays = tree_util.flatten(model.variables, "G")
  if model.D is not None:
    config["discriminator"] = _module_fields(model.D)
    arrays.update(tree_util.flatten(model.d_variables, "D"))
  with atomic_path(path) as tmp, open(tmp, "wb") as f:
    np.savez(f, config=np.asarray(json.dumps(config)), **arrays)
  return path


# Sane bounds for the integer fields of an exported network (no real model
# comes near them; they stop absurd sizes before anything is allocated).
_INT_BOUNDS = {
    "z_dim": (0, 65536), "c_dim": (0, 100_000), "w_dim": (1, 65536),
    "img_resolution": (4, 8192), "img_channels": (1, 4),
    "mapping_layers": (0, 64), "mapping_embed_features": (1, 65536),
    "mapping_layer_features": (1, 65536), "channel_base": (1, 1 << 24),
    "channel_max": (1, 65536), "cmap_dim": (1, 65536),
    "mbstd_group_size": (1, 65536), "mbstd_num_channels": (0, 65536),
    "channels": (1, 65536), "channel_min": (1, 65536),
    "num_fp16_res": (0, 64),
}
# Fields that are short lists of numbers: name -> (most entries, numbers are
# integers >= 1).
_LIST_FIELDS = {"resample_filter": (16, False), "hidden": (64, True)}


def _check_fields(module_cls, fields: Any, what: str, source, *,
                  power_of_two: bool) -> dict:
  """Export config fields -> kwargs for module_cls, or ModelFileError.

  `power_of_two`: img_resolution must be one (StyleGAN's networks).
  """
  if not isinstance(fields, dict):
    raise ModelFileError(f"{source}: the {what} config is not an object")
  known = {f.name: f for f in dataclasses.fields(module_cls)
           if f.name not in ("parent", "name")}
  unknown = sorted(set(fields) - set(known))
  if unknown:
    raise ModelFileError(f"{source}: unknown {what} field(s) {unknown[:5]}")
  out = {}
  for name, value in fields.items():
    if name in _INT_BOUNDS and value is not None:
      lo, hi = _INT_BOUNDS[name]
      if (not isinstance(value, int) or isinstance(value, bool)
          or not lo <= value <= hi):
        raise ModelFileError(f"{source}: {what}.{name}={value!r} is not an "
                             f"integer in [{lo}, {hi}]")
    elif isinstance(value, float) and not math.isfinite(value):
      raise ModelFileError(f"{source}: {what}.{name}={value!r} is not finite")
    if name in _LIST_FIELDS:
      most, positive_ints = _LIST_FIELDS[name]
      if (not isinstance(value, list) or not 1 <= len(value) <= most or
          not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                  for v in value) or (positive_ints and not all(
                      isinstance(v, int) and 1 <= v <= 65536
                      for v in value))):
        raise ModelFileError(f"{source}: {what}.{name} is not a short list "
                             "of " + ("layer widths" if positive_ints
                                      else "numbers"))
      value = tuple(value)
    out[name] = value
  res = out.get("img_resolution", 0)
  if power_of_two and res & (res - 1):
    raise ModelFileError(f"{source}: {what}.img_resolution={res} is not a "
                         "power of two")
  return out


def _expected(prefix: str, abstract: Variables) -> dict[str, tuple]:
  """{'<prefix>/a/b': (shape, dtype)} of a network's abstract variables."""
  return {f"{prefix}/{tree_util.path_name(path)}": (tuple(leaf.shape),
                                                   np.dtype(leaf.dtype))
          for path, leaf in jax.tree_util.tree_flatten_with_path(abstract)[0]}


def _from_export(path: pathlib.Path, max_bytes: int) -> Model:
  source = str(path)
  try:
    archive = zipfile.ZipFile(path)
  except (zipfile.BadZipFile, OSError) as e:
    raise ModelFileError(f"{source} is not an exported model (.npz): "
                         f"{e}") from None
  with archive:
    members = {info.filename: info for info in archive.infolist()}
    info = members.get("config.npy")
    if info is None:
      raise ModelFileError(f"{source} is an .npz but not a {FORMAT} export "
                           "(no valid 'config' entry)")
    if info.file_size > _CONFIG_MAX_BYTES:
      raise ModelFileError(f"{source}: its config entry is "
                           f"{info.file_size} bytes; a real one is tiny")
    try:
      with archive.open(info) as f:
        config = json.loads(str(np.lib.format.read_array(
            f, allow_pickle=False)))
      assert isinstance(config, dict) and config["format"] == FORMAT
    except (KeyError, AssertionError, ValueError, OSError,
            zipfile.BadZipFile) as e:
      raise ModelFileError(f"{source} is an .npz but not a {FORMAT} export "
                           f"(no valid 'config' entry: {e})") from None
    version = config.get("version")
    if not isinstance(version, int) or version < 1:
      raise ModelFileError(f"{source}: bad export version {version!r}")
    if version > FORMAT_VERSION:
      raise ModelFileError(
          f"{source} has export version {version}; this stylegan_jax reads "
          f"up to {FORMAT_VERSION} — upgrade stylegan_jax")

    family = config.get("family", "stylegan2")  # Older exports: StyleGAN2.
    if family not in factory.NETWORKS:
      raise ModelFileError(f"{source}: unknown network family {family!r} — "
                           f"this stylegan_jax reads "
                           f"{', '.join(factory.NETWORKS)}")
    g_cls, d_cls = factory.NETWORKS[family]
    stylegan = family == "stylegan2"
    try:
      G = g_cls(**_check_fields(g_cls, config.get("generator"), "generator",
                                source, power_of_two=stylegan))
      expected = _expected("G", abstract_generator_variables(G))
      D = None
      if "discriminator" in config:
        D = d_cls(**_check_fields(d_cls, config["discriminator"],
                                  "discriminator", source,
                                  power_of_two=stylegan))
        expected.update(_expected("D", abstract_discriminator_variables(D)))
    except ModelFileError:
      raise
    except (TypeError, ValueError) as e:
      raise ModelFileError(f"{source}: its config does not describe a valid "
                           f"network ({e})") from None

    need = sum(math.prod(s) * d.itemsize for s, d in expected.values())
    if need > max_bytes:
      raise ModelFileError(
          f"{source}: its config implies {need / 2**30:.1f} GiB of weights, "
          f"over the {max_bytes / 2**30:.1f} GiB limit (max_bytes)")
    names = {m[:-4] for m in members if m.endswith(".npy")} - {"config"}
    missing, extra = sorted(set(expected) - names), sorted(
        names - set(expected))
    if missing or extra:
      raise ModelFileError(
          f"{source} does not match its own config: missing arrays "
          f"{missing[:4]}, unexpected {extra[:4]}")
    arrays = {}
    for name, (shape, dtype) in expected.items():
      member = members[name + ".npy"]
      limit = math.prod(shape) * dtype.itemsize + 4096  # .npy header.
      if member.file_size > limit:
        raise ModelFileError(f"{source}: array {name} expands to "
                             f"{member.file_size} bytes; {shape} needs "
                             f"{limit - 4096}")
      try:
        with archive.open(member) as f:
          array = np.lib.format.read_array(f, allow_pickle=False)
      except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise ModelFileError(f"{source}: array {name} is unreadable "
                             f"({e})") from None
      if array.shape != shape or array.dtype != dtype:
        raise ModelFileError(
            f"{source}: array {name} is {array.dtype} {array.shape}, the "
            f"network needs {dtype} {shape}")
      if not np.all(np.isfinite(array)):
        raise ModelFileError(f"{source}: array {name} holds NaN or inf")
      arrays[name] = array

  class_names = config.get("class_names", [])
  if (not isinstance(class_names, list) or
      not all(isinstance(n, str) for n in class_names) or
      len(class_names) not in (0, G.c_dim)):
    raise ModelFileError(f"{source}: class_names do not match c_dim="
                         f"{G.c_dim}")
  return Model(G=G, variables=tree_util.unflatten(arrays, "G"),
               class_names=tuple(class_names), source=source, D=D,
               d_variables=(tree_util.unflatten(arrays, "D") if D else None))

