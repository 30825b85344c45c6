"""Conversion between official StyleGAN2-ADA networks and ours.

An official network is described by its constructor kwargs (as given to
`training.networks.Generator` / `Discriminator`) and its state dict (official
names -> arrays, parameters and buffers). Our modules use the same names
(`synthesis.b8.conv0.affine.weight` is the variable path
`synthesis/b8/conv0/affine/weight`), so conversion is a rename plus a layout
change: conv kernels OIHW <-> HWIO, dense weights [out, in] <-> [in, out],
`const` [C, 4, 4] <-> [4, 4, C]. Buffers `w_avg` and `noise_const` go to the
`buffers` collection; `resample_filter` buffers are checked, not stored.
"""

from collections.abc import Mapping
import dataclasses
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np

from stylegan_jax.nets.discriminator import Discriminator
from stylegan_jax.nets.factory import abstract_discriminator_variables
from stylegan_jax.nets.factory import abstract_generator_variables
from stylegan_jax.nets.generator import Generator
from stylegan_jax.ops import filters

Variables = dict[str, Any]
BUFFER_NAMES = ("w_avg", "noise_const")
# Accepted and ignored. num_fp16_res is a compute precision, not part of the
# weights: imported networks compute in float32, which reproduces the
# official float32 outputs (our fields of the same name opt in, e.g.
# `import_generator(..., num_fp16_res=4)` or model.num_fp16_res when
# fine-tuning). Layer freezing is a training option, not part of the network.
IGNORED_KWARGS = ("num_fp16_res", "freeze_layers")


def _defaults(module_cls, **renames: str) -> dict[str, Any]:
  """Official name -> default, read from our module's field defaults.

  Our modules keep the official constructors' defaults, so they are the one
  place those live. `renames` maps official names to our field names.
  """
  fields = {f.name: f.default for f in dataclasses.fields(module_cls)}
  out = {}
  for official_name, ours in renames.items():
    value = fields[ours]
    out[official_name] = list(value) if isinstance(value, tuple) else value
  return out


def _take(kwargs: Mapping[str, Any], section: str, known: dict[str, Any]):
  """Copies `known` defaults updated from kwargs; unknown keys are errors."""
  unknown = sorted(set(kwargs) - set(known) - set(IGNORED_KWARGS))
  if unknown:
    raise ValueError(
        f"unsupported official {section} argument(s) {unknown}; "
        f"supported: {sorted(known)}")
  out = dict(known)
  out.update({k: v for k, v in kwargs.items() if k in known})
  return out


def _check_activation(kwargs: Mapping[str, Any], section: str):
  act = kwargs.get("activation", "lrelu")
  if act != "lrelu":
    raise ValueError(f"{section} activation {act!r} is not supported (lrelu)")


def generator_from_kwargs(kwargs: Mapping[str, Any], **overrides) -> Generator:
  """Builds our Generator from official `Generator(**kwargs)` arguments.

  Args:
    kwargs: official kwargs: z_dim, c_dim, w_dim, img_resolution,
      img_channels, mapping_kwargs, synthesis_kwargs.
    **overrides: extra Generator fields (e.g. fused_modconv).

  Returns:
    An unbound Generator.
  """
  top = _take(kwargs, "Generator", dict(
      z_dim=None, c_dim=None, w_dim=None, img_resolution=None,
      img_channels=None, mapping_kwargs={}, synthesis_kwargs={}))
  mapping = dict(top.pop("mapping_kwargs") or {})
  _check_activation(mapping, "mapping")
  mapping.pop("activation", None)
  mapping = _take(mapping, "mapping_kwargs", _defaults(
      Generator, num_layers="mapping_layers",
      embed_features="mapping_embed_features",
      layer_features="mapping_layer_features",
      lr_multiplier="mapping_lr_multiplier", w_avg_beta="w_avg_beta"))
  synthesis = dict(top.pop("synthesis_kwargs") or {})
  _check_activation(synthesis, "synthesis")
  synthesis.pop("activation", None)
  synthesis = _take(synthesis, "synthesis_kwargs", _defaults(
      Generator, channel_base="channel_base", channel_max="channel_max",
      architecture="architecture", conv_clamp="conv_clamp",
      resample_filter="resample_filter"))
  return Generator(
      **top,
      mapping_layers=mapping["num_layers"],
      mapping_embed_features=mapping["embed_features"],
      mapping_layer_features=mapping["layer_features"],
      mapping_lr_multiplier=mapping["lr_multiplier"],
      w_avg_beta=mapping["w_avg_beta"],
      channel_base=synthesis["channel_base"],
      channel_max=synthesis["channel_max"],
      architecture=synthesis["architecture"],
      conv_clamp=synthesis["conv_clamp"],
      resample_filter=tuple(synthesis["resample_filter"]),
      **overrides)


def discriminator_from_kwargs(kwargs: Mapping[str, Any]) -> Discriminator:
  """Builds our Discriminator from official `Discriminator(**kwargs)`."""
  top = _take(kwargs, "Discriminator", dict(
      c_dim=None, img_resolution=None, img_channels=None,
      **_defaults(Discriminator, architecture="architecture",
                  channel_base="channel_base", channel_max="channel_max",
                  conv_clamp="conv_clamp", cmap_dim="cmap_dim"),
      block_kwargs={}, mapping_kwargs={}, epilogue_kwargs={}))
  block = dict(top.pop("block_kwargs") or {})
  _check_activation(block, "block")
  block.pop("activation", None)
  block = _take(block, "block_kwargs", _defaults(
      Discriminator, resample_filter="resample_filter"))
  mapping = _take(top.pop("mapping_kwargs") or {}, "D mapping_kwargs",
                  _defaults(Discriminator, num_layers="mapping_layers",
                            lr_multiplier="mapping_lr_multiplier"))
  epilogue = _take(top.pop("epilogue_kwargs") or {}, "epilogue_kwargs",
                   _defaults(Discriminator,
                             mbstd_group_size="mbstd_group_size",
                             mbstd_num_channels="mbstd_num_channels"))
  return Discriminator(
      **top,
      mbstd_group_size=epilogue["mbstd_group_size"],
      mbstd_num_channels=epilogue["mbstd_num_channels"],
      mapping_layers=mapping["num_layers"],
      mapping_lr_multiplier=mapping["lr_multiplier"],
      resample_filter=tuple(block["resample_filter"]))


def generator_kwargs(G: Generator) -> dict[str, Any]:
  """Our Generator -> official `Generator(**kwargs)` arguments (inverse of
  `generator_from_kwargs`)."""
  return dict(
      z_dim=G.z_dim, c_dim=G.c_dim, w_dim=G.w_dim,
      img_resolution=G.img_resolution, img_channels=G.img_channels,
      mapping_kwargs=dict(
          num_layers=G.mapping_layers,
          embed_features=G.mapping_embed_features,
          layer_features=G.mapping_layer_features,
          lr_multiplier=G.mapping_lr_multiplier, w_avg_beta=G.w_avg_beta),
      synthesis_kwargs=dict(
          channel_base=G.channel_base, channel_max=G.channel_max,
          architecture=G.architecture, conv_clamp=G.conv_clamp,
          resample_filter=list(G.resample_filter)))


def discriminator_kwargs(D: Discriminator) -> dict[str, Any]:
  """Our Discriminator -> official `Discriminator(**kwargs)` arguments."""
  return dict(
      c_dim=D.c_dim, img_resolution=D.img_resolution,
      img_channels=D.img_channels, architecture=D.architecture,
      channel_base=D.channel_base, channel_max=D.channel_max,
      conv_clamp=D.conv_clamp, cmap_dim=D.cmap_dim,
      block_kwargs=dict(resample_filter=list(D.resample_filter)),
      mapping_kwargs=dict(num_layers=D.mapping_layers,
                          lr_multiplier=D.mapping_lr_multiplier),
      epilogue_kwargs=dict(mbstd_group_size=D.mbstd_group_size,
                           mbstd_num_channels=D.mbstd_num_channels))


def _to_ours(name: str, value: np.ndarray) -> np.ndarray:
  leaf = name.rsplit(".", 1)[-1]
  if leaf == "const":
    return np.transpose(value, (1, 2, 0))  # [C, 4, 4] -> [4, 4, C]
  if leaf == "weight" and value.ndim == 4:
    return np.transpose(value, (2, 3, 1, 0))  # OIHW -> HWIO
  if leaf == "weight" and value.ndim == 2:
    return value.T  # [out, in] -> [in, out]
  return value


def _to_official(name: str, value: np.ndarray) -> np.ndarray:
  leaf = name.rsplit(".", 1)[-1]
  if leaf == "const":
    return np.transpose(value, (2, 0, 1))
  if leaf == "weight" and value.ndim == 4:
    return np.transpose(value, (3, 2, 0, 1))
  if leaf == "weight" and value.ndim == 2:
    return value.T
  return value


def _flat(tree) -> dict[str, np.ndarray]:
  return {".".join(path): np.asarray(leaf)
          for path, leaf in flax.traverse_util.flatten_dict(tree).items()}


def variables_from_state_dict(
    state_dict: Mapping[str, Any],
    template: Variables,
    resample_filter=(1, 3, 3, 1),
) -> Variables:
  """Official state dict -> our variables, checked against a template.

  Args:
    state_dict: official names -> arrays (parameters and buffers).
    template: our variables for the same architecture (e.g. from
      `jax.eval_shape(module.init, ...)`); decides which names and shapes
      must be present.
    resample_filter: the 1-D taps the `resample_filter` buffers must hold.

  Returns:
    {'params': ..., 'buffers': ...} as numpy float32 arrays.

  Raises:
    ValueError: on a missing, unexpected or mis-shaped entry, naming it.
  """
  expected_filter = filters.setup_filter(resample_filter)
  wanted = {}
  for collection, tree in template.items():
    for path, leaf in flax.traverse_util.flatten_dict(tree).items():
      wanted[".".join(path)] = (collection, tuple(leaf.shape))
  out: dict[str, dict[tuple[str, ...], np.ndarray]] = {
      c: {} for c in template}
  unexpected = []
  for name, value in state_dict.items():
    value = np.asarray(value, dtype=np.float32)
    if name.endswith("resample_filter"):
      if not np.allclose(value, expected_filter, atol=1e-6):
        raise ValueError(f"{name} does not match resample filter "
                         f"{list(resample_filter)}")
      continue
    if name not in wanted:
      unexpected.append(name)
      continue
    collection, shape = wanted.pop(name)
    value = _to_ours(name, value)
    if value.shape != shape:
      raise ValueError(f"{name}: shape {value.shape} (after layout "
                       f"conversion) does not match the network's {shape}")
    out[collection][tuple(name.split("."))] = value
  if unexpected or wanted:
    raise ValueError(
        "state dict does not match the network built from its kwargs: "
        f"unexpected {sorted(unexpected)[:10]}, missing {sorted(wanted)[:10]}")
  return {c: flax.traverse_util.unflatten_dict(t) for c, t in out.items()}


def state_dict_from_variables(variables: Variables) -> dict[str, np.ndarray]:
  """Our variables -> an official state dict (without `resample_filter`s).

  The official networks also hold a `resample_filter` buffer in every
  resampling layer; `filters.setup_filter(taps)` gives its value.
  """
  out = {}
  for tree in variables.values():
    for name, value in _flat(tree).items():
      out[name] = _to_official(name, value)
  return out


def import_generator(
    kwargs: Mapping[str, Any], state_dict: Mapping[str, Any], **overrides
) -> tuple[Generator, Variables]:
  """Official G kwargs + state dict -> (our Generator, its variables)."""
  G = generator_from_kwargs(kwargs, **overrides)
  variables = variables_from_state_dict(
      state_dict, abstract_generator_variables(G), G.resample_filter)
  return G, variables


def import_discriminator(
    kwargs: Mapping[str, Any], state_dict: Mapping[str, Any]
) -> tuple[Discriminator, Variables]:
  """Official D kwargs + state dict -> (our Discriminator, its variables)."""
  D = discriminator_from_kwargs(kwargs)
  variables = variables_from_state_dict(
      state_dict, abstract_discriminator_variables(D), D.resample_filter)
  return D, variables
