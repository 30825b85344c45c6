"""One way to name a model, used by every tool.

A model spec is one of:

* a training workdir (`workdirs/demo`), optionally with a checkpoint step
  (`workdirs/demo@1500`): its newest (or chosen) checkpoint;
* an exported model file (`*.npz`, written by `save_model` or
  `python -m stylegan_jax.convert`): variables plus a versioned JSON config,
  no pickled code (read with `allow_pickle=False`);
* an official StyleGAN2-ADA network pickle (`*.pkl`), read by the safe
  reader in `interop.official_pickle` (no torch, nothing from it runs).

`network` picks G_ema (default), G or D where the source has them.
"""

import dataclasses
import json
import pathlib
from typing import Any

import jax
import ml_collections
import numpy as np

from stylegan_jax import checkpoint
from stylegan_jax.interop import official
from stylegan_jax.interop import official_pickle
from stylegan_jax.nets import Discriminator
from stylegan_jax.nets import Generator
from stylegan_jax.train import setup
from stylegan_jax.train import state as state_lib

FORMAT = "stylegan_jax.model"
FORMAT_VERSION = 1
NETWORKS = ("G_ema", "G")
Variables = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Model:
  """A generator (and, when the source has one, a discriminator).

  Attributes:
    G: the generator module.
    variables: its variables, {'params': ..., 'buffers': ...}.
    class_names: label names for conditional models (indices as strings
      when the source has no names); empty when unconditional.
    source: where it came from, for messages.
    D: the discriminator, or None.
    d_variables: D's variables, or None.
  """

  G: Generator
  variables: Variables
  class_names: tuple[str, ...] = ()
  source: str = ""
  D: Discriminator | None = None
  d_variables: Variables | None = None

  def class_index(self, name_or_index: str | int) -> int:
    """A class given by name or index -> its index, with a clear error."""
    if not self.G.c_dim:
      raise ValueError(f"{self.source} is unconditional; it takes no class")
    names = list(self.class_names)
    if isinstance(name_or_index, str) and name_or_index in names:
      return names.index(name_or_index)
    try:
      index = int(name_or_index)
    except ValueError:
      raise ValueError(f"unknown class {name_or_index!r}; {self.source} has "
                       f"{names}") from None
    if not 0 <= index < self.G.c_dim:
      raise ValueError(f"class index {index} out of range [0, "
                       f"{self.G.c_dim})")
    return index


def load_model(spec: str | pathlib.Path, network: str = "G_ema") -> Model:
  """Loads the model a spec names (see the module docstring).

  Args:
    spec: workdir[@step], exported `.npz`, or official `.pkl`.
    network: 'G_ema' or 'G'.

  Returns:
    The Model.

  Raises:
    FileNotFoundError / ValueError with a message naming the spec.
  """
  if network not in NETWORKS:
    raise ValueError(f"network must be one of {NETWORKS}, got {network!r}")
  text = str(spec)
  path_text, _, step_text = text.rpartition("@") if "@" in text else (
      text, "", "")
  path = pathlib.Path(path_text)
  if path.is_dir():
    return _from_workdir(path, int(step_text) if step_text else None, network)
  if step_text:
    raise ValueError(f"{text}: '@step' only applies to a training workdir")
  if not path.exists():
    raise FileNotFoundError(
        f"no model at {path}: expected a training workdir (with "
        "checkpoints/), an exported .npz or an official .pkl")
  if path.suffix == ".pkl":
    return _from_official_pickle(path, network)
  return _from_export(path, network)


def _from_workdir(workdir: pathlib.Path, step: int | None,
                  network: str) -> Model:
  if not (workdir / "checkpoints").is_dir():
    raise FileNotFoundError(f"{workdir} is not a training workdir: it has "
                            "no checkpoints/ folder")
  manager = checkpoint.create_manager(workdir)
  steps = sorted(manager.all_steps())
  if not steps:
    raise FileNotFoundError(f"no checkpoint in {workdir}/checkpoints")
  if step is None:
    step = steps[-1]
  elif step not in steps:
    raise ValueError(f"{workdir} has no checkpoint {step}; it has {steps}")
  meta = checkpoint.read_config(manager, step)
  config = ml_collections.ConfigDict(meta["config"])
  G, D = setup.create_networks(config, meta["c_dim"])
  g_tx, d_tx = setup.create_optimizers(config)
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  abstract = jax.eval_shape(lambda: state_lib.create_train_state(
      jax.random.key(0), G, D, g_tx, d_tx))
  abstract = jax.tree.map(
      lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=device),
      abstract)
  restored = checkpoint.restore_step(manager, step, abstract)
  if network == "G_ema":
    variables = {"params": restored.ema_params,
                 "buffers": restored.ema_buffers}
  else:
    variables = {"params": restored.g_params, "buffers": restored.g_buffers}
  return Model(G=G, variables=variables,
               class_names=tuple(meta.get("class_names", ())),
               source=f"{workdir}@{step} ({network})", D=D,
               d_variables={"params": restored.d_params})


def _from_official_pickle(path: pathlib.Path, network: str) -> Model:
  snapshot = official_pickle.load_snapshot(path)
  net = snapshot.G_ema if network == "G_ema" else snapshot.G
  G, variables = official.import_generator(net.init_kwargs, net.state_dict)
  D, d_variables = official.import_discriminator(snapshot.D.init_kwargs,
                                                 snapshot.D.state_dict)
  return Model(G=G, variables=variables,
               class_names=tuple(str(i) for i in range(G.c_dim)),
               source=f"{path} ({network})", D=D, d_variables=d_variables)


def _module_fields(module) -> dict[str, Any]:
  out = {}
  for f in dataclasses.fields(module):
    if f.name in ("parent", "name"):
      continue
    value = getattr(module, f.name)
    out[f.name] = list(value) if isinstance(value, tuple) else value
  return out


def _flatten(prefix: str, tree) -> dict[str, np.ndarray]:
  flat = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    keys = "/".join(str(getattr(k, "key", k)) for k in path)
    flat[f"{prefix}/{keys}"] = np.asarray(leaf)
  return flat


def _unflatten(arrays: dict[str, np.ndarray], prefix: str) -> Variables:
  out: dict[str, Any] = {}
  for key, value in arrays.items():
    if not key.startswith(prefix + "/"):
      continue
    node = out
    *parents, leaf = key[len(prefix) + 1:].split("/")
    for p in parents:
      node = node.setdefault(p, {})
    node[leaf] = value
  return out


def save_model(path: str | pathlib.Path, model: Model) -> pathlib.Path:
  """Writes `model` as an exported `.npz` (arrays + JSON config).

  The file is written to a temporary name and renamed, so an interrupted
  export never leaves a partial file under `path`.
  """
  path = pathlib.Path(path)
  if path.suffix != ".npz":
    raise ValueError(f"exported models end in .npz, got {path}")
  config = {"format": FORMAT, "version": FORMAT_VERSION,
            "generator": _module_fields(model.G),
            "class_names": list(model.class_names),
            "source": model.source}
  arrays = _flatten("G", model.variables)
  if model.D is not None:
    config["discriminator"] = _module_fields(model.D)
    arrays.update(_flatten("D", model.d_variables))
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name(path.name + ".partial.npz")
  np.savez(tmp, config=np.asarray(json.dumps(config)), **arrays)
  tmp.replace(path)
  return path


def _from_export(path: pathlib.Path, network: str) -> Model:
  try:
    with np.load(path, allow_pickle=False) as f:
      arrays = {k: f[k] for k in f.files}
  except (ValueError, OSError) as e:
    raise ValueError(f"{path} is not an exported model (.npz): {e}") from e
  try:
    config = json.loads(str(arrays.pop("config")))
    assert config["format"] == FORMAT
  except (KeyError, AssertionError, json.JSONDecodeError) as e:
    raise ValueError(f"{path} is an .npz but not a {FORMAT} export (no "
                     "valid 'config' entry)") from e
  if config["version"] > FORMAT_VERSION:
    raise ValueError(f"{path} has export version {config['version']}; this "
                     f"stylegan_jax reads up to {FORMAT_VERSION}: upgrade it")
  del network  # An export holds one generator (usually G_ema).
  g_fields = dict(config["generator"])
  g_fields["resample_filter"] = tuple(g_fields["resample_filter"])
  G = Generator(**g_fields)
  D = d_variables = None
  if "discriminator" in config:
    d_fields = dict(config["discriminator"])
    d_fields["resample_filter"] = tuple(d_fields["resample_filter"])
    D = Discriminator(**d_fields)
    d_variables = _unflatten(arrays, "D")
  return Model(G=G, variables=_unflatten(arrays, "G"),
               class_names=tuple(config.get("class_names", ())),
               source=str(path), D=D, d_variables=d_variables)
