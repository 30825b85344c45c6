"""Tests for the safe StyleGAN2-ADA network-snapshot importer.

Covers the official fixture (counts, shapes, kwargs, one tensor decoded
independently), hand-made snapshots in every pickle protocol and storage type,
hostile pickles (each would create a marker file if anything in it ran) and
inputs that are not snapshots.
"""

import builtins
import collections
import io
import itertools
import json
import os
import pickle
import pickletools
import shlex
import struct
import subprocess
import sys

import numpy as np
import pytest

from stylegan_jax.interop import official_pickle
from tests import reference
from tests.interop import pickle_writer as pw

load_snapshot = official_pickle.load_snapshot
UnsafePickleError = official_pickle.UnsafePickleError
NotASnapshotError = official_pickle.NotASnapshotError

SNAPSHOT = "sg2ada_snapshot_16.pkl"
SYSTEM = f"{os.system.__module__}.system"  # 'posix.system' on Linux.


@pytest.fixture(scope="module", name="raw")
def fixture_raw() -> bytes:
  return (reference.require() / SNAPSHOT).read_bytes()


@pytest.fixture(scope="module", name="snapshot")
def fixture_snapshot():
  return load_snapshot(reference.require() / SNAPSHOT)


@pytest.fixture(scope="module", name="config")
def fixture_config() -> dict:
  path = reference.require() / "sg2ada_snapshot_16_expected.npz"
  with np.load(path) as npz:
    return json.loads(str(npz["config"]))


def _plain_numbers(x):
  """JSON-like copy with every int/float as float, to compare kwargs."""
  if isinstance(x, dict):
    return {k: _plain_numbers(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_plain_numbers(v) for v in x]
  if isinstance(x, (int, float)) and not isinstance(x, bool):
    return float(x)
  return x


# --------------------------------------------------------------------------
# The official fixture.


def test_fixture_sizes(snapshot):
  for net, size, buffers in (
      (snapshot.G, 58, 14),
      (snapshot.D, 46, 10),
      (snapshot.G_ema, 58, 14),
      (snapshot.augment_pipe, 3, 3),
  ):
    assert len(net.state_dict) == size
    assert len(net.buffer_names) == buffers
    assert all(v.dtype == np.float32 for v in net.state_dict.values())
  assert snapshot.augment_pipe.class_name == "AugmentPipe"
  assert float(snapshot.augment_pipe.state_dict["p"]) == pytest.approx(0.2)
  assert snapshot.extra == {}


def test_fixture_shapes(snapshot):
  expected = {
      "G": {
          "synthesis.b4.const": (32, 4, 4),
          "synthesis.b4.resample_filter": (4, 4),
          "synthesis.b8.conv0.noise_const": (8, 8),
          "synthesis.b16.conv0.weight": (16, 32, 3, 3),
          "synthesis.b16.conv1.noise_strength": (),
          "synthesis.b16.torgb.affine.weight": (16, 32),
          "mapping.w_avg": (32,),
          "mapping.embed.weight": (32, 3),
          "mapping.fc0.weight": (32, 64),
      },
      "D": {
          "b16.fromrgb.weight": (16, 3, 1, 1),
          "b16.skip.weight": (32, 16, 1, 1),
          "b4.fc.weight": (32, 512),
          "b4.out.weight": (32, 32),
          "mapping.embed.weight": (32, 3),
      },
      "augment_pipe": {"p": (), "Hz_geom": (12,), "Hz_fbank": (4, 43)},
  }
  for net_name, shapes in expected.items():
    state_dict = getattr(snapshot, net_name).state_dict
    for name, shape in shapes.items():
      assert state_dict[name].shape == shape, (net_name, name)
  # torch's state_dict() order: a module's parameters, buffers, children.
  assert list(snapshot.G.state_dict)[:3] == [
      "synthesis.b4.const",
      "synthesis.b4.resample_filter",
      "synthesis.b4.conv1.weight",
  ]
  assert "b16.skip.bias" not in snapshot.D.state_dict  # bias=None attribute.


def test_fixture_values_differ_between_networks(snapshot):
  g, g_ema = snapshot.G.state_dict, snapshot.G_ema.state_dict
  assert list(g) == list(g_ema)
  for name in g:
    if not name.endswith("resample_filter"):
      assert not np.array_equal(g[name], g_ema[name]), name
  assert not np.array_equal(
      g["mapping.embed.weight"], snapshot.D.state_dict["mapping.embed.weight"]
  )


def test_fixture_kwargs_match_config(snapshot, config):
  for key, net in (("G", snapshot.G), ("D", snapshot.D),
                   ("G_ema", snapshot.G_ema),
                   ("augment_pipe", snapshot.augment_pipe)):
    assert _plain_numbers(net.init_kwargs) == _plain_numbers(
        config[f"{key}_init_kwargs"]
    ), key
    assert net.init_args == ()
  assert type(snapshot.G.init_kwargs["mapping_kwargs"]) is dict  # EasyDict.
  assert snapshot.training_set_kwargs == config["training_set_kwargs"]
  assert float(snapshot.augment_pipe.state_dict["p"]) == config[
      "augment_pipe_p"
  ]


def test_fixture_resample_filters(snapshot):
  f = np.array([1, 3, 3, 1], np.float32)
  expected = np.outer(f, f) / np.outer(f, f).sum()
  names = [
      (net, name)
      for net in (snapshot.G, snapshot.G_ema, snapshot.D)
      for name in net.state_dict
      if name.endswith("resample_filter")
  ]
  assert len(names) == 8 + 8 + 10  # G, G_ema, D.
  for net, name in names:
    np.testing.assert_array_equal(net.state_dict[name], expected)


@pytest.mark.parametrize(
    "net_name, name, shape, nth_blob",
    [
        # The first tensor in the file.
        ("G", "synthesis.b4.const", (32, 4, 4), 0),
        # The largest blob: written between two protocol-4 frames.
        ("D", "b4.fc.weight", (32, 512), None),
    ],
)
def test_tensor_matches_independent_parse(
    raw, snapshot, net_name, name, shape, nth_blob
):
  blobs = [  # Bytes that start with torch.save's magic-number pickle.
      arg
      for op, arg, _ in pickletools.genops(raw)
      if op.name in ("BINBYTES", "SHORT_BINBYTES")
      and arg.startswith(b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19.")
  ]
  assert len(blobs) == 165
  blob = blobs[nth_blob] if nth_blob is not None else max(blobs, key=len)
  # A legacy torch.save blob ends with int64 numel and the float32 data.
  numel = int(np.prod(shape))
  data = blob[len(blob) - 4 * numel :]
  (count,) = struct.unpack("<q", blob[len(blob) - 4 * numel - 8 :][:8])
  assert count == numel
  expected = np.frombuffer(data, "<f4").reshape(shape)
  got = getattr(snapshot, net_name).state_dict[name]
  assert got.tobytes() == expected.tobytes()


def test_every_tensor_matches_its_blob(raw, snapshot):
  """All 165 tensors, in file order (G, D, G_ema, augment_pipe; each in
  state_dict() order), byte for byte against the float32 data that ends
  each blob."""
  blobs = [  # Bytes that start with torch.save's magic-number pickle.
      arg
      for op, arg, _ in pickletools.genops(raw)
      if op.name in ("BINBYTES", "SHORT_BINBYTES")
      and arg.startswith(b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19.")
  ]
  tensors = [
      array
      for net in (snapshot.G, snapshot.D, snapshot.G_ema,
                  snapshot.augment_pipe)
      for array in net.state_dict.values()
  ]
  assert len(blobs) == len(tensors) == 165
  for blob, tensor in zip(blobs, tensors):
    data = blob[len(blob) - 4 * tensor.size :]
    (count,) = struct.unpack("<q", blob[len(blob) - len(data) - 8 :][:8])
    assert count == tensor.size
    assert tensor.tobytes() == data
    assert tensor.flags.c_contiguous and tensor.flags.owndata


def test_fixture_loads_without_exec_eval_compile(monkeypatch):
  def refuse(*args, **kwargs):
    raise AssertionError("the loader ran code")

  path = reference.require() / SNAPSHOT  # Outside the patched region.
  for name in ("exec", "eval", "compile"):
    monkeypatch.setattr(builtins, name, refuse)
  monkeypatch.setattr(os, "system", refuse)
  try:
    snapshot = load_snapshot(path)
  finally:
    monkeypatch.undo()  # pytest's own reporting needs compile back.
  assert len(snapshot.G.state_dict) == 58


def test_module_imports_without_jax_tensorflow_torch():
  path = official_pickle.__file__
  code = (
      "import importlib.util, sys\n"
      f"spec = importlib.util.spec_from_file_location('m', {path!r})\n"
      "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
      "heavy = {'jax', 'tensorflow', 'torch', 'flax'}\n"
      "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
  )
  out = subprocess.run(
      [sys.executable, "-c", code], capture_output=True, text=True, check=True
  )
  assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------
# Hand-made snapshots (writer: tests/interop/pickle_writer.py).

_Global = pw.Global
_dumps = pw.dumps
_ORDERED_DICT = pw.ORDERED_DICT
_REBUILD_TENSOR = pw.REBUILD_TENSOR
_LOAD_FROM_BYTES = pw.LOAD_FROM_BYTES
_network = pw.snapshot_network


def _blob(storage_class, array):
  """A legacy torch.save stream of one storage, as `_load_from_bytes` gets."""
  return pw.torch_legacy(pw.Storage(array, storage_class))


def _tensor(storage, offset, size, stride):
  return pw.tensor(storage, offset=offset, size=size, stride=stride)


def _parameter(storage, offset, size, stride):
  return pw.parameter(storage, offset=offset, size=size, stride=stride)


def _fake_snapshot(g_params=(), container=dict, **g_kwargs):
  """A snapshot-shaped object with tiny networks of every storage type."""
  base = np.arange(12, dtype=np.float32)
  half = np.array([[0.5, -1.0, 2.0], [3.0, 0.25, -0.125]], np.float16)
  shared = _LOAD_FROM_BYTES(_blob("FloatStorage", base))
  scalar = _Global("numpy.core.multiarray.scalar")  # numpy 1.x path.
  f8 = _Global("numpy.dtype")("f8", False, True)
  g = _network(
      "Generator",
      params={
          "half": _parameter(
              _LOAD_FROM_BYTES(_blob("HalfStorage", half)), 0, (2, 3), (3, 1)
          ),
          # A transposed view into the middle of a shared storage.
          "view": _parameter(shared, 2, (2, 2), (1, 3)),
          "absent": None,
          **dict(g_params),
      },
      buffers={
          "double": _tensor(
              _LOAD_FROM_BYTES(_blob("DoubleStorage", np.array([1.5]))),
              0, (), ()),
          "long": _tensor(
              _LOAD_FROM_BYTES(_blob("LongStorage", np.array([7, -8]))),
              0, (2,), (1,)),
          "scratch": _tensor(shared, 0, (1,), (1,)),  # Non-persistent.
      },
      modules={
          "sub": _network(
              "MappingNetwork",
              params={"flat": _parameter(shared, 0, (12,), (1,))},
              container=container,
          )
      },
      container=container,
      weight_gain=scalar(f8, struct.pack("<d", 0.125)),
      act_gain=np.float64(2.0**0.5),  # Written by this numpy.
      _init_args=(),
      _init_kwargs=collections.OrderedDict(z_dim=4, **g_kwargs),
  )
  return {
      "training_set_kwargs": None,
      "G": g,
      "D": _network("Discriminator", _init_kwargs={"c_dim": 0}),
      "G_ema": _network("Generator"),
      "augment_pipe": None,
      "progress": {"kimg": np.float64(1.5)},
  }


@pytest.mark.parametrize("container", [dict, collections.OrderedDict])
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_fake_snapshot_every_protocol_and_storage(protocol, container):
  data = _dumps(_fake_snapshot(container=container), protocol)
  snapshot = load_snapshot(data)
  g = snapshot.G
  assert list(g.state_dict) == ["half", "view", "double", "long", "sub.flat"]
  assert g.buffer_names == {"double", "long"}
  half = np.array([[0.5, -1.0, 2.0], [3.0, 0.25, -0.125]], np.float32)
  np.testing.assert_array_equal(g.state_dict["half"], half)
  np.testing.assert_array_equal(g.state_dict["view"], [[2, 5], [3, 6]])
  assert g.state_dict["double"].dtype == np.float32
  assert g.state_dict["double"].shape == ()
  assert g.state_dict["long"].dtype == np.int64
  np.testing.assert_array_equal(g.state_dict["long"], [7, -8])
  np.testing.assert_array_equal(g.state_dict["sub.flat"], np.arange(12))
  assert g.init_kwargs == {"z_dim": 4}
  assert type(g.init_kwargs) is dict
  assert snapshot.D.init_kwargs == {"c_dim": 0}
  assert snapshot.augment_pipe is None
  assert snapshot.training_set_kwargs is None
  assert snapshot.extra == {"progress": {"kimg": 1.5}}
  assert type(snapshot.extra["progress"]["kimg"]) is float


def test_numpy_scalars_become_python_numbers():
  snapshot = load_snapshot(
      _dumps(_fake_snapshot(gain=np.float64(0.25), n=np.int64(3)))
  )
  kwargs = snapshot.G.init_kwargs
  assert kwargs == {"z_dim": 4, "gain": 0.25, "n": 3}
  assert type(kwargs["gain"]) is float and type(kwargs["n"]) is int


@pytest.mark.parametrize(
    "offset, size, stride, match",
    [
        (2, (2, 2), (2, 1), "past its storage"),  # Reaches element 5 of 4.
        (0, (10**6, 10**6), (0, 0), "more elements"),  # A 4 TB expansion.
    ],
)
def test_tensor_view_outside_storage_is_rejected(offset, size, stride, match):
  storage = _LOAD_FROM_BYTES(_blob("FloatStorage", np.zeros(4, np.float32)))
  bad = _parameter(storage, offset, size, stride)
  with pytest.raises(official_pickle.MalformedPickleError, match=match):
    load_snapshot(_dumps(_fake_snapshot(g_params={"bad": bad})))


def test_shared_and_cyclic_values_load():
  loop = []
  loop.append(loop)
  snapshot = _fake_snapshot()
  snapshot["loop"] = loop
  extra = load_snapshot(_dumps(snapshot)).extra
  assert extra["loop"][0] is extra["loop"]


def test_rebuild_tensor_with_unexpected_arguments_is_rejected():
  storage = _LOAD_FROM_BYTES(_blob("FloatStorage", np.zeros(4, np.float32)))
  for bad in (
      _REBUILD_TENSOR(storage, 0, (4,)),  # Too few.
      _REBUILD_TENSOR(storage, 0, (4,), (1, 1), False, _ORDERED_DICT()),
      _REBUILD_TENSOR(storage, 0, (4,), (1,), False, _ORDERED_DICT(), "x"),
      _REBUILD_TENSOR("storage", 0, (4,), (1,), False, _ORDERED_DICT()),
  ):
    with pytest.raises(official_pickle.MalformedPickleError,
                       match="_rebuild_tensor_v2"):
      load_snapshot(_dumps(_fake_snapshot(g_params={"bad": bad})))


# --------------------------------------------------------------------------
# Hostile pickles. Each payload would create `marker` if anything ran.


_Reduce = pw.Reduce


def _touch(marker):
  return f"touch {shlex.quote(str(marker))}"


def _py_touch(marker):
  return f"open({str(marker)!r}, 'w').close()"


def _refused(data, marker, name):
  with pytest.raises(UnsafePickleError) as info:
    load_snapshot(data)
  message = str(info.value)
  assert name in message
  assert "refused" in message and "nothing from it was run" in message
  assert not marker.exists()


def test_control_hostile_payload_is_live(tmp_path):
  """The top-level payload really runs under `pickle.loads`."""
  marker = tmp_path / "control"
  pickle.loads(pickle.dumps(_Reduce(os.system, _touch(marker))))
  assert marker.exists()


@pytest.mark.parametrize("protocol", [2, 4])
def test_refuses_top_level_os_system(tmp_path, protocol):
  marker = tmp_path / "marker"
  data = pickle.dumps(_Reduce(os.system, _touch(marker)), protocol=protocol)
  _refused(data, marker, SYSTEM)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda m: _Reduce(eval, _py_touch(m)), "builtins.eval"),
        (lambda m: _Reduce(exec, _py_touch(m)), "builtins.exec"),
        (lambda m: _Reduce(subprocess.Popen, ["touch", str(m)]),
         "subprocess.Popen"),
        (lambda m: _Reduce(subprocess.getoutput, _touch(m)),
         "subprocess.getoutput"),
        (lambda m: _Reduce(__import__, "os"), "builtins.__import__"),
        (lambda m: _Reduce(pickle.loads, pickle.dumps(
            _Reduce(os.system, _touch(m)))), "_pickle.loads"),
        # Hidden inside an otherwise snapshot-shaped dict.
        (lambda m: {"G": _Reduce(os.system, _touch(m)), "D": 1, "G_ema": 2},
         SYSTEM),
        # Real numpy callables are refused too (only our stand-ins exist).
        (lambda m: np.zeros(3), "numpy._core.multiarray._reconstruct"),
    ],
)
def test_refuses_hostile_globals(tmp_path, make, name):
  marker = tmp_path / "marker"
  for protocol in (2, 4):  # Python 3 names even in protocol 2.
    data = pickle.dumps(make(marker), protocol=protocol, fix_imports=False)
    _refused(data, marker, name)


def test_refuses_hostile_opcode(tmp_path):
  marker = tmp_path / "marker"
  command = _touch(marker).encode()
  # MARK, command, INST posix.system: calls os.system(command) when unpickled.
  data = (
      b"\x80\x02(X" + struct.pack("<I", len(command)) + command
      + b"i" + os.system.__module__.encode() + b"\nsystem\n."
  )
  _refused(data, marker, "opcode INST")


def _rewrite(data, replace):
  """Re-emits `data` op by op (dropping FRAMEs); `replace` may swap an op."""
  ops = list(pickletools.genops(data))
  out = []
  for (op, arg, pos), nxt in zip(ops, ops[1:] + [(None, None, len(data))]):
    if op.name == "FRAME":
      continue
    new = replace(op, arg)
    out.append(data[pos : nxt[2]] if new is None else new)
  return b"".join(out)


def _binunicode(text):
  encoded = text.encode()
  return b"X" + struct.pack("<I", len(encoded)) + encoded


def _binbytes(blob):
  return b"B" + struct.pack("<I", len(blob)) + blob


def test_module_src_is_never_run(tmp_path, raw, snapshot):
  marker = tmp_path / "marker"
  source = (
      f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
      "class Generator: pass\nclass Discriminator: pass\n"
  )

  def replace(op, arg):
    if op.name == "BINUNICODE" and arg.startswith("# module source omitted"):
      return _binunicode(source)
    return None

  data = _rewrite(raw, replace)
  assert source.encode() in data
  hostile = load_snapshot(data)
  assert not marker.exists()
  for name, value in snapshot.G_ema.state_dict.items():
    np.testing.assert_array_equal(hostile.G_ema.state_dict[name], value)


@pytest.mark.parametrize(
    "module, name, payload",
    [
        ("builtins", "exec", lambda m: _py_touch(m).encode()),
        ("posix", "system", lambda m: _touch(m).encode()),
        ("os", "system", lambda m: _touch(m).encode()),
        ("subprocess", "getoutput", lambda m: _touch(m).encode()),
    ],
)
def test_refuses_hostile_storage_loader(tmp_path, raw, module, name, payload):
  """`torch.storage._load_from_bytes` swapped for a callable that runs code."""
  marker = tmp_path / "marker"
  first_blob = [True]

  def replace(op, arg):
    if op.name == "SHORT_BINUNICODE" and arg == "torch.storage":
      return _binunicode(module)
    if op.name == "SHORT_BINUNICODE" and arg == "_load_from_bytes":
      return _binunicode(name)
    if op.name == "BINBYTES" and first_blob[0]:  # That loader's argument.
      first_blob[0] = False
      return _binbytes(payload(marker))
    return None

  _refused(_rewrite(raw, replace), marker, f"{module}.{name}")


def _split_blob(blob):
  stream = io.BytesIO(blob)
  ends = [0]
  for _ in range(5):
    for _ in pickletools.genops(stream):
      pass
    ends.append(stream.tell())
  return [blob[a:b] for a, b in itertools.pairwise(ends)], blob[ends[-1] :]


@pytest.mark.parametrize("which", ["storage_class", "object", "magic"])
def test_refuses_hostile_global_inside_storage_blob(tmp_path, raw, which):
  marker = tmp_path / "marker"
  reduce_system = pickle.dumps(_Reduce(os.system, _touch(marker)), protocol=2)
  first = [True]

  def replace(op, arg):
    if op.name != "BINBYTES" or not first[0]:
      return None
    first[0] = False
    pickles, data = _split_blob(arg)
    if which == "storage_class":  # The class in the persistent id.
      old = b"ctorch\nFloatStorage\n"
      assert old in pickles[3]
      pickles[3] = pickles[3].replace(
          old, f"c{os.system.__module__}\nsystem\n".encode()
      )
    elif which == "object":  # The pickle torch.load would unpickle.
      pickles[3] = reduce_system
    else:
      pickles[0] = reduce_system
    return _binbytes(b"".join(pickles) + data)

  _refused(_rewrite(raw, replace), marker, SYSTEM)


def test_refuses_binpersid_outside_storage_blob(tmp_path):
  marker = tmp_path / "marker"
  storage = object()
  data = _dumps(storage, 4, lambda x: _touch(marker) if x is storage else None)
  _refused(data, marker, "opcode BINPERSID")


# --------------------------------------------------------------------------
# Inputs that are not network snapshots.


@pytest.mark.parametrize(
    "obj, found",
    [
        ({"a": 1}, "a dict with keys ['a']"),
        ([1, 2], "a list"),
        ({"G": 1, "D": 2, "G_ema": 3}, "'G' is a int"),
    ],
)
def test_not_a_snapshot(obj, found):
  with pytest.raises(NotASnapshotError) as info:
    load_snapshot(pickle.dumps(obj))
  assert found in str(info.value)
  assert "expected a StyleGAN2-ADA network snapshot" in str(info.value)
  assert "Generator" in str(info.value)


def test_wrong_network_class_is_not_a_snapshot():
  snapshot = _fake_snapshot()
  snapshot["D"] = _network("Generator")
  with pytest.raises(NotASnapshotError, match="'D' is a Generator network"):
    load_snapshot(_dumps(snapshot))


def test_tensorflow_pickle_is_refused_as_unsupported(tmp_path):
  # (G, D, Gs) of dnnlib.tflib.network.Network, as TF-era pickles hold.
  net = _Global("dnnlib.tflib.network.Network")()
  with pytest.raises(official_pickle.LegacyTFPickleError) as info:
    load_snapshot(_dumps((net, net, net), 3))
  assert "TensorFlow" in str(info.value)
  assert "not supported yet" in str(info.value)
  assert isinstance(info.value, NotASnapshotError)


def test_not_a_pickle(tmp_path):
  path = tmp_path / "notes.pkl"
  path.write_bytes(b"hello, this is not a pickle\n" * 10)
  with pytest.raises(ValueError, match="not a pickle"):
    load_snapshot(path)
  with pytest.raises(ValueError, match="zip archive"):
    load_snapshot(b"PK\x03\x04" + bytes(100))
  rng = np.random.default_rng(0)
  for _ in range(20):  # Random bytes after a pickle header.
    with pytest.raises(ValueError):
      load_snapshot(b"\x80\x04" + rng.bytes(200))


# 0.595 cuts the 65,788-byte blob written between two frames.
@pytest.mark.parametrize("keep", [0.01, 0.5, 0.595, 0.9999])
def test_truncated_fixture(raw, keep):
  data = raw[: int(len(raw) * keep)]
  with pytest.raises(official_pickle.MalformedPickleError) as info:
    load_snapshot(data)
  assert "truncated" in str(info.value)


def test_truncated_storage_blob(raw):
  def replace(op, arg):
    if op.name == "BINBYTES":
      return _binbytes(arg[:-5])
    return None

  with pytest.raises(official_pickle.MalformedPickleError, match="truncated"):
    load_snapshot(_rewrite(raw, replace))
