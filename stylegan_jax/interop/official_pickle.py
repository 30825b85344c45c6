"""Safe reader for NVIDIA's official StyleGAN2-ADA network-snapshot pickles.

This module owns turning a `network-snapshot-*.pkl` written by the official
PyTorch code into inert NumPy/stdlib values: the init kwargs and the
flattened state dicts (parameters and buffers) of G, D, G_ema and the augment
pipe. It needs no torch and runs nothing from the file.

How it stays safe:

* No `pickle.Unpickler` is involved. A small pickle VM walks the opcodes that
  `pickletools.genops` decodes and interprets each one itself. Opcodes
  outside a short allowlist (no `INST`, `OBJ`, `NEWOBJ_EX`, `EXT*`, outer
  `PERSID`, ...) are refused.
* A global named by `GLOBAL`/`STACK_GLOBAL` is only looked up in a table of
  our own inert stand-ins (`_Callable`, `_StorageClass`). No module is ever
  imported and no real torch, numpy, dnnlib or builtins object is returned;
  anything not in the table raises `UnsafePickleError` as soon as it is
  named, before any `REDUCE` could use it.
* Each tensor's storage blob (a legacy `torch.save` stream) is parsed by the
  same VM with a table holding only the `torch.*Storage` classes, and
  `BINPERSID` is accepted only there, only for the `('storage', ...)` tuple.
* `module_src` (the Python source the official loader `exec`s) is checked to
  be a string and then dropped. Loading never depends on its text.

Format reference: `shared/reference/README-snapshot.md`.
"""

import dataclasses
import io
import os
import pathlib
import pickletools
import re
from collections.abc import Callable
from typing import Any

import numpy as np

# --------------------------------------------------------------------------
# Errors and results.


class OfficialPickleError(ValueError):
  """Base class of every error this importer raises."""


class UnsafePickleError(OfficialPickleError):
  """The file names a global or opcode outside the allowlist; nothing ran."""


class NotASnapshotError(OfficialPickleError):
  """The pickle is readable but is not a StyleGAN2-ADA network snapshot."""


class LegacyTFPickleError(NotASnapshotError):
  """A TensorFlow-era (`dnnlib.tflib`) pickle: not supported yet."""


class MalformedPickleError(OfficialPickleError):
  """The bytes are not a well-formed pickle (not a pickle, truncated, ...)."""


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
class _Callable:
  """Our own function standing in for an allowlisted callable global."""

  qualname: str
  fn: Callable[[tuple[Any, ...], str], Any]  # (args, where) -> value
  newobj: bool = False  # may be the class of a NEWOBJ


@dataclasses.dataclass(frozen=True, eq=False)
class _StorageClass:
  """Stand-in for `torch.<X>Storage`; only ever a value in a persistent id."""

  qualname: str
  dtype: np.dtype  # element type as stored (little-endian)


@dataclasses.dataclass(eq=False)
class _DType:
  """A numpy dtype under construction (`numpy.dtype` REDUCE, then BUILD)."""

  name: str
  byteorder: str = "="


@dataclasses.dataclass(frozen=True, eq=False)
class _Module:
  """A persistent network object: class name plus its `__dict__`."""

  class_name: str
  state: dict[Any, Any]


@dataclasses.dataclass(frozen=True, eq=False)
class _Storage:
  """A decoded torch storage: a 1-D array of its elements."""

  array: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class _StorageRef:
  """A persistent id inside a storage blob, before its data is read."""

  key: str
  cls: _StorageClass
  numel: int


def _is_int(x: Any) -> bool:
  return isinstance(x, int) and not isinstance(x, bool)


def _check_arity(qualname: str, args: Any, where: str, *counts: int) -> None:
  if not isinstance(args, tuple) or len(args) not in counts:
    got = len(args) if isinstance(args, tuple) else type(args).__name__
    raise MalformedPickleError(
        f"{where}: {qualname} called with {got} arguments; a snapshot passes "
        f"{' or '.join(map(str, counts))}"
    )


def _is_str(x: Any, value: str) -> bool:
  return isinstance(x, str) and x == value


def _empty_hooks(x: Any) -> bool:
  return isinstance(x, dict) and not x


def _reconstruct_persistent_obj(args: tuple[Any, ...], where: str) -> _Module:
  _check_arity("_reconstruct_persistent_obj", args, where, 1)
  (meta,) = args
  if not isinstance(meta, dict) or not _is_str(meta.get("type"), "class"):
    raise MalformedPickleError(
        f"{where}: a persistent object whose meta is not a dict with "
        "type='class'"
    )
  class_name, state = meta.get("class_name"), meta.get("state")
  # module_src is the source the official loader exec()s: keep it as data
  # only (check its type, never look at or run its text).
  if not isinstance(meta.get("module_src"), str):
    raise MalformedPickleError(f"{where}: persistent object without module_src")
  if not isinstance(class_name, str) or not isinstance(state, dict):
    raise MalformedPickleError(
        f"{where}: persistent object without a str class_name and dict state"
    )
  return _Module(class_name, state)


def _ordered_dict(args: tuple[Any, ...], where: str) -> dict[Any, Any]:
  _check_arity("collections.OrderedDict", args, where, 0, 1)
  if not args:
    return {}
  (items,) = args
  if isinstance(items, dict):
    return dict(items)
  if isinstance(items, list) and all(
      isinstance(p, (list, tuple)) and len(p) == 2 for p in items
  ):
    return dict(items)
  raise MalformedPickleError(f"{where}: OrderedDict of {type(items).__name__}")


def _easy_dict(args: tuple[Any, ...], where: str) -> dict[Any, Any]:
  return _ordered_dict(args, where)  # Same shapes; EasyDict becomes dict.


def _rebuild_tensor_v2(args: tuple[Any, ...], where: str) -> np.ndarray:
  qualname = "torch._utils._rebuild_tensor_v2"
  _check_arity(qualname, args, where, 6, 7)
  storage, offset, size, stride, requires_grad, hooks = args[:6]
  metadata = args[6] if len(args) == 7 else None
  if not isinstance(storage, _Storage):
    raise MalformedPickleError(
        f"{where}: {qualname} got a {type(storage).__name__} as storage, not "
        "the result of torch.storage._load_from_bytes"
    )
  ok = (
      _is_int(offset)
      and isinstance(size, tuple)
      and isinstance(stride, tuple)
      and all(_is_int(s) and s >= 0 for s in size + stride)
      and len(size) == len(stride)
      and isinstance(requires_grad, bool)
      and _empty_hooks(hooks)
      and (metadata is None or _empty_hooks(metadata))
  )
  if not ok:
    raise MalformedPickleError(
        f"{where}: {qualname} got unexpected arguments; expected (storage, "
        "offset: int, size: tuple, stride: tuple of the same length, "
        "requires_grad: bool, empty backward_hooks[, empty metadata])"
    )
  return _strided_copy(storage.array, offset, size, stride, where)


def _strided_copy(
    array: np.ndarray,
    offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    where: str,
) -> np.ndarray:
  """Element `i` is `array[offset + sum(i * stride)]` (all in elements)."""
  if any(s == 0 for s in size):
    return np.zeros(size, array.dtype)
  if np.prod(size, dtype=object) > array.size:
    # Expanded (stride-0) views are not in snapshots; refusing them also
    # stops a tiny file from asking for a huge copy.
    raise MalformedPickleError(
        f"{where}: tensor of size {size} has more elements than its storage "
        f"({array.size}); expanded views are not supported"
    )
  last = offset + sum((n - 1) * s for n, s in zip(size, stride))
  if offset < 0 or last >= array.size:
    raise MalformedPickleError(
        f"{where}: tensor view (offset {offset}, size {size}, stride "
        f"{stride}) reaches past its storage of {array.size} elements"
    )
  view = np.lib.stride_tricks.as_strided(
      array[offset:],
      shape=size,
      strides=tuple(s * array.itemsize for s in stride),
      writeable=False,
  )
  return np.array(view)  # An owned, C-contiguous copy.


def _rebuild_parameter(args: tuple[Any, ...], where: str) -> np.ndarray:
  qualname = "torch._utils._rebuild_parameter"
  _check_arity(qualname, args, where, 3)
  data, requires_grad, hooks = args
  if not (
      isinstance(data, np.ndarray)
      and isinstance(requires_grad, bool)
      and _empty_hooks(hooks)
  ):
    raise MalformedPickleError(f"{where}: {qualname} got unexpected arguments")
  return data


def _rebuild_parameter_with_state(args: tuple[Any, ...], where: str):
  qualname = "torch._utils._rebuild_parameter_with_state"
  _check_arity(qualname, args, where, 4)
  state = args[3]
  if state is not None and not _empty_hooks(state):
    raise MalformedPickleError(f"{where}: {qualname} with non-empty state")
  return _rebuild_parameter(args[:3], where)


def _load_from_bytes(args: tuple[Any, ...], where: str) -> _Storage:
  _check_arity("torch.storage._load_from_bytes", args, where, 1)
  (blob,) = args
  if not isinstance(blob, bytes):
    raise MalformedPickleError(f"{where}: storage blob is not bytes")
  return _parse_storage_blob(blob, f"{where}, storage blob")


_DTYPE_NAME = re.compile(r"^[<>|=]?(f[248]|i[1248]|u[1248]|b1|\?)$")


def _numpy_dtype(args: tuple[Any, ...], where: str) -> _DType:
  _check_arity("numpy.dtype", args, where, 1, 3)
  name = args[0]
  if not isinstance(name, str) or not _DTYPE_NAME.match(name):
    raise MalformedPickleError(
        f"{where}: numpy dtype {_clip(repr(name))} is not a plain number dtype"
    )
  return _DType(name)


def _numpy_scalar(args: tuple[Any, ...], where: str) -> int | float | bool:
  _check_arity("numpy scalar", args, where, 2)
  dtype, raw = args
  if not isinstance(dtype, _DType) or not isinstance(raw, bytes):
    raise MalformedPickleError(f"{where}: numpy scalar of unexpected form")
  dt = np.dtype(dtype.name).newbyteorder(dtype.byteorder)
  if len(raw) != dt.itemsize:
    raise MalformedPickleError(f"{where}: numpy scalar with wrong byte count")
  return np.frombuffer(raw, dt, count=1)[0].item()


def _make_set(args: tuple[Any, ...], where: str) -> set[Any]:
  _check_arity("set", args, where, 0, 1)
  items = args[0] if args else []
  if not isinstance(items, (list, tuple, set, frozenset)):
    raise MalformedPickleError(f"{where}: set of {type(items).__name__}")
  return set(items)


def _make_frozenset(args: tuple[Any, ...], where: str) -> frozenset[Any]:
  return frozenset(_make_set(args, where))


def _latin1_encode(args: tuple[Any, ...], where: str) -> bytes:
  # Protocol 2 writes every non-empty bytes object as
  # _codecs.encode(text, 'latin1').
  _check_arity("_codecs.encode", args, where, 2)
  text, encoding = args
  if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
    raise MalformedPickleError(f"{where}: _codecs.encode other than latin1")
  return text.encode("latin-1")


def _empty_bytes(args: tuple[Any, ...], where: str) -> bytes:
  _check_arity("bytes", args, where, 0)  # Protocol 2's b''.
  return b""


def _callables() -> dict[tuple[str, str], _Callable]:
  table = {}

  def add(module, name, fn, newobj=False):
    table[(module, name)] = _Callable(f"{module}.{name}", fn, newobj)

  add("torch_utils.persistence", "_reconstruct_persistent_obj",
      _reconstruct_persistent_obj)
  add("collections", "OrderedDict", _ordered_dict)
  add("dnnlib.util", "EasyDict", _easy_dict, newobj=True)
  add("torch._utils", "_rebuild_tensor_v2", _rebuild_tensor_v2)
  add("torch._utils", "_rebuild_parameter", _rebuild_parameter)
  add("torch._utils", "_rebuild_parameter_with_state",
      _rebuild_parameter_with_state)
  add("torch.storage", "_load_from_bytes", _load_from_bytes)
  add("numpy._core.multiarray", "scalar", _numpy_scalar)  # numpy 2
  add("numpy.core.multiarray", "scalar", _numpy_scalar)  # numpy 1
  add("numpy", "dtype", _numpy_dtype)
  add("builtins", "set", _make_set)
  add("builtins", "frozenset", _make_frozenset)
  add("builtins", "bytes", _empty_bytes)
  add("_codecs", "encode", _latin1_encode)
  return table


# Globals the outer stream may name. Values are ours, never real callables.
_OUTER_GLOBALS = _callables()

# Globals a storage blob may name: storage classes only, none callable.
_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "BFloat16Storage": "<u2",  # Widened to float32 when read.
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}
_BLOB_GLOBALS = {
    ("torch", name): _StorageClass(f"torch.{name}", np.dtype(dtype))
    for name, dtype in _STORAGE_DTYPES.items()
}

# Protocol-2 streams name Python 2 modules (the Unpickler's fix_imports).
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}

_SAFE_OPCODES = frozenset((
    # Framing, memo and stack.
    "PROTO", "FRAME", "STOP", "MARK", "MEMOIZE", "BINPUT", "LONG_BINPUT",
    "BINGET", "LONG_BINGET",
    # Calls: only ever on our stand-ins (see _resolve and the REDUCE branch).
    "GLOBAL", "STACK_GLOBAL", "REDUCE", "NEWOBJ", "BUILD", "BINPERSID",
    # Containers.
    "EMPTY_DICT", "SETITEM", "SETITEMS", "EMPTY_LIST", "APPEND", "APPENDS",
    "EMPTY_SET", "ADDITEMS", "FROZENSET", "EMPTY_TUPLE", "TUPLE", "TUPLE1",
    "TUPLE2", "TUPLE3",
    # Scalars, strings and bytes.
    "NONE", "NEWTRUE", "NEWFALSE", "BININT", "BININT1", "BININT2", "LONG1",
    "LONG4", "BINFLOAT", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8",
    "SHORT_BINBYTES", "BINBYTES", "BINBYTES8", "BYTEARRAY8",
))

_REFUSED = "the file was refused and nothing from it was run"


def _resolve(table: dict[Any, Any], module: Any, name: Any, where: str):
  """Our stand-in for global `module.name`, or a refusal."""
  if not isinstance(module, str) or not isinstance(name, str):
    raise MalformedPickleError(f"{where}: global named by non-strings")
  module = _PY2_MODULES.get(module, module)
  found = table.get((module, name))
  if found is not None:
    return found
  qualname = _clip(f"{module}.{name}")
  if module == "dnnlib.tflib" or module.startswith("dnnlib.tflib."):
    raise LegacyTFPickleError(
        f"{where}: this is a TensorFlow-era StyleGAN pickle (it references "
        f"{qualname}); that format is not supported yet, only network "
        f"snapshots of the official PyTorch StyleGAN2-ADA code; {_REFUSED}"
    )
  raise UnsafePickleError(
      f"{where}: refused global {qualname}: it is not on the allowlist of "
      f"globals a StyleGAN2-ADA network snapshot uses; {_REFUSED}"
  )


# --------------------------------------------------------------------------
# The pickle VM.


def _run_pickle(
    stream: io.BytesIO,
    table: dict[Any, Any],
    where: str,
    persistent_load: Callable[[Any], Any] | None = None,
) -> Any:
  """Interprets one pickle from `stream` (up to its STOP) without running it.

  Args:
    stream: positioned at the pickle's first byte; left just after its STOP.
    table: (module, name) -> stand-in, for GLOBAL/STACK_GLOBAL.
    where: what is being read, for messages.
    persistent_load: called on a BINPERSID's id; None refuses BINPERSID.

  Returns:
    The unpickled value, built only from stdlib containers, numbers, strings,
    bytes, numpy arrays and this module's records.
  """
  stack: list[Any] = []
  marks: list[int] = []
  memo: dict[int, Any] = {}
  pos = stream.tell()

  def pop_mark() -> list[Any]:
    if not marks:
      raise MalformedPickleError(f"{where}: byte {pos}: no MARK to pop")
    start = marks.pop()
    items = stack[start:]
    del stack[start:]
    return items

  def top(kind: type[Any] | tuple[type[Any], ...], op: str) -> Any:
    if not stack or not isinstance(stack[-1], kind):
      raise MalformedPickleError(f"{where}: byte {pos}: {op} on wrong type")
    return stack[-1]

  try:
    for index, (opcode, arg, pos) in enumerate(pickletools.genops(stream)):
      name = opcode.name
      at = f"{where} (byte {pos})"
      if index == 0 and (name != "PROTO" or not 2 <= arg <= 5):
        raise MalformedPickleError(
            f"{at}: expected a pickle of protocol 2 to 5, found {name}"
        )
      if name not in _SAFE_OPCODES or (
          name == "BINPERSID" and persistent_load is None
      ):
        raise UnsafePickleError(
            f"{at}: refused opcode {name}: it is not on the allowlist of "
            f"opcodes a StyleGAN2-ADA network snapshot uses; {_REFUSED}"
        )
      if name in ("PROTO", "FRAME"):
        if name == "PROTO" and index:
          raise MalformedPickleError(f"{at}: PROTO in mid-stream")
      elif name == "STOP":
        if len(stack) != 1 or marks:
          raise MalformedPickleError(f"{at}: STOP with a stack of {len(stack)}")
        return stack[0]
      elif name == "MARK":
        marks.append(len(stack))
      elif name == "MEMOIZE":
        memo[len(memo)] = stack[-1]
      elif name in ("BINPUT", "LONG_BINPUT"):
        memo[arg] = stack[-1]
      elif name in ("BINGET", "LONG_BINGET"):
        if arg not in memo:
          raise MalformedPickleError(f"{at}: memo has no entry {arg}")
        stack.append(memo[arg])
      elif name == "GLOBAL":
        module, _, attr = arg.partition(" ")
        stack.append(_resolve(table, module, attr, at))
      elif name == "STACK_GLOBAL":
        attr = stack.pop()
        stack.append(_resolve(table, stack.pop(), attr, at))
      elif name in ("REDUCE", "NEWOBJ"):
        args = stack.pop()
        fn = stack.pop()
        callable_here = isinstance(fn, _Callable) and (
            name == "REDUCE" or fn.newobj
        )
        if not callable_here:
          what = getattr(fn, "qualname", type(fn).__name__)
          raise UnsafePickleError(
              f"{at}: refused opcode {name} on {what}: not allowlisted as "
              f"callable there; {_REFUSED}"
          )
        if not isinstance(args, tuple):
          raise MalformedPickleError(f"{at}: {name} arguments are not a tuple")
        stack.append(fn.fn(args, at))
      elif name == "BUILD":
        state = stack.pop()
        obj = top(object, name)
        if (
            isinstance(obj, _DType)
            and isinstance(state, tuple)
            and len(state) > 1
            and isinstance(state[1], str)
            and state[1] in ("<", ">", "|", "=")
        ):
          obj.byteorder = state[1]
        elif not (isinstance(obj, dict) and (
            state is None or _empty_hooks(state)
        )):
          raise UnsafePickleError(
              f"{at}: refused opcode BUILD on {type(obj).__name__}: only a "
              f"numpy dtype's state is expected; {_REFUSED}"
          )
      elif name == "BINPERSID":
        stack.append(persistent_load(stack.pop()))
      elif name == "EMPTY_DICT":
        stack.append({})
      elif name == "EMPTY_LIST":
        stack.append([])
      elif name == "EMPTY_SET":
        stack.append(set())
      elif name == "EMPTY_TUPLE":
        stack.append(())
      elif name == "SETITEM":
        value = stack.pop()
        key = stack.pop()
        top(dict, name)[key] = value
      elif name == "SETITEMS":
        items = pop_mark()
        if len(items) % 2:
          raise MalformedPickleError(f"{at}: SETITEMS with an odd count")
        top(dict, name).update(zip(items[::2], items[1::2]))
      elif name == "APPEND":
        value = stack.pop()
        top(list, name).append(value)
      elif name == "APPENDS":
        items = pop_mark()
        top(list, name).extend(items)
      elif name == "ADDITEMS":
        items = pop_mark()
        top(set, name).update(items)
      elif name == "FROZENSET":
        stack.append(frozenset(pop_mark()))
      elif name == "TUPLE":
        stack.append(tuple(pop_mark()))
      elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
        n = int(name[-1])
        if len(stack) < n:
          raise MalformedPickleError(f"{at}: {name} on a short stack")
        items = tuple(stack[-n:])
        del stack[-n:]
        stack.append(items)
      elif name == "NONE":
        stack.append(None)
      elif name in ("NEWTRUE", "NEWFALSE"):
        stack.append(name == "NEWTRUE")
      elif name == "BYTEARRAY8":
        stack.append(bytes(arg))
      else:  # Numbers, strings and bytes: the decoded argument itself.
        stack.append(arg)
  except OfficialPickleError:
    raise
  except (ValueError, IndexError, KeyError, TypeError, RecursionError) as e:
    # pickletools reports unknown opcodes and truncated arguments as
    # ValueError; a hostile stack shape gives IndexError/TypeError.
    raise MalformedPickleError(
        f"{where}: not a readable pickle (corrupt or truncated) at byte "
        f"{pos}: {e}"
    ) from e
  raise MalformedPickleError(f"{where}: pickle ended without STOP")


# --------------------------------------------------------------------------
# Storage blobs: legacy `torch.save` streams.

_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_PROTOCOL = 1001


def _parse_storage_blob(blob: bytes, where: str) -> _Storage:
  """Decodes one `_load_from_bytes` blob into its storage's elements.

  Layout: five protocol-2 pickles (magic number, protocol version, sys_info,
  the storage as a persistent id, the list of storage keys), then for each
  key an int64 element count and the raw elements.

  Args:
    blob: the bytes passed to `torch.storage._load_from_bytes`.
    where: what is being read, for messages.

  Returns:
    The storage, floating types widened/narrowed to float32.
  """
  stream = io.BytesIO(blob)
  refs: dict[str, _StorageRef] = {}

  def persistent_load(pid: Any) -> _StorageRef:
    ok = (
        isinstance(pid, tuple)
        and len(pid) == 6
        and _is_str(pid[0], "storage")
        and isinstance(pid[1], _StorageClass)
        and isinstance(pid[2], str)
        and isinstance(pid[3], str)
        and _is_int(pid[4])
        and pid[4] >= 0
    )
    if not ok:
      raise MalformedPickleError(
          f"{where}: unexpected persistent id; expected ('storage', "
          "torch.<X>Storage, key, location, numel, None)"
      )
    if pid[5] is not None:
      raise MalformedPickleError(f"{where}: storage views are not supported")
    ref = refs.setdefault(pid[2], _StorageRef(pid[2], pid[1], pid[4]))
    if (ref.cls, ref.numel) != (pid[1], pid[4]):
      raise MalformedPickleError(f"{where}: storage {pid[2]} declared twice")
    return ref

  def read(what: str, load: Callable[[Any], Any] | None = None) -> Any:
    return _run_pickle(stream, _BLOB_GLOBALS, f"{where}, {what}", load)

  magic = read("magic number")
  if not _is_int(magic) or magic != _TORCH_MAGIC:
    raise MalformedPickleError(f"{where}: not a torch.save stream (magic)")
  if read("protocol version") != _TORCH_PROTOCOL:
    raise MalformedPickleError(f"{where}: unknown torch.save protocol")
  sys_info = read("sys_info")
  if not isinstance(sys_info, dict):
    raise MalformedPickleError(f"{where}: sys_info is not a dict")
  order = "<" if sys_info.get("little_endian", True) else ">"
  obj = read("storage", persistent_load)
  keys = read("storage keys")
  if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
    raise MalformedPickleError(f"{where}: storage keys are not a list of str")

  offset = stream.tell()
  arrays: dict[str, np.ndarray] = {}
  for key in keys:
    ref = refs.get(key)
    if ref is None:
      raise MalformedPickleError(f"{where}: data for unknown storage {key}")
    dtype = ref.cls.dtype.newbyteorder(order)
    header = blob[offset : offset + 8]
    numel = int.from_bytes(header, "little" if order == "<" else "big")
    end = offset + 8 + ref.numel * dtype.itemsize
    if len(header) < 8 or numel != ref.numel or end > len(blob):
      raise MalformedPickleError(
          f"{where}: storage {key} should hold {ref.numel} elements of "
          f"{ref.cls.qualname}; the blob is truncated or inconsistent"
      )
    raw = np.frombuffer(blob, dtype, count=numel, offset=offset + 8)
    if ref.cls.qualname == "torch.BFloat16Storage":
      raw = (raw.astype(np.uint32) << 16).view(np.float32)
    # Floating storages become float32; others keep their type (native order).
    native = raw.dtype.newbyteorder("=")
    arrays[key] = raw.astype(np.float32 if native.kind == "f" else native)
    offset = end
  if not isinstance(obj, _StorageRef) or obj.key not in arrays:
    raise MalformedPickleError(f"{where}: the blob holds no storage data")
  return _Storage(arrays[obj.key])


# --------------------------------------------------------------------------
# From the unpickled tree to the public records.


def _clip(text: str, limit: int = 200) -> str:
  """`text` for a message: as is when short and printable, else clipped."""
  if len(text) <= limit and text.isprintable():
    return text
  return repr(text[:limit]) + ("..." if len(text) > limit else "")


def _describe(x: Any) -> str:
  if isinstance(x, _Module):
    return f"a {_clip(x.class_name)} network object"
  if isinstance(x, dict):
    return f"a dict with keys {_clip(repr(sorted(x, key=repr)))}"
  return f"a {type(x).__name__}"


def _to_plain(x: Any, memo: dict[int, Any], where: str) -> Any:
  """Inert stdlib/numpy value for `x`; shares what the pickle shared."""
  if id(x) in memo:
    return memo[id(x)][1]
  if isinstance(x, dict):
    out = {}
    memo[id(x)] = (x, out)  # Before the items, so that cycles end here.
    out.update(
        (_to_plain(k, memo, where), _to_plain(v, memo, where))
        for k, v in x.items()
    )
  elif isinstance(x, list):
    out = []
    memo[id(x)] = (x, out)
    out.extend(_to_plain(v, memo, where) for v in x)
  elif isinstance(x, (tuple, set, frozenset)):
    out = type(x)(_to_plain(v, memo, where) for v in x)
  elif isinstance(x, _Module):
    out = _network(x, memo, where)
  elif isinstance(x, _Storage):
    out = x.array
  elif isinstance(x, _DType):
    out = np.dtype(x.name).newbyteorder(x.byteorder)
  elif isinstance(x, (_Callable, _StorageClass)):
    out = f"<global {x.qualname}>"
  else:
    out = x
  memo[id(x)] = (x, out)  # Holding `x` keeps its id from being reused.
  return out


def _flatten(
    module: _Module,
    prefix: str,
    out: dict[str, np.ndarray],
    buffers: set[str],
    active: set[int],
    where: str,
) -> None:
  """Adds `module`'s parameters and buffers as `state_dict()` names them."""
  at = f"{where}: {_clip(module.class_name)} {_clip(repr(prefix))}"
  if id(module) in active:
    raise MalformedPickleError(f"{at}: the module contains itself")
  active.add(id(module))
  state = module.state
  skip = state.get("_non_persistent_buffers_set", set())
  groups = [state.get(k, {}) for k in ("_parameters", "_buffers", "_modules")]
  if not isinstance(skip, (set, frozenset)) or not all(
      isinstance(g, dict) for g in groups
  ):
    raise MalformedPickleError(
        f"{at}: _parameters/_buffers/_modules are not dicts"
    )
  params, bufs, children = groups
  for group, is_buffer in ((params, False), (bufs, True)):
    for name, value in group.items():
      if value is None or (is_buffer and name in skip):
        continue
      if not isinstance(name, str) or not isinstance(value, np.ndarray):
        raise MalformedPickleError(
            f"{at}: entry {_clip(repr(name))} is {_describe(value)}, not a "
            "tensor"
        )
      out[prefix + name] = value
      if is_buffer:
        buffers.add(prefix + name)
  for name, child in children.items():
    if child is None:
      continue
    if not isinstance(name, str) or not isinstance(child, _Module):
      raise MalformedPickleError(
          f"{at}: submodule {_clip(repr(name))} is {_describe(child)}"
      )
    _flatten(child, f"{prefix}{name}.", out, buffers, active, where)
  active.discard(id(module))


def _network(
    module: _Module, memo: dict[int, Any], where: str
) -> OfficialNetwork:
  state_dict: dict[str, np.ndarray] = {}
  buffers: set[str] = set()
  _flatten(module, "", state_dict, buffers, set(), where)
  state = module.state
  init_kwargs = _to_plain(state.get("_init_kwargs", {}), memo, where)
  init_args = _to_plain(state.get("_init_args", ()), memo, where)
  if not isinstance(init_kwargs, dict) or not isinstance(init_args, tuple):
    raise MalformedPickleError(
        f"{where}: {_clip(module.class_name)}: _init_kwargs/_init_args are "
        "not a dict/tuple"
    )
  return OfficialNetwork(
      module.class_name, init_kwargs, init_args, state_dict,
      frozenset(buffers),
  )


_NETWORKS = (("G", "Generator"), ("D", "Discriminator"), ("G_ema", "Generator"))


def _snapshot(top: Any, where: str) -> OfficialSnapshot:
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
  memo: dict[int, Any] = {}
  known = {"G", "D", "G_ema", "augment_pipe", "training_set_kwargs"}
  return OfficialSnapshot(
      G=_network(top["G"], memo, where),
      D=_network(top["D"], memo, where),
      G_ema=_network(top["G_ema"], memo, where),
      augment_pipe=(
          None if augment_pipe is None
          else _network(augment_pipe, memo, where)
      ),
      training_set_kwargs=(
          None if kwargs is None else _to_plain(kwargs, memo, where)
      ),
      extra={
          str(k): _to_plain(v, memo, where)
          for k, v in top.items()
          if k not in known
      },
  )


def load_snapshot(
    path_or_bytes: str | os.PathLike[str] | bytes | bytearray | memoryview,
) -> OfficialSnapshot:
  """Reads an official StyleGAN2-ADA `network-snapshot-*.pkl`, safely.

  Nothing from the file is executed and torch is not needed (see the module
  docstring for how).

  Args:
    path_or_bytes: a path to the pickle, or its bytes.

  Returns:
    The snapshot's G, D, G_ema and augment pipe as `OfficialNetwork`s (init
    kwargs plus flattened state dicts), and its other entries.

  Raises:
    UnsafePickleError: the file names a global or opcode outside the
      allowlist; it was refused before any of it was used.
    LegacyTFPickleError: a TensorFlow-era pickle (not supported yet).
    NotASnapshotError: a readable pickle of something else.
    MalformedPickleError: not a pickle, or a truncated/corrupt one.
  """
  if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
    data, where = bytes(path_or_bytes), "<bytes>"
  else:
    path = pathlib.Path(path_or_bytes)
    data, where = path.read_bytes(), str(path)
  if data[:2] == b"PK":
    raise MalformedPickleError(
        f"{where}: a zip archive (e.g. a torch.save checkpoint), not a "
        "StyleGAN2-ADA network-snapshot pickle"
    )
  if data[:1] != b"\x80":
    raise MalformedPickleError(
        f"{where}: not a pickle of protocol 2 or later (it does not start "
        "with b'\\x80'); expected a StyleGAN2-ADA network-snapshot .pkl"
    )
  try:
    top = _run_pickle(io.BytesIO(data), _OUTER_GLOBALS, where)
    return _snapshot(top, where)
  except RecursionError as e:
    raise MalformedPickleError(f"{where}: nested too deeply") from e
