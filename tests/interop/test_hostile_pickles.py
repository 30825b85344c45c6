"""The pickle readers stay fast and small on files built to exhaust them.

Each attack below crashed, hung or blew up memory in the first version of the
snapshot reader (nothing ran, but loading died). The four big ones run at
their real sizes in a subprocess, so a regression (a segfault, hours of
hashing, gigabytes of copies) fails one test instead of the session; each
must be refused within 5 s with one line, peak RSS growing well under 1 GB.
The small variants run in-process at sizes a regression would still only
take a fraction of a second on.
"""

import json
import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest

from stylegan_jax.interop import official_pickle
from stylegan_jax.interop import safe_pickle
from stylegan_jax.interop import torch_file
from tests import reference
from tests.interop import pickle_writer as pw

P = pickle  # Opcode constants.
LimitError = official_pickle.PickleLimitError

# Peak RSS growth misses what stays under the import-time high-water mark,
# so the peak of traced allocations (numpy's included) is measured as well.
_DRIVER = """
import json, resource, sys, time, tracemalloc
from stylegan_jax.interop import official_pickle, torch_file
load = {"snapshot": official_pickle.load_snapshot,
        "torch": torch_file.load_torch_state_dict}[sys.argv[2]]
with open(sys.argv[1], "rb") as f:
  data = f.read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
start = time.perf_counter()
try:
  load(data)
  error, message = None, ""
except Exception as e:  # pylint: disable=broad-except
  error, message = type(e).__name__, str(e)
seconds = time.perf_counter() - start
traced_peak = tracemalloc.get_traced_memory()[1]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"error": error, "message": message, "seconds": seconds,
                  "rss_growth_mb": (after - before) / 1024,
                  "traced_peak_mb": traced_peak / 2**20}))
"""


def _isolated(tmp_path, data: bytes, loader: str = "snapshot") -> dict:
  """Loads `data` in a fresh interpreter; what happened, how long, how big."""
  path = tmp_path / "hostile.bin"
  path.write_bytes(data)
  try:
    out = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(path), loader],
        capture_output=True, text=True, timeout=60, check=False,
        cwd=reference.ROOT,
    )
  except subprocess.TimeoutExpired:
    pytest.fail("loading did not finish within 60 s")
  assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
  return json.loads(out.stdout.strip().splitlines()[-1])


def _assert_refused(result, error, match):
  assert result["error"] == error, result
  assert match in result["message"], result["message"]
  assert "\n" not in result["message"] and len(result["message"]) < 600
  assert result["seconds"] < 5, result
  assert result["rss_growth_mb"] < 256, result  # Well under 1 GB.
  assert result["traced_peak_mb"] < 256, result


def _pickle(body: bytes) -> bytes:
  return P.PROTO + b"\x04" + body + P.STOP


def _get(i: int) -> bytes:
  return P.BINGET + bytes([i]) if i < 256 else P.LONG_BINGET + struct.pack(
      "<I", i)


def _tuple_dag(depth: int) -> bytes:
  """t0 = (); t(i+1) = (t(i), t(i)) through the memo: 4 bytes a level, and
  2**depth leaves when hashed, compared or repr'd as a tree."""
  out = P.EMPTY_TUPLE + P.MEMOIZE
  for i in range(depth):
    out += _get(i) + P.TUPLE2 + P.MEMOIZE
  return out


def _snapshot(g, **extra):
  return {
      "G": g,
      "D": pw.snapshot_network("Discriminator"),
      "G_ema": pw.snapshot_network("Generator"),
      **extra,
  }


# --------------------------------------------------------------------------
# The four reproduced attacks, at their real sizes.


def test_million_nested_tuples_as_a_dict_key(tmp_path):
  """1 MB; it used to overflow the C stack while hashing (a segfault)."""
  data = _pickle(
      P.EMPTY_DICT + P.EMPTY_TUPLE + P.TUPLE1 * 10**6 + P.NONE + P.SETITEM
  )
  assert len(data) > 10**6
  _assert_refused(_isolated(tmp_path, data), "PickleLimitError",
                  "nested more than 100 levels deep")


def test_tuple_dag_as_a_dict_key(tmp_path):
  """Depth 60: hashing or repr used to take 2**60 steps."""
  data = _pickle(P.EMPTY_DICT + _tuple_dag(60) + P.NONE + P.SETITEM)
  assert len(data) < 700
  result = _isolated(tmp_path, data)
  _assert_refused(result, "PickleLimitError", "a dict key is a tuple")
  assert "not a valid StyleGAN2-ADA network snapshot" in result["message"]


def test_module_dag_naming_one_child_twice(tmp_path):
  """Depth 30: the state-dict walk used to visit 2**30 modules."""
  module = pw.snapshot_network("Leaf", params={})
  for _ in range(30):
    module = pw.snapshot_network("Layer", modules={"a": module, "b": module})
  generator = pw.snapshot_network("Generator", modules={"synthesis": module})
  data = pw.dumps(_snapshot(generator))
  assert len(data) < 3000
  _assert_refused(_isolated(tmp_path, data), "PickleLimitError",
                  "reachable a second time")


def test_views_of_one_storage_over_and_over(tmp_path):
  """4.2 MB: 250 views of one 4 MB storage used to copy 1 GB."""
  n = 2**20
  storage = pw.Storage(np.zeros(n, np.float32))
  shared = pw.LOAD_FROM_BYTES(pw.torch_legacy(storage))
  params = {
      f"p{i}": pw.parameter(shared, offset=i, size=(n - 250,))
      for i in range(250)
  }
  data = pw.dumps(
      _snapshot(pw.snapshot_network("Generator", params=params))
  )
  assert 4.1e6 < len(data) < 4.3e6
  result = _isolated(tmp_path, data)
  _assert_refused(result, "PickleLimitError", "2 times the file's")
  assert result["traced_peak_mb"] < 32, result  # A few copies of the file.


def test_views_in_a_torch_file(tmp_path):
  n = 2**20
  storage = pw.Storage(np.zeros(n, np.float32))
  data = pw.torch_zip(pw.ORDERED_DICT([
      (f"p{i}", pw.tensor(storage, offset=i, size=(n - 250,)))
      for i in range(250)
  ]))
  _assert_refused(_isolated(tmp_path, data, "torch"), "TorchFileLimitError",
                  "2 times the file's")


def test_shared_views_within_budget_still_load():
  """The same view twice is one array (tied weights), not two copies."""
  n = 4096
  shared = pw.LOAD_FROM_BYTES(pw.torch_legacy(pw.Storage(np.arange(
      n, dtype=np.float32))))
  params = {f"p{i}": pw.parameter(shared, size=(n,)) for i in range(250)}
  snapshot = official_pickle.load_snapshot(pw.dumps(
      _snapshot(pw.snapshot_network("Generator", params=params))))
  arrays = list(snapshot.G.state_dict.values())
  assert len(arrays) == 250 and all(a is arrays[0] for a in arrays)
  np.testing.assert_array_equal(arrays[0], np.arange(n))


def test_long_names_reused_many_times():
  """Module names are memoized strings: 30 levels of a 10 kB name over
  2000 parameters would make 600 MB of state-dict names from a 50 kB file."""
  storage = pw.LOAD_FROM_BYTES(pw.torch_legacy(pw.Storage(np.zeros(
      1, np.float32))))
  tensor = pw.parameter(storage, size=(1,))
  module = pw.snapshot_network(
      "Leaf", params={f"p{i}": tensor for i in range(2000)})
  long_name = "n" * 10_000
  for _ in range(29):
    module = pw.snapshot_network("Layer", modules={long_name: module})
  data = pw.dumps(_snapshot(pw.snapshot_network(
      "Generator", modules={long_name: module})))
  assert len(data) < 60_000
  with pytest.raises(LimitError, match="names add up to more characters"):
    official_pickle.load_snapshot(data)


def test_max_tensor_bytes_for_snapshots():
  params = {"w": pw.parameter(pw.LOAD_FROM_BYTES(pw.torch_legacy(
      pw.Storage(np.zeros(1000, np.float32)))), size=(1000,))}
  data = pw.dumps(_snapshot(pw.snapshot_network("Generator", params=params)))
  official_pickle.load_snapshot(data, max_tensor_bytes=4000)
  with pytest.raises(LimitError, match="max_tensor_bytes=3999"):
    official_pickle.load_snapshot(data, max_tensor_bytes=3999)


# --------------------------------------------------------------------------
# Smaller variants, in-process.


@pytest.mark.parametrize(
    "body, match",
    [
        (P.EMPTY_DICT + _tuple_dag(20) + P.NONE + P.SETITEM, "dict key"),
        (P.EMPTY_DICT + P.MARK + _tuple_dag(20) + P.NONE + P.SETITEMS,
         "dict key"),
        (P.EMPTY_SET + P.MARK + _tuple_dag(20) + P.ADDITEMS, "set member"),
        (P.MARK + _tuple_dag(20) + P.FROZENSET, "set member"),
        # OrderedDict([(dag, None)]) and set([dag]) through REDUCE.
        (b"ccollections\nOrderedDict\n" + P.EMPTY_LIST + _tuple_dag(20)
         + P.NONE + P.TUPLE2 + P.APPEND + P.TUPLE1 + P.REDUCE,
         "OrderedDict key"),
        (b"cbuiltins\nset\n" + P.EMPTY_LIST + _tuple_dag(20) + P.APPEND
         + P.TUPLE1 + P.REDUCE, "set member"),
        # A list key would be unhashable; a long flat tuple costs little but
        # is still nothing a snapshot has.
        (P.EMPTY_DICT + P.EMPTY_LIST + P.NONE + P.SETITEM, "a list"),
        (P.EMPTY_DICT + P.MARK + P.NONE * 17 + P.TUPLE + P.NONE + P.SETITEM,
         "a tuple of 17 items"),
    ],
)
def test_keys_are_small_immutables(body, match):
  with pytest.raises(LimitError) as info:
    official_pickle.load_snapshot(_pickle(body))
  assert match in str(info.value)
  assert "only numbers, strings, bytes, None" in str(info.value)


def _call_over_and_over(global_line: bytes, args: bytes, times: int) -> bytes:
  """[f(*args)] * times, f and its arguments memoized once (0 and 1)."""
  return _pickle(
      P.EMPTY_LIST + P.GLOBAL + global_line + P.MEMOIZE + args + P.MEMOIZE
      + P.REDUCE + P.APPEND
      + (_get(0) + _get(1) + P.REDUCE + P.APPEND) * times
  )


@pytest.mark.parametrize(
    "global_line, args",
    [
        # OrderedDict(pairs): 5000 pairs copied 500 times would be 2.5M
        # dict entries from 60 kB.
        (b"collections\nOrderedDict\n",
         P.EMPTY_LIST + P.MARK + b"".join(
             P.SHORT_BINUNICODE + bytes([len(k)]) + k + P.NONE + P.TUPLE2
             for k in (f"k{i}".encode() for i in range(5000))
         ) + P.APPENDS + P.TUPLE1),
        (b"builtins\nset\n",
         P.EMPTY_LIST + P.MARK + (P.BININT2 + b"\x01\x00") * 5000 + P.APPENDS
         + P.TUPLE1),
        # _codecs.encode(text, 'latin1'): 100 kB copied 500 times.
        (b"_codecs\nencode\n",
         P.BINUNICODE + struct.pack("<I", 10**5) + b"t" * 10**5
         + P.SHORT_BINUNICODE + b"\x06latin1" + P.TUPLE2),
    ],
)
def test_arguments_copied_over_and_over(global_line, args):
  data = _call_over_and_over(global_line, args, 500)
  with pytest.raises(LimitError, match="calls copy more than twice"):
    official_pickle.load_snapshot(data)
  # Once is what real files do: that gets past the VM (not a snapshot).
  with pytest.raises(official_pickle.NotASnapshotError):
    official_pickle.load_snapshot(_call_over_and_over(global_line, args, 0))


def test_flat_tuple_and_scalar_keys_load():
  extra = {(1, "a", None): {b"k": 1.5}, 7: frozenset({"x", 2})}
  snapshot = official_pickle.load_snapshot(pw.dumps(
      _snapshot(pw.snapshot_network("Generator"), extra=extra)))
  assert snapshot.extra["extra"] == extra


@pytest.mark.parametrize("kind", ["list", "dict", "tuple"])
def test_deep_values_are_refused(kind):
  n = 5000
  if kind == "list":  # [[[...]]], as the pickler writes it.
    body = P.EMPTY_LIST * n + P.APPEND * (n - 1)
  elif kind == "dict":  # {'k': {'k': ...}}
    body = (P.EMPTY_DICT + P.SHORT_BINUNICODE + b"\x01k") * (n - 1) + (
        P.EMPTY_DICT + P.SETITEM * (n - 1))
  else:
    body = P.EMPTY_TUPLE + P.TUPLE1 * n
  with pytest.raises(LimitError, match="nested more than 100 levels deep"):
    official_pickle.load_snapshot(_pickle(body))
  with pytest.raises(torch_file.TorchFileLimitError, match="nested more"):
    torch_file.load_torch_state_dict(
        pw.zip_bytes([("archive/data.pkl", _pickle(body))]))


def test_walks_have_their_own_depth_guard():
  """A list nested first and filled later can be deeper than the VM's count
  (see safe_pickle.run); converting it still stops at the limit."""
  deep = []
  for _ in range(150):
    deep = [deep]
  reader = torch_file.TensorReader(file_bytes=0, max_tensor_bytes=0,
                                   kind="test")
  convert = official_pickle._Converter(  # pylint: disable=protected-access
      reader, "<test>", max_name_chars=0)
  with pytest.raises(safe_pickle.LimitError,
                     match="nested more than 100 levels deep"):
    convert.plain(deep)


def test_memo_is_bounded(monkeypatch):
  monkeypatch.setattr(safe_pickle, "MAX_MEMO", 1000)  # Read at each run.
  with pytest.raises(LimitError, match="more than 1000 memo entries"):
    official_pickle.load_snapshot(_pickle(P.EMPTY_TUPLE + P.MEMOIZE * 1001))
  # Rewriting one entry over and over is fine.
  with pytest.raises(official_pickle.NotASnapshotError):
    official_pickle.load_snapshot(
        _pickle(P.EMPTY_TUPLE + (P.BINPUT + b"\x05") * 5000))


def test_shared_values_in_kwargs_cannot_expand_exponentially():
  """A tuple DAG as a plain value loads shared, so walking it (repr, JSON,
  comparing kwargs) would take 2**40 steps: refused."""
  dag = ()
  for _ in range(40):
    dag = (dag, dag)
  data = pw.dumps(_snapshot(pw.snapshot_network("Generator"), extra=dag))
  with pytest.raises(LimitError, match="expand to more than 1000000 items"):
    official_pickle.load_snapshot(data)
  small = ()
  for _ in range(10):  # 2**11 - 1 items: fine.
    small = (small, small)
  snapshot = official_pickle.load_snapshot(
      pw.dumps(_snapshot(pw.snapshot_network("Generator"), extra=small)))
  assert snapshot.extra["extra"] == small


def test_messages_never_repr_huge_values():
  huge_int = 1 << 100_000  # repr() refuses ints this long.
  top = {"x" * 10**6: 1, huge_int: 2, **{f"k{i}": i for i in range(10**4)}}
  with pytest.raises(official_pickle.NotASnapshotError) as info:
    official_pickle.load_snapshot(pickle.dumps(top, protocol=4))
  message = str(info.value)
  assert len(message) < 600 and "\n" not in message
  assert "<int of 100001 bits>" in message and "xxx'..." in message
  for g in (huge_int, "y" * 10**6, [[[]]] * 10**5):
    with pytest.raises(official_pickle.NotASnapshotError) as info:
      official_pickle.load_snapshot(
          pickle.dumps({"G": g, "D": 1, "G_ema": 2}, protocol=4))
    assert len(str(info.value)) < 600
