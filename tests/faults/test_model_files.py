"""Hostile or broken exported model files: refused quickly, with one line.

An export is untrusted input: before anything is built its JSON config and
its archive members are checked against each other (see `model_io`). Every
case here must be refused in well under 5 s without allocating what the file
claims, with a `ModelFileError` (one line; the CLI turns it into exit 2), and
`convert` must leave no output behind.
"""

import errno
import io
import json
import time
import zipfile

import numpy as np
import pytest

from stylegan_jax import model_io
from stylegan_jax.tools import convert
from tests.tools import make_model
from tests.tools import user_error


@pytest.fixture(scope="module")
def export(tmp_path_factory):
  """A valid export's members: {name: bytes} (config.npy included)."""
  path = model_io.save_model(tmp_path_factory.mktemp("x") / "m.npz",
                             make_model(c_dim=3))
  with zipfile.ZipFile(path) as z:
    return {info.filename: z.read(info) for info in z.infolist()}


def _npy(array) -> bytes:
  buf = io.BytesIO()
  np.save(buf, array, allow_pickle=False)
  return buf.getvalue()


def _config(members) -> dict:
  return json.loads(str(np.load(io.BytesIO(members["config.npy"]))))


def _write(path, members, compress=zipfile.ZIP_STORED):
  with zipfile.ZipFile(path, "w", compress) as z:
    for name, data in members.items():
      z.writestr(name, data)
  return path


def _tamper_config(members, **generator):
  config = _config(members)
  config["generator"].update(generator)
  return {**members, "config.npy": _npy(np.asarray(json.dumps(config)))}


def _first_weight(members) -> str:
  return next(n for n in members if n.startswith("G/") and
              n.endswith("weight.npy"))


CASES = {
    "negative_channels": (lambda m: _tamper_config(m, channel_max=-8),
                          "channel_max=-8 is not an integer"),
    "huge_z_dim": (lambda m: _tamper_config(m, z_dim=10**12),
                   "z_dim=1000000000000 is not an integer"),
    "huge_network": (lambda m: _tamper_config(m, channel_base=1 << 24,
                                              channel_max=65536,
                                              img_resolution=4096),
                     "GiB of weights, over the"),
    "unknown_field": (lambda m: _tamper_config(m, evil="x"),
                      "unknown generator field"),
    "missing_array": (lambda m: {k: v for k, v in m.items()
                                 if k != _first_weight(m)},
                      "missing arrays"),
    "extra_array": (lambda m: {**m, "G/extra.npy": _npy(np.zeros(3))},
                    "unexpected ['G/extra']"),
    "wrong_shape": (lambda m: {**m, _first_weight(m): _npy(
        np.zeros((2, 2), np.float32))}, "the network needs float32"),
    "nan_weights": (lambda m: {**m, _first_weight(m): _npy(np.full(
        np.load(io.BytesIO(m[_first_weight(m)])).shape, np.nan,
        np.float32))}, "holds NaN or inf"),
    "pickled_object": (lambda m: {**m, _first_weight(m): np.lib.format.magic(
        1, 0) + b"\x76\x00{'descr': '|O', 'fortran_order': False, 'shape': "
        b"(1,), }" + b" " * 40 + b"\n"}, "unreadable"),
    "not_an_export": (lambda m: {"a.npy": _npy(np.zeros(2))},
                      "not a stylegan_jax.model export"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tampered_exports_are_refused(export, tmp_path, case):
  tamper, message = CASES[case]
  path = _write(tmp_path / "m.npz", tamper(dict(export)))
  start = time.monotonic()
  with pytest.raises(model_io.ModelFileError) as info:
    model_io.load_model(path)
  assert time.monotonic() - start < 5
  assert message in str(info.value) and "\n" not in str(info.value)


def test_a_zip_bomb_is_refused_before_it_expands(export, tmp_path):
  name = _first_weight(export)
  bomb = dict(export)
  bomb[name] = _npy(np.zeros(64 << 20, np.uint8))  # 64 MiB of zeros.
  path = _write(tmp_path / "bomb.npz", bomb, zipfile.ZIP_DEFLATED)
  assert path.stat().st_size < 1 << 20  # It is tiny on disk.
  with pytest.raises(model_io.ModelFileError, match="expands to"):
    model_io.load_model(path)


def test_convert_refuses_a_tampered_export_and_writes_nothing(
    export, tmp_path, capsys):
  source = _write(tmp_path / "in.npz", CASES["nan_weights"][0](dict(export)))
  dest = tmp_path / "out.npz"
  line = user_error(convert.main, [str(source), str(dest)], capsys)
  assert "holds NaN or inf" in line
  assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npz"]


def test_convert_onto_a_full_disk_leaves_no_partial_file(
    tmp_path, monkeypatch, capsys):
  source = model_io.save_model(tmp_path / "in.npz", make_model())
  real_savez = np.savez

  def full_disk(file, *args, **kwargs):
    real_savez(io.BytesIO(), *args, **kwargs)
    file.write(b"partial bytes")
    raise OSError(errno.ENOSPC, "No space left on device")

  monkeypatch.setattr(np, "savez", full_disk)
  line = user_error(convert.main, [str(source), str(tmp_path / "out.npz")],
                    capsys)
  assert "No space left on device" in line
  assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npz"]
