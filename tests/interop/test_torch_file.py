"""Tests for the safe `torch.save` reader (no torch needed).

Covers the four feature-network fixtures (both formats agree; keys, shapes
and dtypes as README-features.md says; weights really ternary), hand-made
files in both formats with every storage type and view, and hostile files:
each would create a marker file if anything in it ran, or would cost far more
than its size.
"""

import io
import lzma
import os
import pickle
import shlex
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from stylegan_jax.interop import torch_file
from tests import reference
from tests.interop import pickle_writer as pw

load = torch_file.load_torch_state_dict
NETS = ("vgg19_features_ternary", "fid_inception_ternary")


@pytest.fixture(scope="module", name="fixtures")
def fixture_fixtures() -> dict[str, dict[str, np.ndarray]]:
  root = reference.require()
  return {
      f"{net}_{fmt}": load(root / f"{net}_{fmt}.pth.xz")
      for net in NETS
      for fmt in ("zip", "legacy")
  }


# --------------------------------------------------------------------------
# The fixtures.


@pytest.mark.parametrize("net", NETS)
def test_zip_and_legacy_agree(fixtures, net):
  zipped, legacy = fixtures[f"{net}_zip"], fixtures[f"{net}_legacy"]
  assert list(zipped) == list(legacy)
  for name, array in zipped.items():
    assert array.dtype == legacy[name].dtype, name
    np.testing.assert_array_equal(array, legacy[name], err_msg=name)
    assert array.flags.c_contiguous and array.flags.writeable


def test_vgg19_keys_and_shapes(fixtures):
  # torchvision's configuration 'E': channels, 'M' = max pool.
  cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512,
         512, "M", 512, 512, 512, 512, "M"]
  expected, index, in_ch = {}, 0, 3
  for v in cfg:
    if v == "M":
      index += 1
      continue
    expected[f"features.{index}.weight"] = (v, in_ch, 3, 3)
    expected[f"features.{index}.bias"] = (v,)
    index, in_ch = index + 2, v  # Conv2d then ReLU.
  state_dict = fixtures["vgg19_features_ternary_zip"]
  assert {k: v.shape for k, v in state_dict.items()} == expected
  assert list(state_dict)[:3] == [
      "features.0.weight", "features.0.bias", "features.2.weight"
  ]
  assert list(state_dict)[-1] == "features.34.bias"
  assert all(v.dtype == np.float32 for v in state_dict.values())


def test_inception_keys_shapes_dtypes(fixtures):
  state_dict = fixtures["fid_inception_ternary_zip"]
  assert len(state_dict) == 566  # 94 conv+BN blocks of 6 entries, fc.
  for name, shape in {
      "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
      "Conv2d_1a_3x3.bn.weight": (32,),
      "Conv2d_1a_3x3.bn.running_mean": (32,),
      "Conv2d_1a_3x3.bn.running_var": (32,),
      "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
      "fc.weight": (1008, 2048),
      "fc.bias": (1008,),
  }.items():
    assert state_dict[name].shape == shape, name
    assert state_dict[name].dtype == np.float32, name
  counters = [k for k in state_dict if k.endswith(".num_batches_tracked")]
  assert len(counters) == 94
  for name in counters:
    assert state_dict[name].dtype == np.int64 and state_dict[name].shape == ()
    assert state_dict[name] >= 0
  assert list(state_dict)[:6] == [
      f"Conv2d_1a_3x3.{k}" for k in (
          "conv.weight", "bn.weight", "bn.bias", "bn.running_mean",
          "bn.running_var", "bn.num_batches_tracked")
  ]


@pytest.mark.parametrize("net", NETS)
def test_weights_are_ternary(fixtures, net):
  """Conv/linear weights in {-a, 0, a}, a = sqrt(3 / fan_in); small sets."""
  state_dict = fixtures[f"{net}_zip"]
  weights = [
      k for k, v in state_dict.items()
      if k.endswith("weight") and (v.ndim == 4 or k == "fc.weight")
  ]
  assert len(weights) == (16 if net.startswith("vgg") else 95)
  for name in weights:
    w = state_dict[name]
    a = np.float32(np.sqrt(3.0 / np.prod(w.shape[1:])))
    values = np.unique(w)
    assert len(values) == 3, name  # All three occur in every layer.
    np.testing.assert_allclose(values, [-a, 0, a], rtol=1e-6, err_msg=name)
  small_sets = {
      "bias": {float(v) for k, a in state_dict.items()
               if k.endswith("bias") for v in np.unique(a)},
      "bn.weight": {float(v) for k, a in state_dict.items()
                    if k.endswith("bn.weight") for v in np.unique(a)},
  }
  for what, values in small_sets.items():
    assert len(values) <= 3, (what, sorted(values))
  for name, value in state_dict.items():
    if name.endswith("running_var"):
      assert value.min() > 0, name


def test_module_imports_without_jax_tensorflow_torch():
  code = (
      "import sys\n"
      "from stylegan_jax.interop import torch_file, official_pickle\n"
      "heavy = {'jax', 'tensorflow', 'torch', 'flax'}\n"
      "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
  )
  out = subprocess.run(
      [sys.executable, "-c", code], capture_output=True, text=True,
      check=True, env={**os.environ, "PYTHONPATH": str(reference.ROOT)},
  )
  assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------
# Hand-made files.

WRITERS = {"zip": pw.torch_zip, "legacy": pw.torch_legacy}


def _arrays():
  rng = np.random.default_rng(0)
  return {
      "f32": rng.normal(size=(2, 3)).astype(np.float32),
      "f64": rng.normal(size=(4,)),
      "f16": rng.normal(size=(3, 1)).astype(np.float16),
      "i64": np.array([-(2**40), 7], np.int64),
      "i32": np.array([[1, -2]], np.int32),
      "i16": np.array([-3], np.int16),
      "i8": np.array([-128, 127], np.int8),
      "u8": np.array([0, 255], np.uint8),
      "bool": np.array([True, False, True]),
      "c64": np.array([1 + 2j], np.complex64),
      "scalar": np.array(5, np.int64),
      "empty": np.zeros((0, 3), np.float32),
  }


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.parametrize("protocol", [2, 4])
def test_every_dtype_round_trips(fmt, protocol):
  """torch.save(..., pickle_protocol=protocol) in either format."""
  arrays = _arrays()
  data = WRITERS[fmt](pw.state_dict(arrays), protocol=protocol)
  got = load(data)
  assert list(got) == list(arrays)
  for name, array in arrays.items():
    assert got[name].dtype == array.dtype, name
    assert got[name].shape == array.shape, name
    np.testing.assert_array_equal(got[name], array, err_msg=name)


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_views_shared_storage_and_parameters(fmt):
  base = np.arange(12, dtype=np.float32)
  shared = pw.Storage(base)
  obj = pw.ORDERED_DICT([
      ("transposed", pw.tensor(shared, offset=2, size=(2, 2), stride=(1, 3))),
      ("param", pw.parameter(shared, size=(3, 4))),
      ("again", pw.parameter(shared, size=(3, 4))),  # Tied weights.
      ("tail", pw.tensor(shared, offset=10, size=(2,))),
  ])
  got = load(WRITERS[fmt](obj))
  np.testing.assert_array_equal(got["transposed"], [[2, 5], [3, 6]])
  np.testing.assert_array_equal(got["param"], base.reshape(3, 4))
  np.testing.assert_array_equal(got["tail"], [10, 11])
  assert got["again"] is got["param"]  # One view, one array, as in torch.


def test_bfloat16_becomes_float32():
  values = np.array([1.0, -2.5, 0.15625, 2.0**127], np.float32)
  bits = (values.view(np.uint32) >> 16).astype(np.uint16)  # Exact in bf16.
  storage = pw.Storage(bits, cls="BFloat16Storage")
  for writer in WRITERS.values():
    got = load(writer(pw.ORDERED_DICT([("w", pw.tensor(storage))])))["w"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, values)


def test_big_endian_zip():
  arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3),
            "n": np.array([1, -(2**33)], np.int64)}
  data = pw.torch_zip(pw.state_dict(arrays), byteorder="big")
  assert np.array(5, ">f4").tobytes() in data  # Really big-endian.
  got = load(data)
  for name, array in arrays.items():
    np.testing.assert_array_equal(got[name], array)
    assert got[name].dtype == array.dtype  # Native order.


def test_metadata_prefix_xz_and_suffix(tmp_path):
  arrays = {"a": np.ones((2,), np.float32)}
  # torch sets `_metadata` on a state dict: BUILD with {'_metadata': ...}.
  sd_with_metadata = _Build(
      pw.state_dict(arrays), {"_metadata": {"": {"version": 1}}}
  )
  # Older torch names the archive folder after the file.
  data = pw.torch_zip(sd_with_metadata, prefix="my_model")
  path = tmp_path / "weights.bin"  # Detected from content, not the suffix.
  path.write_bytes(lzma.compress(data))
  np.testing.assert_array_equal(load(path)["a"], arrays["a"])


class _Build:
  """Pickles as `obj` followed by BUILD with `state`."""

  def __init__(self, call, state):
    self.call, self.state = call, state

  def __reduce__(self):
    return self.call.fn, self.call.args, self.state


def test_nested_state_dict_and_key():
  inner = pw.state_dict({"w": np.arange(3, dtype=np.float32)})
  ckpt = {"state_dict": inner, "epoch": 3, "best": 0.5}
  np.testing.assert_array_equal(
      load(pw.torch_zip(ckpt))["w"], np.arange(3, dtype=np.float32)
  )
  two = {"model": inner, "ema": pw.state_dict({"v": np.zeros(1, np.int8)})}
  with pytest.raises(torch_file.NotAStateDictError, match="pass key="):
    load(pw.torch_legacy(two))
  assert list(load(pw.torch_legacy(two), key="ema")) == ["v"]
  with pytest.raises(torch_file.NotAStateDictError, match="key='nope'"):
    load(pw.torch_legacy(two), key="nope")


def test_one_state_dict_under_many_keys():
  """Each shared dict is checked once (500 x 500 checks otherwise)."""
  inner = pw.state_dict({f"w{i}": np.zeros(1, np.int8) for i in range(500)})
  data = pw.torch_zip({f"k{i}": inner for i in range(500)})
  with pytest.raises(torch_file.NotAStateDictError) as info:
    load(data)
  assert "pass key= one of 'k0', 'k1'" in str(info.value)
  assert len(str(info.value)) < 300
  assert len(load(data, key="k499")) == 500


@pytest.mark.parametrize(
    "obj, match",
    [
        ([1, 2], "holds a list of 2 items"),
        ({"w": 1}, "holds a dict with keys \\['w'\\], not a state dict"),
        ({"a": pw.tensor(pw.Storage(np.zeros(1))), "b": "text"},
         "entry 'b' is a str, not a tensor"),
        ({"a": pw.tensor(pw.Storage(np.zeros(1))), 5: pw.tensor(
            pw.Storage(np.zeros(1)))}, "entry 5 is not named by a string"),
        ({"a": pw.tensor(pw.Storage(np.zeros(1))), "b": pw.Storage(
            np.zeros(1))}, "entry 'b' is a torch storage, not a tensor"),
    ],
)
def test_not_a_state_dict(obj, match):
  with pytest.raises(torch_file.NotAStateDictError, match=match):
    load(pw.torch_zip(obj))


# --------------------------------------------------------------------------
# Hostile and broken files. Each payload would create `marker` if it ran.


_Reduce = pw.Reduce


def _refused(data, marker, error, match):
  with pytest.raises(error) as info:
    load(data)
  message = str(info.value)
  assert "\n" not in message and len(message) < 600, message
  assert match in message, message
  assert not marker.exists()
  return message


def _touch(marker):
  return _Reduce(os.system, f"touch {shlex.quote(str(marker))}")


def test_control_payload_is_live(tmp_path):
  marker = tmp_path / "control"
  pickle.loads(pickle.dumps(_touch(marker), protocol=2))
  assert marker.exists()


def test_bad_global_inside_data_pkl(tmp_path):
  marker = tmp_path / "marker"
  payload = pickle.dumps(
      {"w": _touch(marker)}, protocol=2, fix_imports=False
  )
  data = pw.zip_bytes([("archive/data.pkl", payload),
                       ("archive/byteorder", b"little")])
  name = f"{os.system.__module__}.system"
  message = _refused(data, marker, torch_file.UnsafeTorchFileError, name)
  assert "refused" in message and "nothing from it was run" in message


def test_bad_global_inside_legacy_stream(tmp_path):
  marker = tmp_path / "marker"
  for at in range(4):  # Each of the first four pickles.
    pickles = [pickle.dumps(x, protocol=2) for x in (
        0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}, {})]
    pickles[at] = pickle.dumps(_touch(marker), protocol=2)
    data = b"".join(pickles) + pickle.dumps([], protocol=2)
    _refused(data, marker, torch_file.UnsafeTorchFileError, "system")


@pytest.mark.parametrize(
    "name", ["../evil", "archive/../../evil", "/etc/evil", "C:\\evil",
             "archive\\..\\evil"])
def test_entry_escaping_the_archive(tmp_path, name):
  marker = tmp_path / "marker"
  data = pw.torch_zip(pw.state_dict({"w": np.zeros(2, np.float32)}),
                      extra=[(name, b"x")])
  assert name.encode() in data
  message = _refused(data, marker, torch_file.UnsafeTorchFileError,
                     "points outside the archive")
  assert repr(name) in message


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_storage_claiming_more_than_the_file(tmp_path, fmt):
  storage = pw.Storage(np.zeros(4, np.float32), numel=10**12)
  obj = pw.ORDERED_DICT([("w", pw.tensor(storage, size=(4,)))])
  message = _refused(WRITERS[fmt](obj), tmp_path / "m",
                     torch_file.MalformedTorchFileError, "storage 0")
  assert "4000000000000 bytes" in message


def test_storage_entry_of_the_wrong_size(tmp_path):
  data = pw.torch_zip(pw.ORDERED_DICT([
      ("w", pw.tensor(pw.Storage(np.zeros(4), numel=3), size=(3,)))]))
  _refused(data, tmp_path / "m", torch_file.MalformedTorchFileError,
           "should hold 24 bytes")


def test_odd_views():
  storage = pw.Storage(np.arange(4, dtype=np.float32))
  obj = pw.ORDERED_DICT([
      # Strides of size-1 dimensions are never used, however large.
      ("one", pw.tensor(storage, offset=3, size=(1, 1), stride=(10**30, 7))),
      ("empty", pw.tensor(storage, offset=10**9, size=(0, 5), stride=(9, 9))),
  ])
  got = load(pw.torch_zip(obj))
  np.testing.assert_array_equal(got["one"], [[3]])
  assert got["empty"].shape == (0, 5) and got["empty"].dtype == np.float32


def test_tensor_view_past_its_storage(tmp_path):
  storage = pw.Storage(np.zeros(4, np.float32))
  for view, match in [
      (dict(offset=2, size=(2, 2), stride=(2, 1)), "past its storage"),
      (dict(offset=10**300, size=(1,), stride=(1,)), "<int of 997 bits>"),
      (dict(size=(10**6, 10**6), stride=(0, 0)), "more elements"),
      (dict(size=(0, 10**30), stride=(1, 1)), "a dimension of 2**48"),
      (dict(size=(1,) * 33, stride=(1,) * 33), "more than 32 dimensions"),
  ]:
    obj = pw.ORDERED_DICT([("w", pw.tensor(storage, **view))])
    _refused(pw.torch_zip(obj), tmp_path / "m",
             torch_file.MalformedTorchFileError, match)


@pytest.mark.parametrize("fmt", ["zip", "legacy", "xz"])
def test_truncated(tmp_path, fmt):
  arrays = {f"w{i}": np.full((64,), i, np.float32) for i in range(4)}
  data = WRITERS["legacy" if fmt == "legacy" else "zip"](
      pw.state_dict(arrays))
  if fmt == "xz":
    data = lzma.compress(data)
  load(data)  # Whole, it loads.
  for keep in (0.05, 0.3, 0.5, 0.8, 0.99):
    cut = data[: int(len(data) * keep)]
    _refused(cut, tmp_path / "m", torch_file.MalformedTorchFileError,
             "" if fmt == "zip" else "truncated")


def test_random_and_foreign_bytes(tmp_path):
  rng = np.random.default_rng(1)
  for _ in range(20):
    _refused(rng.bytes(300), tmp_path / "m", torch_file.TorchFileError, "")
  for data, match in [
      (b"", "not a torch.save file"),
      (b"\x89PNG\r\n\x1a\n" + bytes(50), "not a torch.save file"),
      (pickle.dumps({"w": 1}, protocol=2), "not one opening with torch's"),
      (pw.zip_bytes([("a/b.txt", b"hi")]), "it has no 'a/data.pkl' entry"),
      (pw.zip_bytes([("m/data.pkl", b""), ("m/constants.pkl", b"")]),
       "a TorchScript archive"),
      (b"PK\x03\x04" + rng.bytes(200), "not a readable zip"),
      (b"\xfd7zXZ\x00" + rng.bytes(200), "not a readable xz"),
  ]:
    _refused(data, tmp_path / "m", torch_file.MalformedTorchFileError, match)


def test_compressed_entries_are_refused(tmp_path):
  data = pw.torch_zip(pw.state_dict({"w": np.zeros(8, np.float32)}))
  with zipfile.ZipFile(io.BytesIO(data)) as z:
    entries = [(i.filename, z.read(i)) for i in z.infolist()]
  out = io.BytesIO()
  with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for name, content in entries:
      z.writestr(name, content)
  _refused(out.getvalue(), tmp_path / "m", torch_file.MalformedTorchFileError,
           "is compressed")


def test_views_of_one_storage_over_and_over(tmp_path):
  """Views at distinct offsets of one storage would copy it each time."""
  storage = pw.Storage(np.zeros(4096, np.float32))
  obj = pw.ORDERED_DICT([
      (f"v{i}", pw.tensor(storage, offset=i, size=(4000,))) for i in range(50)
  ])
  data = pw.torch_zip(obj)
  assert len(data) < 40_000  # 50 views of 16 kB would make 800 kB.
  message = _refused(data, tmp_path / "m", torch_file.TorchFileLimitError,
                     "2 times the file's")
  assert "not a valid torch.save state dict" in message


def test_max_tensor_bytes(tmp_path, monkeypatch):
  data = pw.torch_zip(pw.state_dict({"w": np.zeros(1000, np.float32)}))
  assert load(data, max_tensor_bytes=4000)["w"].shape == (1000,)
  with pytest.raises(torch_file.TorchFileLimitError,
                     match="max_tensor_bytes=3999"):
    load(data, max_tensor_bytes=3999)
  # Files may be max_tensor_bytes plus this much (64 MiB; 1 MiB here).
  monkeypatch.setattr(torch_file, "_OVERHEAD_BYTES", 1 << 20)
  bomb = lzma.compress(bytes(4 << 20), preset=0)  # 4 MiB of zeros in 700 B.
  path = tmp_path / "bomb.pth"
  path.write_bytes(bomb)
  with pytest.raises(torch_file.TorchFileLimitError, match="decompresses to"):
    load(path, max_tensor_bytes=10**6)
  path.write_bytes(bytes(3 << 20))
  with pytest.raises(torch_file.TorchFileLimitError, match="is 3145728 bytes"):
    load(path, max_tensor_bytes=10**6)


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_mutated_files_fail_cleanly(fmt):
  """Random byte edits either load or raise a one-line TorchFileError."""
  arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3),
            "b": np.array(3, np.int64), "c": np.ones((2, 2), np.float16)}
  data = WRITERS[fmt](pw.state_dict(arrays))
  rng = np.random.default_rng(0)
  outcomes = set()
  for _ in range(150):
    mutated = bytearray(data)
    for _ in range(rng.integers(1, 4)):
      i = int(rng.integers(0, len(mutated)))
      mutated[i : i + 2] = rng.bytes(2)
    try:
      load(bytes(mutated))
      outcomes.add("loaded")
    except torch_file.TorchFileError as e:
      assert "\n" not in str(e) and len(str(e)) < 600, str(e)
      outcomes.add(type(e).__name__)
  assert "MalformedTorchFileError" in outcomes and len(outcomes) >= 2
