"""Fine-tuning: start a run from published or earlier networks.

`config.train.resume_from` names an official `network-snapshot-*.pkl` (read
by the safe importer), one of our exported `.npz` models, or a training
workdir (`workdir[@step]`). When the run's workdir has no checkpoint yet, G,
D and G_ema start from it (and ADA's p from the snapshot's augment pipe, in
mode `ada`); the optimisers' states start fresh, as in the official code.
Once the run has checkpoints, it resumes from them and the source is not
read again.

What wins, key by key (`resolve_config`):

* The network settings (`SOURCE_KEYS`: z/w sizes, mapping layers and
  learning rate, channels, clamping, architectures, minibatch-stddev
  channels, and whether the networks are conditional) come from the source,
  replacing the experiment's own values. A value given on the command line
  (`--config.model.channel_base=...`, or `explicit=` from Python) that
  disagrees with the source is a one-line `ConfigError` naming both.
  `model.mbstd_group_size` shapes no weight: the source's value unless one
  is given explicitly.
* The data must fit the source: `data.resolution` and the number of classes
  (`check_labels`) must equal the source's, or it is a `ConfigError`.
* Everything else (losses, optimiser, augmentation, batch) is the config's.

When resuming a workdir that was started this way, the network settings are
taken from its newest checkpoint's stored config instead, so the source may
be gone.
"""

import dataclasses
import pathlib
from collections.abc import Collection
from typing import Any

from absl import flags
from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
from ml_collections import config_flags
import numpy as np

from stylegan_jax import checkpoint
from stylegan_jax import model_io
from stylegan_jax.errors import ConfigError
from stylegan_jax.errors import UserError
from stylegan_jax.interop import official
from stylegan_jax.interop import official_pickle
from stylegan_jax.nets import Discriminator
from stylegan_jax.nets import Generator
from stylegan_jax.nets import create_networks
from stylegan_jax.train.state import TrainState

# Config keys whose values come from the source.
SOURCE_KEYS = ("model.z_dim", "model.w_dim", "model.mapping_layers",
               "model.mapping_lr_multiplier", "model.channel_base",
               "model.channel_max", "model.conv_clamp",
               "model.g_architecture", "model.d_architecture",
               "model.mbstd_num_channels", "model.mbstd_group_size",
               "data.conditional")
# Of those, the ones an explicit value may override (they shape no weight).
FREE_KEYS = ("model.mbstd_group_size",)
# Network fields that `config.model` does not set, or that are free (the
# compute precision shapes no weight).
_IGNORED_FIELDS = ("parent", "name", "fused_modconv", "mbstd_group_size",
                   "num_fp16_res", "fp16_dtype")
Variables = dict[str, Any]


@dataclasses.dataclass(frozen=True, eq=False)
class Source:
  """The networks a fine-tuning run starts from.

  Attributes:
    spec: what `train.resume_from` said.
    G: the generator (G and G_ema share it).
    g_variables, ema_variables: G's and G_ema's {'params', 'buffers'} (the
      same arrays when the source holds one generator, as exports do).
    D, d_variables: the discriminator, or None when the source has none
      (then D starts from random weights).
    augment_p: the snapshot's augmentation probability, or None.
  """

  spec: str
  G: Generator
  g_variables: Variables
  ema_variables: Variables
  D: Discriminator | None
  d_variables: Variables | None
  augment_p: float | None = None


def load_source(spec: str) -> Source:
  """Reads a snapshot .pkl, an export .npz or a workdir[@step].

  Raises:
    UserError: the source cannot be read or holds networks we cannot build.
  """
  path = pathlib.Path(spec).expanduser()
  try:
    if path.suffix == ".pkl" and path.is_file():
      return _from_snapshot(spec, path)
    ema = model_io.load_model(spec, "G_ema")
    is_workdir = pathlib.Path(str(path).rpartition("@")[0] or path).is_dir()
    g = model_io.load_model(spec, "G") if is_workdir else ema
  except UserError as e:
    raise ConfigError(f"train.resume_from: {e}") from None
  return Source(spec=spec, G=ema.G, g_variables=g.variables,
                ema_variables=ema.variables, D=ema.D,
                d_variables=ema.d_variables)


def _from_snapshot(spec: str, path: pathlib.Path) -> Source:
  snapshot = official_pickle.load_snapshot(path)
  try:
    G, g_variables = official.import_generator(snapshot.G.init_kwargs,
                                               snapshot.G.state_dict)
    _, ema_variables = official.import_generator(
        snapshot.G_ema.init_kwargs, snapshot.G_ema.state_dict)
    D, d_variables = official.import_discriminator(snapshot.D.init_kwargs,
                                                   snapshot.D.state_dict)
  except ValueError as e:
    raise ConfigError(f"train.resume_from={spec!r}: cannot rebuild its "
                      f"networks ({e}) — use a snapshot of a supported "
                      "architecture") from None
  p = None
  if snapshot.augment_pipe is not None:
    value = snapshot.augment_pipe.state_dict.get("p")
    if value is not None:
      p = float(np.asarray(value).reshape(()))
  return Source(spec=spec, G=G, g_variables=g_variables,
                ema_variables=ema_variables, D=D, d_variables=d_variables,
                augment_p=p)


def source_settings(source: Source) -> dict[str, Any]:
  """The values of `SOURCE_KEYS` that rebuild the source's networks."""
  G, D = source.G, source.D
  out = {"model.z_dim": G.z_dim, "model.w_dim": G.w_dim,
         "model.mapping_layers": G.mapping_layers,
         "model.mapping_lr_multiplier": float(G.mapping_lr_multiplier),
         "model.channel_base": G.channel_base,
         "model.channel_max": G.channel_max,
         "model.conv_clamp": (None if G.conv_clamp is None
                              else float(G.conv_clamp)),
         "model.g_architecture": G.architecture,
         "data.conditional": G.c_dim > 0}
  if D is not None:
    out["model.d_architecture"] = D.architecture
    out["model.mbstd_num_channels"] = D.mbstd_num_channels
    if D.mbstd_group_size is not None:
      out["model.mbstd_group_size"] = D.mbstd_group_size
  return out


def command_line_overrides() -> frozenset[str]:
  """The config keys given as `--config.a.b=...` flags (empty outside the
  command line), i.e. the values the user set explicitly."""
  try:
    flag = flags.FLAGS["config"]
    return frozenset(config_flags.get_override_values(flag))
  except (KeyError, TypeError, AttributeError):
    return frozenset()


def _get(config, key: str):
  section, name = key.split(".")
  return config[section][name]


def _set(config, key: str, value) -> None:
  section, name = key.split(".")
  config[section][name] = value


def _stored_config(workdir: pathlib.Path) -> dict[str, Any] | None:
  """The config stored with the workdir's newest readable checkpoint."""
  if not (workdir / checkpoint.CHECKPOINTS).is_dir():
    return None
  manager = checkpoint.create_manager(workdir, read_only=True)
  for step in reversed(checkpoint.steps(manager)):
    try:
      return checkpoint.read_config(manager, step)["config"]
    except Exception:  # pylint: disable=broad-except
      continue  # The loop sets unreadable checkpoints aside.
  return None


def resolve_config(
    config: ml_collections.ConfigDict, workdir: str | pathlib.Path, *,
    explicit: Collection[str] = (),
) -> tuple[ml_collections.ConfigDict, Source | None]:
  """The config a run trains with, and the source to initialise from.

  Args:
    config: the experiment config (not modified).
    workdir: the run's workdir.
    explicit: config keys the user set explicitly (`command_line_overrides`).

  Returns:
    (config, source): without `train.resume_from`, `config` itself and
    None; when the workdir has a checkpoint to resume (and `train.resume`
    is 'auto'), a copy whose `SOURCE_KEYS` come from that checkpoint and
    None; otherwise a copy whose `SOURCE_KEYS` come from the source, and the
    source.

  Raises:
    ConfigError: an explicit value or the data resolution disagrees with the
      source, or the source's networks cannot be expressed by the config.
  """
  spec = config.train.resume_from
  if not spec:
    return config, None
  out = config.copy_and_resolve_references()
  stored = (_stored_config(pathlib.Path(workdir))
            if config.train.resume == "auto" else None)
  if stored is not None:
    for key in SOURCE_KEYS:
      section, name = key.split(".")
      if key not in explicit and name in stored.get(section, {}):
        _set(out, key, stored[section][name])
    logging.info("train.resume_from: %s has checkpoints; resuming them (the "
                 "network settings are the stored ones)", workdir)
    return out, None

  source = load_source(spec)
  settings = source_settings(source)
  for key, value in settings.items():
    current = _get(config, key)
    if current == value:
      continue
    if key in explicit and key not in FREE_KEYS:
      raise ConfigError(
          f"{key}={current!r} disagrees with {spec} (it has {value!r}) — "
          "fine-tuning takes the network settings from the source: drop "
          f"--config.{key}, or start from another source")
    if key not in explicit:
      logging.info("train.resume_from: %s = %r from the source (the "
                   "experiment had %r)", key, value, current)
      _set(out, key, value)
  res = source.G.img_resolution
  if config.data.resolution != res:
    raise ConfigError(
        f"data.resolution={config.data.resolution} but {spec} makes "
        f"{res}x{res} images — train on {res}-pixel data "
        f"(data.resolution={res}, e.g. experiments/auto.py:res={res}) or "
        "fine-tune a source of your resolution")
  if source.G.img_channels != 3:
    raise ConfigError(f"{spec} makes {source.G.img_channels}-channel images;"
                      " training reads RGB — use an RGB source")
  _check_networks(out, source)
  return out, source


def _check_networks(config: ml_collections.ConfigDict, source: Source):
  """Raises ConfigError unless the config rebuilds the source's networks."""
  G, D = create_networks(config, source.G.c_dim)
  pairs = [("G", G, source.G)] + (
      [] if source.D is None else [("D", D, source.D)])
  for what, ours, theirs in pairs:
    for field in dataclasses.fields(ours):
      if field.name in _IGNORED_FIELDS:
        continue
      a, b = getattr(ours, field.name), getattr(theirs, field.name)
      if (tuple(a) if isinstance(a, (list, tuple)) else a) != (
          tuple(b) if isinstance(b, (list, tuple)) else b):
        raise ConfigError(
            f"train.resume_from={source.spec!r}: its {what}.{field.name}="
            f"{b!r} cannot be set from config.model (it would be {a!r}) — "
            "fine-tune a source with the official defaults for it")


def check_labels(source: Source | None, c_dim: int) -> None:
  """Raises ConfigError when the data's label count differs from the
  source's (c_dim: the data's classes, 0 when unconditional)."""
  if source is None or c_dim == source.G.c_dim:
    return
  if not source.G.c_dim:
    raise ConfigError(
        f"the data has {c_dim} classes but {source.spec} is unconditional — "
        "set --config.data.conditional=False or use a conditional source")
  raise ConfigError(
      f"{source.spec} is conditional on {source.G.c_dim} classes but the data"
      f" has {c_dim} — use data with {source.G.c_dim} class subfolders, or "
      "another source")


def initialise(state: TrainState, source: Source, shardings: TrainState, *,
               use_augment_p: bool) -> TrainState:
  """A fresh state whose G, G_ema and D (when the source has one) are the
  source's; with `use_augment_p`, p is the snapshot's (when it has one).

  Args:
    state: a freshly initialised state (optimiser states stay as they are).
    source: from `resolve_config`.
    shardings: the state's shardings (`Setup.state_shardings`).
    use_augment_p: whether p adapts (mode `ada`) and so starts from the
      snapshot's.
  """
  fields = {"g_params": source.g_variables["params"],
            "g_buffers": source.g_variables["buffers"],
            "ema_params": source.ema_variables["params"],
            "ema_buffers": source.ema_variables["buffers"]}
  if source.d_variables is not None:
    fields["d_params"] = source.d_variables["params"]
  else:
    logging.warning("train.resume_from: %s has no discriminator; D starts "
                    "from random weights", source.spec)
  new = {}
  for name, tree in fields.items():
    target = getattr(state, name)
    if jax.tree.structure(target) != jax.tree.structure(tree) or any(
        np.shape(a) != np.shape(b) for a, b in zip(
            jax.tree.leaves(target), jax.tree.leaves(tree))):
      raise ConfigError(f"train.resume_from={source.spec!r}: its {name} do "
                        "not fit the networks built from the config — "
                        "report this with the source's kwargs")
    new[name] = jax.device_put(
        jax.tree.map(lambda x, t: np.asarray(x, t.dtype), tree, target),
        getattr(shardings, name))
  state = state.replace(**new)
  if use_augment_p and source.augment_p is not None:
    augment = dict(state.augment)
    augment["p"] = jax.device_put(jnp.asarray(source.augment_p, jnp.float32),
                                  shardings.augment["p"])
    state = state.replace(augment=augment)
  return state
