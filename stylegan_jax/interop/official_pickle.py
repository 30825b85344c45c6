"""Safe reader for NVIDIA's official StyleGAN2-ADA network-snapshot pickles.

This module owns turning a `network-snapshot-*.pkl` written by the official
PyTorch code into inert NumPy/stdlib values: the init kwargs and the
flattened state dicts (parameters and buffers) of G, D, G_ema and the augment
pipe. It needs no torch and runs nothing from the file.

How it stays safe:

* No `pickle.Unpickler` is involved: the pickle runs on `safe_pickle.run`,
  which interprets each opcode itself and refuses opcodes outside a short
  allowlist (no `INST`, `OBJ`, `NEWOBJ_EX`, `EXT*`, `BINPERSID`, ...).
* A global named by `GLOBAL`/`STACK_GLOBAL` is only looked up in a table of
  our own inert stand-ins. No module is ever imported and no real torch,
  numpy, dnnlib or builtins object is returned; anything not in the table
  raises `UnsafePickleError` as soon as it is named, before any `REDUCE`
  could use it.
* Each tensor's storage blob (a legacy `torch.save` stream) is read by
  `torch_file.read_legacy` with a table holding only the `torch.*Storage`
  classes; `BINPERSID` is accepted only there, only for a storage id.
* `module_src` (the Python source the official loader `exec`s) is checked to
  be a string and then dropped. Loading never depends on its text.

How it stays bounded (a hostile file is refused with `PickleLimitError`):
nesting depth, memo size and dict keys are limited by `safe_pickle`; the walk
over networks visits each module once (a module reachable twice is refused)
and recurses at most `safe_pickle.MAX_DEPTH` deep, its names together no
longer than the file; kwargs and other values
may share objects but not expand past `_MAX_EXPANDED` items when walked as a
tree; the tensors made add up to at most `max_tensor_bytes` and to at most
twice the file's size.

Format reference: `shared/reference/README-snapshot.md`.
"""

import dataclasses
import io
import itertools
import os
from typing import Any, ClassVar

import numpy as np

from stylegan_jax.errors import UserError
from stylegan_jax.interop import safe_pickle
from stylegan_jax.interop import torch_file

_KIND = "StyleGAN2-ADA network snapshot"
# Items kwargs and other entries may expand to when walked as a tree (real
# snapshots: under a thousand).
_MAX_EXPANDED = 1_000_000

# --------------------------------------------------------------------------
# Errors and results.


class OfficialPickleError(UserError):
  """Base class of every error this importer raises."""


class UnsafePickleError(OfficialPickleError):
  """The file names a global or opcode outside the allowlist; nothing ran."""


class NotASnapshotError(OfficialPickleError):
  """The pickle is readable but is not a StyleGAN2-ADA network snapshot."""


class LegacyTFPickleError(NotASnapshotError):
  """A TensorFlow-era (`dnnlib.tflib`) pickle: not supported yet."""


class MalformedPickleError(OfficialPickleError):
  """The bytes are not a well-formed pickle (not a pickle, truncated, ...)."""


class PickleLimitError(OfficialPickleError):
  """The file exceeds a limit no real snapshot reaches (depth, memo, shared
  modules, tensor bytes); it was refused before it could cost more."""


@dataclasses.dataclass(frozen=True, eq=False)
class OfficialNetwork:
  """One persistent network object of the snapshot, as inert data.

  Attributes:
    class_name: the official class name, e.g. 'Generator'.
    init_kwargs: the constructor keyword arguments (`_init_kwargs`), as plain
      nested dicts/lists with Python numbers.
    init_args: the positional constructor arguments (`_init_args`).
    state_dict: official state-dict name (e.g. 'synthesis.b4.const') to
      array, parameters and persistent buffers in `module.state_dict()`
      order. Floating tensors are float32; integer/bool tensors keep their
      dtype.
    buffer_names: which `state_dict` entries are buffers.
  """

  class_name: str
  init_kwargs: dict[str, Any]
  init_args: tuple[Any, ...]
  state_dict: dict[str, np.ndarray] = dataclasses.field(repr=False)
  buffer_names: frozenset[str] = dataclasses.field(
      default=frozenset(), repr=False
  )


@dataclasses.dataclass(frozen=True, eq=False)
class OfficialSnapshot:
  """The contents of a `network-snapshot-*.pkl`.

  Attributes:
    G: the generator being trained.
    D: the discriminator.
    G_ema: the exponential moving average of G (what to sample from).
    augment_pipe: the ADA pipe, or None when the run had no augmentation.
    training_set_kwargs: the dataset kwargs, or None.
    extra: any other top-level entries, converted to inert values.
  """

  G: OfficialNetwork  # pylint: disable=invalid-name
  D: OfficialNetwork  # pylint: disable=invalid-name
  G_ema: OfficialNetwork  # pylint: disable=invalid-name
  augment_pipe: OfficialNetwork | None
  training_set_kwargs: dict[str, Any] | None
  extra: dict[str, Any]


# --------------------------------------------------------------------------
# Inert stand-ins for the globals a snapshot may name.


@dataclasses.dataclass(frozen=True, eq=False)
class _Module:
  """A persistent network object: class name plus its `__dict__`."""

  describe_as: ClassVar[str] = "a network object"
  class_name: str
  state: dict[Any, Any]


def _reconstruct_persistent_obj(args: tuple[Any, ...], where: str) -> _Module:
  safe_pickle.check_arity("_reconstruct_persistent_obj", args, where, 1)
  (meta,) = args
  if not isinstance(meta, dict) or not safe_pickle.is_str(
      meta.get("type"), "class"
  ):
    raise safe_pickle.MalformedError(
        f"{where}: a persistent object whose meta is not a dict with "
        "type='class'"
    )
  class_name, state = meta.get("class_name"), meta.get("state")
  # module_src is the source the official loader exec()s: keep it as data
  # only (check its type, never look at or run its text).
  if not isinstance(meta.get("module_src"), str):
    raise safe_pickle.MalformedError(
        f"{where}: persistent object without module_src"
    )
  if not isinstance(class_name, str) or not isinstance(state, dict):
    raise safe_pickle.MalformedError(
        f"{where}: persistent object without a str class_name and dict state"
    )
  return _Module(class_name, state)


def _easy_dict(args: tuple[Any, ...], where: str) -> dict[Any, Any]:
  # Same shapes as OrderedDict; an EasyDict becomes a plain dict.
  safe_pickle.check_arity("dnnlib.util.EasyDict", args, where, 0, 1)
  if not args:
    return {}
  return safe_pickle.make_dict(args[0], "EasyDict", where, _KIND)


# A storage blob may name storage classes only, none of them callable.
_BLOB_GLOBALS = safe_pickle.table_lookup(torch_file.STORAGE_CLASSES, _KIND)


def _load_from_bytes(
    args: tuple[Any, ...], where: str
) -> torch_file.Storage:
  safe_pickle.check_arity("torch.storage._load_from_bytes", args, where, 1)
  (blob,) = args
  if not isinstance(blob, bytes):
    raise safe_pickle.MalformedError(f"{where}: storage blob is not bytes")
  where = f"{where}, storage blob"
  storage = torch_file.read_legacy(blob, _BLOB_GLOBALS, kind=_KIND,
                                   where=where)
  if not isinstance(storage, torch_file.Storage):
    raise safe_pickle.MalformedError(
        f"{where}: holds {safe_pickle.describe(storage)}, not a storage"
    )
  return storage


class _TFPickle(safe_pickle.SafePickleError):
  """A `dnnlib.tflib` global: becomes `LegacyTFPickleError`."""


def _outer_table() -> dict[tuple[str, str], Any]:
  table = {
      **safe_pickle.common_globals(_KIND),
      **torch_file.TENSOR_GLOBALS,
  }
  for module, name, fn, newobj in (
      ("torch_utils.persistence", "_reconstruct_persistent_obj",
       _reconstruct_persistent_obj, False),
      ("dnnlib.util", "EasyDict", _easy_dict, True),
      ("torch.storage", "_load_from_bytes", _load_from_bytes, False),
  ):
    table[(module, name)] = safe_pickle.Call(f"{module}.{name}", fn, newobj)
  return table


_OUTER_TABLE = _outer_table()


def _find_global(module: str, name: str, where: str) -> Any:
  """Our stand-in for global `module.name`, or a refusal."""
  found = _OUTER_TABLE.get((module, name))
  if found is not None:
    return found
  if module == "dnnlib.tflib" or module.startswith("dnnlib.tflib."):
    raise _TFPickle(
        f"{where}: this is a TensorFlow-era StyleGAN pickle (it references "
        f"{safe_pickle.clip(f'{module}.{name}')}); that format is not "
        "supported yet, only network snapshots of the official PyTorch "
        f"StyleGAN2-ADA code; {safe_pickle.REFUSED}"
    )
  safe_pickle.refuse_global(module, name, where, _KIND)


def _translate(e: safe_pickle.SafePickleError) -> OfficialPickleError:
  for cls, ours in (
      (_TFPickle, LegacyTFPickleError),
      (safe_pickle.RefusedError, UnsafePickleError),
      (safe_pickle.LimitError, PickleLimitError),
  ):
    if isinstance(e, cls):
      return ours(str(e))
  return MalformedPickleError(str(e))


# --------------------------------------------------------------------------
# From the unpickled tree to the public records.


def _describe(x: Any) -> str:
  if isinstance(x, _Module):
    return f"a {safe_pickle.clip(x.class_name)} network object"
  return safe_pickle.describe(x)


class _Converter:
  """Turns the unpickled tree into public records, each object once.

  Every walk is bounded: at most `safe_pickle.MAX_DEPTH` deep, each network
  module visited once, tensors made within the `TensorReader`'s budget.
  """

  def __init__(
      self, reader: torch_file.TensorReader, where: str, max_name_chars: int
  ):
    """Sets up one file's conversion.

    Args:
      reader: makes the tensors' arrays, within the file's budget.
      where: the file, for messages.
      max_name_chars: the most characters all state-dict names (prefixes
        included) may add up to; real files use a small part of their size.
    """
    self._reader = reader
    self._where = where
    self._name_chars = max_name_chars  # Left to use.
    # id -> (object, converted, items when walked as a tree); holding the
    # object pins its id.
    self._memo: dict[int, tuple[Any, Any, int]] = {}
    self._converting: set[int] = set()  # Networks being converted.

  def _too_deep(self, at: str) -> safe_pickle.LimitError:
    return safe_pickle.limit_error(
        at, f"values nested more than {safe_pickle.MAX_DEPTH} levels deep",
        _KIND,
    )

  def plain(self, x: Any, depth: int = 0) -> Any:
    """Inert stdlib/numpy value for `x`; shares what the pickle shared.

    Shared values stay shared, so the result must also stay small when
    walked as a tree (by `repr`, JSON, ...): at most `_MAX_EXPANDED` items.
    """
    if id(x) in self._memo:
      return self._memo[id(x)][1]
    if depth > safe_pickle.MAX_DEPTH:
      raise self._too_deep(self._where)
    depth += 1
    children = ()
    if isinstance(x, dict):
      out = {}
      self._memo[id(x)] = (x, out, 1)  # Before the items: cycles end here.
      out.update(
          (self.plain(k, depth), self.plain(v, depth)) for k, v in x.items()
      )
      children = itertools.chain.from_iterable(x.items())
    elif isinstance(x, list):
      out = []
      self._memo[id(x)] = (x, out, 1)
      out.extend(self.plain(v, depth) for v in x)
      children = x
    elif isinstance(x, (tuple, set, frozenset)):
      out = type(x)(self.plain(v, depth) for v in x)
      children = x
    elif isinstance(x, _Module):
      out = self.network(x, depth)
    elif isinstance(x, torch_file.TensorRef):
      out = self._reader(x, self._where)
    elif isinstance(x, torch_file.Storage):  # A bare storage: its elements.
      ref = torch_file.TensorRef(x, 0, (x.numel,), (1,))
      out = self._reader(ref, self._where)
    elif isinstance(x, safe_pickle.DType):
      out = np.dtype(x.name).newbyteorder(x.byteorder)
    elif isinstance(x, (safe_pickle.Call, torch_file.StorageClass)):
      out = f"<global {x.qualname}>"
    else:
      out = x
    size = 1 + sum(self._memo[id(c)][2] for c in children)
    if size > _MAX_EXPANDED:
      raise safe_pickle.limit_error(
          self._where,
          f"a value that would expand to more than {_MAX_EXPANDED} items "
          "when walked (the same objects shared over and over)",
          _KIND,
      )
    self._memo[id(x)] = (x, out, size)
    return out

  def network(self, module: _Module, depth: int = 0) -> OfficialNetwork:
    """The public record of one network object."""
    if id(module) in self._memo:
      return self._memo[id(module)][1]
    name = safe_pickle.clip(module.class_name)
    if id(module) in self._converting:
      raise safe_pickle.MalformedError(
          f"{self._where}: {name}: the network object contains itself"
      )
    self._converting.add(id(module))
    state_dict: dict[str, np.ndarray] = {}
    buffers: set[str] = set()
    self._flatten(module, "", state_dict, buffers, {}, set())
    state = module.state
    init_kwargs = self.plain(state.get("_init_kwargs", {}), depth)
    init_args = self.plain(state.get("_init_args", ()), depth)
    if not isinstance(init_kwargs, dict) or not isinstance(init_args, tuple):
      raise safe_pickle.MalformedError(
          f"{self._where}: {name}: _init_kwargs/_init_args are not a "
          "dict/tuple"
      )
    out = OfficialNetwork(
        module.class_name, init_kwargs, init_args, state_dict,
        frozenset(buffers),
    )
    self._converting.discard(id(module))
    self._memo[id(module)] = (module, out, 1)
    return out

  def _flatten(
      self,
      module: _Module,
      prefix: str,
      out: dict[str, np.ndarray],
      buffers: set[str],
      seen: dict[int, str],
      active: set[int],
  ) -> None:
    """Adds `module`'s parameters and buffers as `state_dict()` names them.

    `seen` maps each module already visited to its prefix: a module
    reachable twice is refused (snapshots hold trees), which also keeps a
    hostile DAG from making the walk exponential.
    """
    at = (
        f"{self._where}: {safe_pickle.clip(module.class_name)} "
        f"{safe_pickle.short_repr(prefix)}"
    )
    if id(module) in active:
      raise safe_pickle.MalformedError(f"{at}: the module contains itself")
    if id(module) in seen:
      raise safe_pickle.limit_error(
          at,
          "the module is reachable a second time (first as "
          f"{safe_pickle.short_repr(seen[id(module)])}); a network's modules "
          "form a tree",
          _KIND,
      )
    if len(active) >= safe_pickle.MAX_DEPTH:
      raise safe_pickle.limit_error(
          at, f"modules nested more than {safe_pickle.MAX_DEPTH} deep", _KIND
      )
    seen[id(module)] = prefix
    active.add(id(module))
    state = module.state
    skip = state.get("_non_persistent_buffers_set", set())
    groups = [state.get(k, {}) for k in ("_parameters", "_buffers", "_modules")]
    if not isinstance(skip, (set, frozenset)) or not all(
        isinstance(g, dict) for g in groups
    ):
      raise safe_pickle.MalformedError(
          f"{at}: _parameters/_buffers/_modules are not dicts"
      )
    params, bufs, children = groups
    for group, is_buffer in ((params, False), (bufs, True)):
      for name, value in group.items():
        if value is None or (is_buffer and name in skip):
          continue
        if not isinstance(name, str) or not isinstance(
            value, torch_file.TensorRef
        ):
          raise safe_pickle.MalformedError(
              f"{at}: entry {safe_pickle.short_repr(name)} is "
              f"{_describe(value)}, not a tensor"
          )
        self._name_chars -= len(prefix) + len(name)
        if self._name_chars < 0:
          raise safe_pickle.limit_error(
              at,
              "the state-dict names add up to more characters than the file "
              "has bytes (long module names reused many times)",
              _KIND,
          )
        out[prefix + name] = self._reader(
            value, f"{at}: {safe_pickle.clip(name)}"
        )
        if is_buffer:
          buffers.add(prefix + name)
    for name, child in children.items():
      if child is None:
        continue
      if not isinstance(name, str) or not isinstance(child, _Module):
        raise safe_pickle.MalformedError(
            f"{at}: submodule {safe_pickle.short_repr(name)} is "
            f"{_describe(child)}"
        )
      self._flatten(child, f"{prefix}{name}.", out, buffers, seen, active)
    active.discard(id(module))


_NETWORKS = (("G", "Generator"), ("D", "Discriminator"), ("G_ema", "Generator"))


def _snapshot(top: Any, convert: _Converter, where: str) -> OfficialSnapshot:
  expected = (
      "expected a StyleGAN2-ADA network snapshot: a dict with network "
      "objects 'G' (Generator), 'D' (Discriminator) and 'G_ema' (Generator)"
  )
  if not isinstance(top, dict) or not all(k in top for k, _ in _NETWORKS):
    raise NotASnapshotError(f"{where}: found {_describe(top)}; {expected}")
  for key, class_name in _NETWORKS:
    value = top[key]
    if not isinstance(value, _Module) or value.class_name != class_name:
      raise NotASnapshotError(
          f"{where}: {key!r} is {_describe(value)}; {expected}"
      )
  augment_pipe = top.get("augment_pipe")
  kwargs = top.get("training_set_kwargs")
  if augment_pipe is not None and not isinstance(augment_pipe, _Module):
    raise NotASnapshotError(
        f"{where}: 'augment_pipe' is {_describe(augment_pipe)}; expected a "
        "network object or None"
    )
  if kwargs is not None and not isinstance(kwargs, dict):
    raise NotASnapshotError(
        f"{where}: 'training_set_kwargs' is {_describe(kwargs)}; expected a "
        "dict or None"
    )
  known = {"G", "D", "G_ema", "augment_pipe", "training_set_kwargs"}
  return OfficialSnapshot(
      G=convert.network(top["G"]),
      D=convert.network(top["D"]),
      G_ema=convert.network(top["G_ema"]),
      augment_pipe=(
          None if augment_pipe is None else convert.network(augment_pipe)
      ),
      training_set_kwargs=None if kwargs is None else convert.plain(kwargs),
      extra={
          k if isinstance(k, str) else safe_pickle.short_repr(k):
              convert.plain(v)
          for k, v in top.items()
          if k not in known
      },
  )


def load_snapshot(
    path_or_bytes: str | os.PathLike[str] | bytes | bytearray | memoryview,
    *,
    max_tensor_bytes: int = torch_file.DEFAULT_MAX_TENSOR_BYTES,
) -> OfficialSnapshot:
  """Reads an official StyleGAN2-ADA `network-snapshot-*.pkl`, safely.

  Nothing from the file is executed and torch is not needed (see the module
  docstring for how).

  Args:
    path_or_bytes: a path to the pickle, or its bytes.
    max_tensor_bytes: refuse files whose arrays would need more memory
      (default 4 GiB; the largest official snapshots need well under 1 GiB).

  Returns:
    The snapshot's G, D, G_ema and augment pipe as `OfficialNetwork`s (init
    kwargs plus flattened state dicts), and its other entries.

  Raises:
    UnsafePickleError: the file names a global or opcode outside the
      allowlist; it was refused before any of it was used.
    LegacyTFPickleError: a TensorFlow-era pickle (not supported yet).
    NotASnapshotError: a readable pickle of something else.
    PickleLimitError: over `max_tensor_bytes`, or nesting, sharing or sizes
      that no real snapshot has.
    MalformedPickleError: not a pickle, or a truncated/corrupt one.
  """
  where = "<bytes>"
  try:
    data, where = torch_file.read_input(
        path_or_bytes,
        max_bytes=torch_file.max_file_bytes(max_tensor_bytes),
        kind=_KIND,
    )
    if data[:2] == b"PK":
      raise safe_pickle.MalformedError(
          f"{where}: a zip archive (e.g. a torch.save checkpoint), not a "
          "StyleGAN2-ADA network-snapshot pickle"
      )
    if data[:1] != b"\x80":
      raise safe_pickle.MalformedError(
          f"{where}: not a pickle of protocol 2 or later (it does not start "
          "with b'\\x80'); expected a StyleGAN2-ADA network-snapshot .pkl"
      )
    top = safe_pickle.run(io.BytesIO(data), _find_global, kind=_KIND,
                          where=where)
    reader = torch_file.TensorReader(
        file_bytes=len(data), max_tensor_bytes=max_tensor_bytes, kind=_KIND,
        float32=True,
    )
    return _snapshot(top, _Converter(reader, where, len(data)), where)
  except safe_pickle.SafePickleError as e:
    raise _translate(e) from None
  except RecursionError:
    raise PickleLimitError(
        f"{where}: values nested too deeply; that is not a valid {_KIND}, "
        f"so {safe_pickle.REFUSED}"
    ) from None
