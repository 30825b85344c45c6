"""The weights loader: user errors, layout checks, conversion cache.

Uses small hand-written torch files (LPIPS heads) and shape-only state dicts
(`np.broadcast_to`, no memory) so nothing here needs the real weights.
"""

import hashlib
import json
import os
import warnings

import numpy as np
import pytest

from stylegan_jax.features import inception
from stylegan_jax.features import vgg
from stylegan_jax.features import weights
from stylegan_jax.interop import torch_file
from tests.interop import pickle_writer as pw

CHANNELS = (64, 128, 256, 512, 512)


def _heads(seed=0, **overrides):
  rng = np.random.default_rng(seed)
  heads = {f"lin{l}.model.1.weight":
           rng.uniform(0, 1, (1, c, 1, 1)).astype(np.float32)
           for l, c in enumerate(CHANNELS)}
  heads.update(overrides)
  return {k: v for k, v in heads.items() if v is not None}


def _write(path, state_dict, legacy=False):
  writer = pw.torch_legacy if legacy else pw.torch_zip
  path.write_bytes(writer(pw.state_dict(state_dict)))
  return path


def _shapes_only(shapes):
  return {k: np.broadcast_to(np.float32(0), s) for k, s in shapes.items()}


def _one_line_error(excinfo):
  message = str(excinfo.value)
  assert "\n" not in message
  return message


def test_missing_file_names_the_file_to_bring(tmp_path):
  with pytest.raises(weights.WeightsError) as excinfo:
    weights.load("inception", tmp_path / "pt_inception.pth",
                 cache_dir=tmp_path)
  message = _one_line_error(excinfo)
  assert str(tmp_path / "pt_inception.pth") in message
  assert "pt_inception-2015-12-05-6726825d.pth" in message
  assert "fc.weight [1008, 2048]" in message  # the expected layout
  assert isinstance(excinfo.value, ValueError)


def test_unknown_kind(tmp_path):
  with pytest.raises(weights.WeightsError, match="unknown weights kind"):
    weights.load("alexnet", tmp_path / "x.pth")


def test_not_a_torch_file(tmp_path):
  path = tmp_path / "vgg.pth"
  path.write_bytes(b"<html>404 not found</html>")
  with pytest.raises(weights.WeightsError) as excinfo:
    weights.load("lpips_vgg", path, cache_dir=tmp_path / "cache")
  message = _one_line_error(excinfo)
  assert "cannot read" in message and "weights/v0.1/vgg.pth" in message


def test_wrong_layout_lists_missing_unexpected_and_shapes(tmp_path):
  path = _write(tmp_path / "vgg.pth", _heads(**{
      "lin4.model.1.weight": None,
      "lin1.model.1.weight": np.zeros((1, 64, 1, 1), np.float32),
      "lin5.model.1.weight": np.zeros((1, 3, 1, 1), np.float32)}))
  with pytest.raises(weights.WeightsError) as excinfo:
    weights.load("lpips_vgg", path, cache_dir=tmp_path / "cache")
  message = _one_line_error(excinfo)
  assert str(path) in message
  assert "missing: lin4.model.1.weight" in message
  assert "unexpected: lin5.model.1.weight" in message
  assert "lin1.model.1.weight (1, 64, 1, 1) != (1, 128, 1, 1)" in message
  assert "weights/v0.1/vgg.pth" in message


def test_vgg19_file_given_as_vgg16():
  state_dict = _shapes_only(vgg.torch_shapes(19)[0])
  with pytest.raises(weights.WeightsError) as excinfo:
    weights.check_state_dict("vgg16", state_dict, "vgg19-dcbb9e9d.pth")
  message = _one_line_error(excinfo)
  assert "missing: features.17.weight" in message
  assert "unexpected: features.16.weight" in message
  assert "vgg16-397923af.pth" in message


def test_inception_layout_accepts_optional_counters_only():
  required, optional = inception.torch_shapes()
  weights.check_state_dict("inception", _shapes_only(required))
  weights.check_state_dict("inception", _shapes_only(required | optional))
  extra = _shapes_only(required) | {
      "AuxLogits.fc.weight": np.zeros((1008, 768), np.float32)}
  with pytest.raises(weights.WeightsError, match="unexpected: AuxLogits"):
    weights.check_state_dict("inception", extra)


def test_vgg16_needs_both_fc_layers_or_neither(tmp_path):
  state_dict = _shapes_only(vgg.torch_shapes(16)[0]) | {
      "classifier.0.weight": np.zeros((4096, 25088), np.float32),
      "classifier.0.bias": np.zeros(4096, np.float32)}
  weights.check_state_dict("vgg16", state_dict)  # Shapes are fine ...
  with pytest.raises(ValueError, match="classifier.3"):
    vgg.from_torch(state_dict, 16)  # ... but fc2 needs classifier.3 too.


def test_cache_is_keyed_by_hash_and_read_back(tmp_path, monkeypatch):
  path = _write(tmp_path / "vgg.pth", _heads())
  cache = tmp_path / "cache"
  first = weights.load("lpips_vgg", path, cache_dir=cache)
  sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
  cached = cache / "features" / f"lpips_vgg-v{weights.FORMAT}-{sha256}.npz"
  assert cached.is_file()
  index = json.loads((cache / "features" / "sha256-index.json").read_text())
  entry = index[str(path.resolve())]
  assert entry["sha256"] == sha256
  assert entry["size"] == path.stat().st_size
  with np.load(cached) as f:
    meta = json.loads(str(f["__source__"]))
  assert meta["sha256"] == sha256 and meta["kind"] == "lpips_vgg"

  # Later loads neither parse the torch file nor hash it again.
  def refuse(*args, **kwargs):
    raise AssertionError("parsed the torch file despite the cache")
  monkeypatch.setattr(torch_file, "load_torch_state_dict", refuse)
  hashed = []
  real_sha256 = hashlib.sha256
  monkeypatch.setattr(hashlib, "sha256",
                      lambda *a: hashed.append(1) or real_sha256(*a))
  second = weights.load("lpips_vgg", path, cache_dir=cache)
  assert not hashed
  for k in first:
    np.testing.assert_array_equal(first[k], second[k])
  monkeypatch.undo()

  # A changed file (new content and mtime) is hashed and converted again.
  _write(path, _heads(seed=1), legacy=True)
  os.utime(path, ns=(entry["mtime_ns"] + 10**9,) * 2)
  third = weights.load("lpips_vgg", path, cache_dir=cache)
  assert not np.array_equal(third["lin0"], first["lin0"])
  assert len(list((cache / "features").glob("lpips_vgg-*.npz"))) == 2


def test_cache_dir_from_environment(tmp_path, monkeypatch):
  path = _write(tmp_path / "vgg.pth", _heads())
  monkeypatch.setenv("STYLEGAN_JAX_CACHE", str(tmp_path / "env_cache"))
  assert weights.default_cache_dir() == tmp_path / "env_cache"
  weights.load("lpips_vgg", path)
  assert list((tmp_path / "env_cache" / "features").glob("lpips_vgg-*.npz"))


def test_unwritable_cache_only_warns(tmp_path):
  path = _write(tmp_path / "vgg.pth", _heads())
  blocker = tmp_path / "not_a_dir"
  blocker.write_text("a file where the cache directory should be")
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    params = weights.load("lpips_vgg", path, cache_dir=blocker)
  assert any("could not write the weights cache" in str(w.message)
             for w in caught)
  np.testing.assert_array_equal(
      params["lin2"], _heads()["lin2.model.1.weight"].reshape(256))
