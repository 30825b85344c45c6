"""Writers of hand-made pickles and `torch.save` files for the interop tests.

Globals are written by name (`Global('torch._utils._rebuild_tensor_v2')`), so
the tests need neither torch nor the classes they name. `torch_zip` and
`torch_legacy` lay files out as torch 2.x does (see the module docstring of
`stylegan_jax.interop.torch_file`); the real fixtures check that the reader
agrees with torch itself.
"""

import io
import pickle
import struct
import zipfile
from typing import Any, ClassVar

import numpy as np


class Global:
  """A global written as a `GLOBAL` opcode; calling it makes a `Call`."""

  def __init__(self, qualname: str):
    self.module, self.name = qualname.rsplit(".", 1)

  def __call__(self, *args):
    return Call(self, args)


class Call:
  """Pickles as `REDUCE` of `fn` on `args`."""

  def __init__(self, fn, args):
    self.fn, self.args = fn, args

  def __reduce__(self):
    return self.fn, self.args


class Pickler(pickle._Pickler):  # pylint: disable=protected-access
  """The pure-Python pickler, writing `Global`s as they are named."""

  dispatch: ClassVar[dict[type, Any]] = dict(
      pickle._Pickler.dispatch  # pylint: disable=protected-access
  )

  def _save_global_ref(self, obj):
    self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
    self.memoize(obj)

  dispatch[Global] = _save_global_ref

  def __init__(self, file, protocol, persistent_id=None):
    super().__init__(file, protocol)
    self._persistent_id = persistent_id

  def persistent_id(self, obj):
    return self._persistent_id(obj) if self._persistent_id else None


def dumps(obj, protocol=4, persistent_id=None) -> bytes:
  f = io.BytesIO()
  Pickler(f, protocol, persistent_id).dump(obj)
  return f.getvalue()


ORDERED_DICT = Global("collections.OrderedDict")
REBUILD_TENSOR = Global("torch._utils._rebuild_tensor_v2")
REBUILD_PARAMETER = Global("torch._utils._rebuild_parameter")
LOAD_FROM_BYTES = Global("torch.storage._load_from_bytes")
PERSISTENT = Global("torch_utils.persistence._reconstruct_persistent_obj")

STORAGE_CLASS = {
    "float32": "FloatStorage", "float64": "DoubleStorage",
    "float16": "HalfStorage", "int64": "LongStorage", "int32": "IntStorage",
    "int16": "ShortStorage", "int8": "CharStorage", "uint8": "ByteStorage",
    "bool": "BoolStorage", "complex64": "ComplexFloatStorage",
}


class Storage:
  """A storage to write: 1-D elements, a torch class, and optionally a numel
  to claim in its id instead of the true one."""

  def __init__(self, array, cls=None, numel=None):
    self.array = np.ascontiguousarray(array).reshape(-1)
    self.cls = cls or STORAGE_CLASS[self.array.dtype.name]
    self.numel = self.array.size if numel is None else numel


def tensor(storage, offset=0, size=None, stride=None):
  """`_rebuild_tensor_v2` of a view (C-contiguous over all by default)."""
  if size is None:
    size = (storage.array.size,)
  if stride is None:
    stride = tuple(int(np.prod(size[i + 1:])) for i in range(len(size)))
  return REBUILD_TENSOR(storage, offset, tuple(size), tuple(stride), False,
                        ORDERED_DICT())


def parameter(storage, **kwargs):
  return REBUILD_PARAMETER(tensor(storage, **kwargs), False, ORDERED_DICT())


def state_dict(arrays: dict[str, np.ndarray]):
  """An `OrderedDict` call of one tensor (own storage) per array."""
  items = [
      (name, tensor(Storage(a), size=a.shape)) for name, a in arrays.items()
  ]
  return ORDERED_DICT(items)


def _storages(obj, protocol, length):
  """Pickles `obj`; returns the bytes and the storages in first-use order."""
  seen: dict[int, tuple[str, Storage]] = {}

  def persistent_id(x):
    if not isinstance(x, Storage):
      return None
    key = seen.setdefault(id(x), (str(len(seen)), x))[0]
    pid = ("storage", Global(f"torch.{x.cls}"), key, "cpu", x.numel)
    return pid + (None,) * (length - 5)

  data = dumps(obj, protocol, persistent_id)
  return data, [s for _, s in seen.values()]


def torch_zip(obj, *, prefix="archive", byteorder="little", extra=(),
              protocol=2) -> bytes:
  """What `torch.save(obj, f)` writes (zip format), with `extra` entries."""
  data, storages = _storages(obj, protocol, 5)
  f = io.BytesIO()
  with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
    z.writestr(f"{prefix}/data.pkl", data)
    z.writestr(f"{prefix}/byteorder", byteorder)
    for key, storage in enumerate(storages):
      order = "<" if byteorder == "little" else ">"
      array = storage.array.astype(storage.array.dtype.newbyteorder(order))
      z.writestr(f"{prefix}/data/{key}", array.tobytes())
    z.writestr(f"{prefix}/version", "3\n")
    for name, content in extra:
      z.writestr(zipfile.ZipInfo(name), content)
  return f.getvalue()


def legacy_header(protocol=2) -> bytes:
  """The magic number, protocol and sys_info pickles of a legacy stream."""
  sys_info = {
      "protocol_version": 1001,
      "little_endian": True,
      "type_sizes": {"short": 2, "int": 4, "long": 4},
  }
  return b"".join(
      dumps(x, protocol) for x in (0x1950A86A20F9469CFC6C, 1001, sys_info)
  )


def torch_legacy(obj, protocol=2) -> bytes:
  """What `torch.save(obj, f, _use_new_zipfile_serialization=False)` writes."""
  data, storages = _storages(obj, protocol, 6)
  keys = [str(i) for i in range(len(storages))]
  records = b"".join(
      struct.pack("<q", s.numel) + s.array.astype(
          s.array.dtype.newbyteorder("<")).tobytes()
      for s in storages
  )
  return legacy_header(protocol) + data + dumps(keys, protocol) + records


def zip_bytes(entries) -> bytes:
  """A stored zip of (name, bytes) entries, names written as given."""
  f = io.BytesIO()
  with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
    for name, content in entries:
      z.writestr(zipfile.ZipInfo(name), content)
  return f.getvalue()


class Reduce:
  """Pickles as a call of a real callable (what an attacker would write)."""

  def __init__(self, fn, *args):
    self.fn, self.args = fn, args

  def __reduce__(self):
    return self.fn, self.args


def snapshot_network(class_name, params=(), buffers=(), modules=(),
                     container=dict, **attrs):
  """A persistent network object as the official `persistence` writes it."""
  state = {
      "training": False,
      "_parameters": container(params),
      "_buffers": container(buffers),
      "_non_persistent_buffers_set": {"scratch"},
      "_modules": container(modules),
      **attrs,
  }
  meta = {
      "type": "class",
      "version": 6,
      "module_src": "# module source\n",
      "class_name": class_name,
      "state": state,
  }
  return PERSISTENT(meta)
