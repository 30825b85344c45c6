"""Safe reader for `torch.save` checkpoint files: state dicts as NumPy arrays.

This module owns reading what `torch.save(state_dict, path)` writes, without
torch and without running anything from the file, and the torch records that
`official_pickle` shares: storages, lazy tensor views, the tensor-rebuilding
stand-ins and the legacy stream format (snapshot storage blobs are legacy
streams).

Formats (detected from the bytes, not the suffix):

* zip (torch >= 1.6): `<archive>/data.pkl` names each storage by a
  `BINPERSID` id `('storage', torch.<X>Storage, key, location, numel)`
  whose elements are the stored entry `<archive>/data/<key>`, in the byte
  order of `<archive>/byteorder` (little when absent).
* legacy: five pickles (magic number, protocol 1001, sys_info, the object,
  the sorted storage keys), then per key an int64 element count and the raw
  elements; ids are `(..., numel, None)`.
* either one xz-compressed (`lzma`).

Safety: the pickles run on `safe_pickle.run` with an allowlist of inert
stand-ins (`OrderedDict`, `_rebuild_tensor_v2`, `_rebuild_parameter`, the
`torch.*Storage` classes, plain-data builtins); anything else is refused by
name. Zip entry names must stay inside the archive, storages must lie inside
the file, and the arrays made add up to at most `max_tensor_bytes` and to at
most twice the (decompressed) file size.
"""

import dataclasses
import io
import lzma
import os
import pathlib
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from stylegan_jax.errors import UserError

from stylegan_jax.interop import safe_pickle

DEFAULT_MAX_TENSOR_BYTES = 1 << 32  # 4 GiB of arrays.
# Beyond the tensor bytes, what a file may hold (pickles, zip records).
_OVERHEAD_BYTES = 1 << 26
# A file's arrays may total this many times its size: dtype widening
# (bfloat16 -> float32) doubles; more means views copying one storage.
_EXPANSION = 2

_KIND = "torch.save state dict"
_MAX_DIMS = 32  # numpy 1.x's limit (numpy 2: 64).

# --------------------------------------------------------------------------
# Errors.


class TorchFileError(UserError):
  """Base class of every error `load_torch_state_dict` raises."""


class UnsafeTorchFileError(TorchFileError):
  """The file names a global or opcode outside the allowlist; nothing ran."""


class MalformedTorchFileError(TorchFileError):
  """Not a torch.save file, or a truncated or corrupt one."""


class TorchFileLimitError(TorchFileError):
  """The file exceeds a size or shape limit no real state dict needs."""


class NotAStateDictError(TorchFileError):
  """A readable torch.save file that holds no state dict of tensors."""


def _translate(e: safe_pickle.SafePickleError) -> TorchFileError:
  if isinstance(e, safe_pickle.RefusedError):
    return UnsafeTorchFileError(str(e))
  if isinstance(e, safe_pickle.LimitError):
    return TorchFileLimitError(str(e))
  return MalformedTorchFileError(str(e))


# --------------------------------------------------------------------------
# Storages and tensors.


@dataclasses.dataclass(frozen=True, eq=False)
class StorageClass:
  """Stand-in for `torch.<X>Storage`; only ever a value in a persistent id."""

  describe_as: ClassVar[str] = "a torch storage class"
  qualname: str
  dtype: np.dtype  # Element type as stored, little-endian.


_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "BFloat16Storage": "<u2",  # Read as float32 (numpy has no bfloat16).
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
    "ComplexFloatStorage": "<c8",
    "ComplexDoubleStorage": "<c16",
}
STORAGE_CLASSES = {
    ("torch", name): StorageClass(f"torch.{name}", np.dtype(dtype))
    for name, dtype in _STORAGE_DTYPES.items()
}


@dataclasses.dataclass(eq=False)
class Storage:
  """A torch storage: its class, element count and, once read, elements."""

  describe_as: ClassVar[str] = "a torch storage"
  cls: StorageClass
  key: str
  numel: int
  array: np.ndarray | None = None  # [numel], file byte order, read-only.


@dataclasses.dataclass(frozen=True, eq=False)
class TensorRef:
  """A tensor as a view of a storage; `TensorReader` makes the array.

  Element `i` is storage element `offset + sum(i * stride)`.
  """

  describe_as: ClassVar[str] = "a tensor"
  storage: Storage
  offset: int
  size: tuple[int, ...]
  stride: tuple[int, ...]


def _rebuild_tensor_v2(args: tuple[Any, ...], where: str) -> TensorRef:
  qualname = "torch._utils._rebuild_tensor_v2"
  safe_pickle.check_arity(qualname, args, where, 6, 7)
  storage, offset, size, stride, requires_grad, hooks = args[:6]
  metadata = args[6] if len(args) == 7 else None
  if not isinstance(storage, Storage):
    raise safe_pickle.MalformedError(
        f"{where}: {qualname} got {safe_pickle.describe(storage)} as "
        "storage, not a torch storage"
    )
  ok = (
      safe_pickle.is_int(offset)
      and isinstance(size, tuple)
      and isinstance(stride, tuple)
      and all(safe_pickle.is_int(s) and s >= 0 for s in size + stride)
      and len(size) == len(stride)
      and isinstance(requires_grad, bool)
      and safe_pickle.empty_hooks(hooks)
      and (metadata is None or safe_pickle.empty_hooks(metadata))
  )
  if not ok:
    raise safe_pickle.MalformedError(
        f"{where}: {qualname} got unexpected arguments; expected (storage, "
        "offset: int, size: tuple, stride: tuple of the same length, "
        "requires_grad: bool, empty backward_hooks[, empty metadata])"
    )
  if len(size) > _MAX_DIMS or any(n >= 1 << 48 for n in size):
    raise safe_pickle.MalformedError(
        f"{where}: tensor of size {safe_pickle.short_repr(size)}: more than "
        f"{_MAX_DIMS} dimensions or a dimension of 2**48 or more"
    )
  if any(n == 0 for n in size):
    return TensorRef(storage, 0, size, (0,) * len(size))
  if np.prod(size, dtype=object) > storage.numel:
    # Expanded (stride-0) views are not in state dicts; refusing them also
    # stops a tiny file from asking for a huge copy.
    raise safe_pickle.MalformedError(
        f"{where}: tensor of size {size} has more elements than its storage "
        f"({storage.numel}); expanded views are not supported"
    )
  last = offset + sum((n - 1) * s for n, s in zip(size, stride))
  if offset < 0 or last >= storage.numel:
    raise safe_pickle.MalformedError(
        f"{where}: tensor view (offset {safe_pickle.short_repr(offset)}, "
        f"size {size}, stride {safe_pickle.short_repr(stride)}) reaches past "
        f"its storage of {storage.numel} elements"
    )
  # A stride along a dimension of size 1 is never used (and may be huge).
  stride = tuple(s if n > 1 else 0 for n, s in zip(size, stride))
  return TensorRef(storage, offset, size, stride)


def _rebuild_parameter(args: tuple[Any, ...], where: str) -> TensorRef:
  qualname = "torch._utils._rebuild_parameter"
  safe_pickle.check_arity(qualname, args, where, 3)
  data, requires_grad, hooks = args
  if not (
      isinstance(data, TensorRef)
      and isinstance(requires_grad, bool)
      and safe_pickle.empty_hooks(hooks)
  ):
    raise safe_pickle.MalformedError(
        f"{where}: {qualname} got unexpected arguments"
    )
  return data


def _rebuild_parameter_with_state(
    args: tuple[Any, ...], where: str
) -> TensorRef:
  qualname = "torch._utils._rebuild_parameter_with_state"
  safe_pickle.check_arity(qualname, args, where, 4)
  state = args[3]
  if state is not None and not safe_pickle.empty_hooks(state):
    raise safe_pickle.MalformedError(f"{where}: {qualname} with state")
  return _rebuild_parameter(args[:3], where)


TENSOR_GLOBALS = {
    ("torch._utils", c.qualname.rsplit(".", 1)[1]): c
    for c in (
        safe_pickle.Call("torch._utils._rebuild_tensor_v2", _rebuild_tensor_v2),
        safe_pickle.Call("torch._utils._rebuild_parameter", _rebuild_parameter),
        safe_pickle.Call(
            "torch._utils._rebuild_parameter_with_state",
            _rebuild_parameter_with_state,
        ),
    )
}


class TensorReader:
  """Makes owned arrays of `TensorRef`s, once per view, within a budget.

  The same view (storage, offset, size, stride) gives the same array, as in
  torch, where it is the same memory. All arrays made add up to at most
  `min(max_tensor_bytes, 2 * file_bytes)`.
  """

  def __init__(
      self,
      *,
      file_bytes: int,
      max_tensor_bytes: int,
      kind: str,
      float32: bool = False,
  ):
    """Sets up the budget.

    Args:
      file_bytes: the size of the (decompressed) file the tensors come from.
      max_tensor_bytes: the caller's memory cap for all arrays together.
      kind: the format, for messages.
      float32: make every floating tensor float32 (else keep its dtype;
        bfloat16 always becomes float32).
    """
    self._file_bytes = file_bytes
    self._max_tensor_bytes = max_tensor_bytes
    self._kind = kind
    self._float32 = float32
    self._used = 0
    self._made: dict[tuple[Any, ...], tuple[Storage, np.ndarray]] = {}

  def out_dtype(self, ref: TensorRef) -> np.dtype:
    dtype = ref.storage.cls.dtype
    if ref.storage.cls.qualname == "torch.BFloat16Storage" or (
        self._float32 and dtype.kind == "f"
    ):
      return np.dtype(np.float32)
    return dtype.newbyteorder("=")

  def __call__(self, ref: TensorRef, where: str) -> np.ndarray:
    """The array `ref` views: [*ref.size], an owned C-contiguous copy."""
    view = (id(ref.storage), ref.offset, ref.size, ref.stride)
    if view in self._made:
      return self._made[view][1]
    dtype = self.out_dtype(ref)
    nbytes = int(np.prod(ref.size, dtype=object)) * dtype.itemsize
    self._charge(nbytes, where)
    array = ref.storage.array
    if array is None:
      raise safe_pickle.MalformedError(
          f"{where}: storage {safe_pickle.clip(ref.storage.key)} has no data"
      )
    out = np.empty(ref.size, dtype)
    if out.size:
      src = np.lib.stride_tricks.as_strided(
          array[ref.offset :],
          shape=ref.size,
          strides=tuple(s * array.itemsize for s in ref.stride),
          writeable=False,
      )
      if ref.storage.cls.qualname == "torch.BFloat16Storage":
        src = (src.astype(np.uint32) << 16).view(np.float32)
      out[...] = src
    self._made[view] = (ref.storage, out)  # Holding it pins its id.
    return out

  def _charge(self, nbytes: int, where: str) -> None:
    self._used += nbytes
    expansion = _EXPANSION * self._file_bytes
    if self._used > self._max_tensor_bytes:
      raise safe_pickle.LimitError(
          f"{where}: the tensors need more than max_tensor_bytes="
          f"{self._max_tensor_bytes} bytes; pass a larger max_tensor_bytes "
          f"if the file is genuine and that much memory is free"
      )
    if self._used > expansion:
      raise safe_pickle.limit_error(
          where,
          f"the tensors add up to more than {_EXPANSION} times the file's "
          f"{self._file_bytes} bytes (views copying the same storage over "
          "and over)",
          self._kind,
      )


# --------------------------------------------------------------------------
# Reading the bytes.

_XZ_MAGIC = b"\xfd7zXZ\x00"
_ZIP_MAGIC = b"PK\x03\x04"
_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_PROTOCOL = 1001
_PICKLE_MAGIC = b"\x80"  # PROTO: a legacy stream opens with a pickle.


def max_file_bytes(max_tensor_bytes: int) -> int:
  """The largest file accepted when arrays may take `max_tensor_bytes`."""
  return max_tensor_bytes + _OVERHEAD_BYTES


def read_input(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview,
    *,
    max_bytes: int,
    kind: str,
) -> tuple[bytes, str]:
  """The bytes of a file or buffer, refusing more than `max_bytes`.

  Args:
    source: a path or the bytes themselves.
    max_bytes: the largest size accepted.
    kind: the format, for messages.

  Returns:
    (data, where): the bytes and a name for messages.
  """
  if isinstance(source, (bytes, bytearray, memoryview)):
    data, where = bytes(source), "<bytes>"
  else:
    path = pathlib.Path(source)
    where = str(path)
    size = path.stat().st_size
    if size > max_bytes:
      raise _too_big(where, f"is {size} bytes,", max_bytes, kind)
    with path.open("rb") as f:
      data = f.read(max_bytes + 1)  # Bounded also where st_size is 0.
  if len(data) > max_bytes:
    raise _too_big(where, f"is {len(data)} bytes,", max_bytes, kind)
  return data, where


def _too_big(where: str, what: str, max_bytes: int, kind: str):
  return safe_pickle.LimitError(
      f"{where}: the file {what} more than the {max_bytes} bytes accepted "
      f"for a {kind}; pass a larger max_tensor_bytes if it is genuine"
  )


def _decompress_xz(data: bytes, max_bytes: int, where: str) -> bytes:
  decompressor = lzma.LZMADecompressor(lzma.FORMAT_XZ)
  try:
    out = decompressor.decompress(data, max_length=max_bytes + 1)
  except lzma.LZMAError as e:
    raise safe_pickle.MalformedError(
        f"{where}: not a readable xz file (corrupt or truncated): "
        f"{safe_pickle.clip(str(e), 120)}"
    ) from e
  if len(out) > max_bytes:
    raise _too_big(where, "decompresses to", max_bytes, _KIND)
  if not decompressor.eof:
    raise safe_pickle.MalformedError(
        f"{where}: not a readable xz file (corrupt or truncated): the "
        "stream ends early"
    )
  if decompressor.unused_data.strip(b"\0"):
    raise safe_pickle.MalformedError(
        f"{where}: data after the xz stream; expected one xz stream"
    )
  return out


def _storage_pid(pid: Any, length: int, where: str) -> tuple[Any, ...]:
  """Checks a persistent id `('storage', cls, key, location, numel, ...)`."""
  ok = (
      isinstance(pid, tuple)
      and len(pid) == length
      and safe_pickle.is_str(pid[0], "storage")
      and isinstance(pid[1], StorageClass)
      and isinstance(pid[2], str)
      and isinstance(pid[3], str)
      and safe_pickle.is_int(pid[4])
      and pid[4] >= 0
  )
  if not ok:
    extra = ", None" if length == 6 else ""
    raise safe_pickle.MalformedError(
        f"{where}: unexpected persistent id {safe_pickle.short_repr(pid)}; "
        f"expected ('storage', torch.<X>Storage, key, location, numel{extra})"
    )
  if length == 6 and pid[5] is not None:
    raise safe_pickle.MalformedError(
        f"{where}: storage views are not supported"
    )
  return pid


def read_legacy(
    data: bytes,
    find_global: safe_pickle.FindGlobal,
    *,
    kind: str,
    where: str,
) -> Any:
  """Reads a legacy `torch.save` stream (also a snapshot's storage blob).

  Args:
    data: the whole stream: five pickles, then the storage records.
    find_global: the stand-ins the object's pickle may name.
    kind: the format, for messages.
    where: what is being read, for messages.

  Returns:
    The saved object; its `Storage`s hold their elements.
  """
  stream = io.BytesIO(data)
  storages: dict[str, Storage] = {}

  def persistent_load(pid: Any) -> Storage:
    _, cls, key, _, numel, _ = _storage_pid(pid, 6, where)
    storage = storages.setdefault(key, Storage(cls, key, numel))
    if (storage.cls, storage.numel) != (cls, numel):
      raise safe_pickle.MalformedError(
          f"{where}: storage {safe_pickle.clip(key)} declared twice"
      )
    return storage

  def read(what: str, load: Callable[[Any], Any] | None = None) -> Any:
    return safe_pickle.run(
        stream, find_global, kind=kind, where=f"{where}, {what}",
        persistent_load=load,
    )

  magic = read("magic number")
  if not safe_pickle.is_int(magic) or magic != _TORCH_MAGIC:
    raise safe_pickle.MalformedError(
        f"{where}: not a torch.save file: a pickle, but not one opening "
        "with torch's magic number"
    )
  if read("protocol version") != _TORCH_PROTOCOL:
    raise safe_pickle.MalformedError(f"{where}: unknown torch.save protocol")
  sys_info = read("sys_info")
  if not isinstance(sys_info, dict):
    raise safe_pickle.MalformedError(f"{where}: sys_info is not a dict")
  order = "<" if sys_info.get("little_endian", True) else ">"
  obj = read("object", persistent_load)
  keys = read("storage keys")
  if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
    raise safe_pickle.MalformedError(
        f"{where}: storage keys are not a list of str"
    )

  offset = stream.tell()
  for key in keys:
    storage = storages.get(key)
    if storage is None or storage.array is not None:
      raise safe_pickle.MalformedError(
          f"{where}: data for an unknown or repeated storage "
          f"{safe_pickle.clip(key)}"
      )
    dtype = storage.cls.dtype.newbyteorder(order)
    header = data[offset : offset + 8]
    nbytes = storage.numel * dtype.itemsize
    if len(header) < 8 or offset + 8 + nbytes > len(data):
      raise safe_pickle.MalformedError(
          f"{where}: storage {safe_pickle.clip(key)} should hold "
          f"{storage.numel} elements of {storage.cls.qualname} "
          f"({nbytes} bytes); the file ends before them (truncated, or a "
          "storage claiming more bytes than the file holds)"
      )
    numel = int.from_bytes(header, "little" if order == "<" else "big")
    if numel != storage.numel:
      raise safe_pickle.MalformedError(
          f"{where}: storage {safe_pickle.clip(key)} holds {numel} elements "
          f"but its id says {storage.numel}"
      )
    storage.array = np.frombuffer(data, dtype, count=numel, offset=offset + 8)
    offset += 8 + nbytes
  for storage in storages.values():
    if storage.array is None:
      raise safe_pickle.MalformedError(
          f"{where}: storage {safe_pickle.clip(storage.key)} has no data "
          "(truncated?)"
      )
  return obj


_ZIP_STORAGE_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


def _entry_escapes(name: str) -> bool:
  parts = re.split(r"[/\\]", name)
  return (
      name.startswith(("/", "\\"))
      or re.match(r"^[A-Za-z]:", name) is not None
      or ".." in parts
  )


def _read_zip(data: bytes, find_global: safe_pickle.FindGlobal,
              where: str) -> Any:
  """Reads the zip format; returns the saved object with storages read."""
  try:
    infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
  except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError,
          ValueError, struct.error, NotImplementedError) as e:
    raise safe_pickle.MalformedError(
        f"{where}: not a readable zip archive (corrupt or truncated): "
        f"{safe_pickle.clip(str(e), 120)}"
    ) from e
  entries: dict[str, zipfile.ZipInfo] = {}
  for info in infos:
    name = info.filename
    if _entry_escapes(name):
      raise safe_pickle.RefusedError(
          f"{where}: zip entry {safe_pickle.short_repr(name)} points outside "
          f"the archive; {safe_pickle.REFUSED}"
      )
    if name in entries:
      raise safe_pickle.MalformedError(
          f"{where}: zip entry {safe_pickle.short_repr(name)} appears twice"
      )
    entries[name] = info
  prefix = infos[0].filename.split("/")[0] if infos else ""
  if f"{prefix}/constants.pkl" in entries:
    raise safe_pickle.MalformedError(
        f"{where}: a TorchScript archive (torch.jit.save), not a torch.save "
        "checkpoint; save the state dict with torch.save(model.state_dict(), "
        "path) instead"
    )
  if f"{prefix}/data.pkl" not in entries:
    raise safe_pickle.MalformedError(
        f"{where}: a zip archive but not a torch.save checkpoint: it has no "
        f"{safe_pickle.short_repr(prefix + '/data.pkl')} entry"
    )

  def read_entry(name: str) -> memoryview:
    info = entries[name]
    what = f"zip entry {safe_pickle.short_repr(name)}"
    if info.compress_type != zipfile.ZIP_STORED:
      raise safe_pickle.MalformedError(
          f"{where}: {what} is compressed (method {info.compress_type}); "
          "torch.save stores entries uncompressed"
      )
    header = data[info.header_offset : info.header_offset + 30]
    if len(header) < 30 or header[:4] != _ZIP_MAGIC:
      raise safe_pickle.MalformedError(
          f"{where}: {what} has no local header (corrupt or truncated)"
      )
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    start = info.header_offset + 30 + name_len + extra_len
    if start + info.file_size > len(data):
      raise safe_pickle.MalformedError(
          f"{where}: {what} claims {info.file_size} bytes; the file holds "
          f"only {max(len(data) - start, 0)} after its header"
      )
    view = memoryview(data)[start : start + info.file_size]
    if zlib.crc32(view) != info.CRC:
      raise safe_pickle.MalformedError(
          f"{where}: {what} fails its CRC check (corrupt)"
      )
    return view

  order = "<"
  if f"{prefix}/byteorder" in entries:
    byteorder = bytes(read_entry(f"{prefix}/byteorder"))
    if byteorder not in (b"little", b"big"):
      raise safe_pickle.MalformedError(
          f"{where}: byteorder entry is {safe_pickle.short_repr(byteorder)}"
      )
    order = "<" if byteorder == b"little" else ">"
  storages: dict[str, Storage] = {}

  def persistent_load(pid: Any) -> Storage:
    _, cls, key, _, numel = _storage_pid(pid, 5, where)
    if key in storages:
      storage = storages[key]
      if (storage.cls, storage.numel) != (cls, numel):
        raise safe_pickle.MalformedError(
            f"{where}: storage {safe_pickle.clip(key)} declared twice"
        )
      return storage
    name = f"{prefix}/data/{key}"
    if not _ZIP_STORAGE_KEY.match(key) or key.strip(".") == "":
      raise safe_pickle.MalformedError(
          f"{where}: storage key {safe_pickle.short_repr(key)} is not a "
          "plain name"
      )
    if name not in entries:
      raise safe_pickle.MalformedError(
          f"{where}: storage {safe_pickle.clip(key)} has no entry {name}"
      )
    dtype = cls.dtype.newbyteorder(order)
    nbytes = numel * dtype.itemsize
    if nbytes > len(data):
      raise safe_pickle.MalformedError(
          f"{where}: storage {safe_pickle.clip(key)} claims {nbytes} bytes "
          f"({numel} elements of {cls.qualname}); the file holds only "
          f"{len(data)}"
      )
    if entries[name].file_size != nbytes:
      raise safe_pickle.MalformedError(
          f"{where}: storage {safe_pickle.clip(key)} should hold {nbytes} "
          f"bytes ({numel} elements of {cls.qualname}); its entry holds "
          f"{entries[name].file_size}"
      )
    storage = Storage(cls, key, numel)
    storage.array = np.frombuffer(read_entry(name), dtype, count=numel)
    storages[key] = storage
    return storage

  pickle_bytes = read_entry(f"{prefix}/data.pkl")
  return safe_pickle.run(
      io.BytesIO(pickle_bytes), find_global, kind=_KIND,
      where=f"{where}, data.pkl", persistent_load=persistent_load,
  )


_FIND_GLOBAL = safe_pickle.table_lookup(
    {**safe_pickle.common_globals(_KIND), **TENSOR_GLOBALS, **STORAGE_CLASSES},
    _KIND,
)


# --------------------------------------------------------------------------
# The state dict.


def _is_state_dict(x: Any) -> bool:
  return isinstance(x, dict) and all(
      isinstance(k, str) and isinstance(v, TensorRef) for k, v in x.items()
  )


def _find_state_dict(top: Any, key: str | None, where: str) -> dict[str, Any]:
  if not isinstance(top, dict):
    raise NotAStateDictError(
        f"{where}: the file holds {safe_pickle.describe(top)}; expected a "
        "state dict (a dict of name -> tensor)"
    )
  if key is not None:
    if key not in top or not _is_state_dict(top[key]):
      found = safe_pickle.describe(top.get(key)) if key in top else "nothing"
      raise NotAStateDictError(
          f"{where}: key={key!r} selects {found}; expected a dict of name -> "
          f"tensor (the file holds {safe_pickle.describe(top)})"
      )
    return top[key]
  if _is_state_dict(top):
    return top
  checked: dict[int, bool] = {}  # Each dict once, however often shared.
  nested = []
  for name, value in top.items():
    if isinstance(value, dict) and value:
      if id(value) not in checked:
        checked[id(value)] = _is_state_dict(value)
      if checked[id(value)]:
        nested.append(name)
  if len(nested) == 1:
    return top[nested[0]]
  if any(isinstance(v, TensorRef) for v in top.values()):
    name, value = next(
        (k, v) for k, v in top.items()
        if not (isinstance(k, str) and isinstance(v, TensorRef))
    )
    what = (
        f"is {safe_pickle.describe(value)}, not a tensor"
        if isinstance(name, str) else "is not named by a string"
    )
    raise NotAStateDictError(
        f"{where}: entry {safe_pickle.short_repr(name)} {what}; expected a "
        "state dict (a dict of name -> tensor)"
    )
  hint = (
      "pass key= one of "
      + ", ".join(safe_pickle.short_repr(k) for k in nested[:8])
      if nested
      else "expected a dict of name -> tensor, or a checkpoint dict holding "
      "one such dict"
  )
  raise NotAStateDictError(
      f"{where}: the file holds {safe_pickle.describe(top)}, not a state "
      f"dict; {hint}"
  )


def load_torch_state_dict(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview,
    *,
    key: str | None = None,
    max_tensor_bytes: int = DEFAULT_MAX_TENSOR_BYTES,
) -> dict[str, np.ndarray]:
  """Reads a state dict saved with `torch.save`, safely and without torch.

  Args:
    source: a `.pth`/`.pt` path (optionally xz-compressed) or its bytes.
    key: for a checkpoint dict such as `{'state_dict': {...}, 'epoch': 3}`,
      which entry holds the state dict. By default: the file's dict itself
      when all its values are tensors, else its only entry that is a dict of
      tensors.
    max_tensor_bytes: refuse files whose arrays would need more memory.

  Returns:
    Name -> array, in the file's order: `[*size]`, C-contiguous, owned, in
    the tensor's dtype (float32, float64, float16, int64, bool, ...; bfloat16
    becomes float32). 0-d tensors (`num_batches_tracked`) are 0-d arrays.

  Raises:
    UnsafeTorchFileError: a global or opcode outside the allowlist, or a zip
      entry outside the archive; nothing from the file ran.
    MalformedTorchFileError: not a torch.save file, or a truncated/corrupt
      one (including storages that claim more bytes than the file holds).
    TorchFileLimitError: over `max_tensor_bytes`, or shapes no real file has.
    NotAStateDictError: a readable file that holds no state dict.
  """
  max_bytes = max_file_bytes(max_tensor_bytes)
  try:
    data, where = read_input(source, max_bytes=max_bytes, kind=_KIND)
    if data.startswith(_XZ_MAGIC):
      data = _decompress_xz(data, max_bytes, where)
    if data.startswith(_ZIP_MAGIC):
      top = _read_zip(data, _FIND_GLOBAL, where)
    elif data.startswith(_PICKLE_MAGIC):
      top = read_legacy(data, _FIND_GLOBAL, kind=_KIND, where=where)
    else:
      raise safe_pickle.MalformedError(
          f"{where}: not a torch.save file: it is neither a zip archive "
          "(torch >= 1.6) nor a pickle (legacy torch.save), nor xz of either "
          f"(it starts with {safe_pickle.short_repr(data[:8])})"
      )
    state_dict = _find_state_dict(top, key, where)
    reader = TensorReader(
        file_bytes=len(data), max_tensor_bytes=max_tensor_bytes, kind=_KIND
    )
    return {
        name: reader(ref, f"{where}: {safe_pickle.clip(name)}")
        for name, ref in state_dict.items()
    }
  except safe_pickle.SafePickleError as e:
    raise _translate(e) from None
