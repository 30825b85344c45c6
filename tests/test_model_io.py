"""Naming and loading models: official pickles, exports, training workdirs."""

import json
import pickle
import subprocess
import sys

import jax
import numpy as np
import pytest

from stylegan_jax import model_io
from stylegan_jax.train import loop
from tests import reference
from tests.train.test_loop import tiny_config

RTOL = 1e-5  # The snapshot README's float32 tolerance (x max |ref|).


def _snapshot_paths():
  ref = reference.require()
  return (reference.require(ref / "sg2ada_snapshot_16.pkl"),
          reference.require(ref / "sg2ada_snapshot_16_expected.npz"))


def _assert_close(actual, expected):
  actual, expected = np.asarray(actual), np.asarray(expected)
  err = np.max(np.abs(actual - expected))
  assert err <= RTOL * np.max(np.abs(expected)), err


def _render(model, expected):
  img = model.G.apply(model.variables, expected["in/z"], expected["in/c"],
                      float(expected["in/truncation_psi"]),
                      noise_mode="const")
  return img, np.transpose(np.asarray(img), (0, 3, 1, 2))


@pytest.mark.parametrize("network", ["G_ema", "G"])
def test_official_snapshot_reproduces_expected_outputs(network):
  pkl, expected_path = _snapshot_paths()
  expected = np.load(expected_path)
  model = model_io.load_model(pkl, network=network)
  img, img_nchw = _render(model, expected)
  _assert_close(img_nchw, expected[f"out/{network}_img_const"])
  if network == "G_ema":
    logits = model.D.apply(model.d_variables, img, expected["in/c"])
    _assert_close(logits, expected["out/D_logits"])
  # G and G_ema differ on purpose in the fixture: each matches only its own.
  other = "G" if network == "G_ema" else "G_ema"
  assert np.max(np.abs(img_nchw - expected[f"out/{other}_img_const"])) > 1e-2


def test_convert_cli_exports_and_the_export_reloads(tmp_path):
  pkl, expected_path = _snapshot_paths()
  dest = tmp_path / "snapshot.npz"
  result = subprocess.run(
      [sys.executable, "-m", "stylegan_jax.convert", str(pkl), str(dest)],
      capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  assert f"wrote {dest}" in result.stdout
  with np.load(dest, allow_pickle=False) as f:  # No pickled code inside.
    config = json.loads(str(f["config"]))
  assert config["format"] == model_io.FORMAT and config["version"] == 1
  expected = np.load(expected_path)
  model = model_io.load_model(dest)
  _, img_nchw = _render(model, expected)
  _assert_close(img_nchw, expected["out/G_ema_img_const"])


class _Hostile:

  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    import os  # pylint: disable=g-import-not-at-top
    return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("payload", ["hostile", "plain_dict", "not_pickle"])
def test_convert_refuses_and_writes_nothing(tmp_path, payload):
  marker = tmp_path / "marker"
  source = tmp_path / "network-snapshot-000000.pkl"
  if payload == "hostile":
    source.write_bytes(pickle.dumps(_Hostile(marker)))
  elif payload == "plain_dict":
    source.write_bytes(pickle.dumps({"a": 1}))
  else:
    source.write_bytes(b"definitely not a pickle")
  dest = tmp_path / "out.npz"
  result = subprocess.run(
      [sys.executable, "-m", "stylegan_jax.convert", str(source), str(dest)],
      capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode != 0
  assert not dest.exists() and not list(tmp_path.glob("out.npz*"))
  assert not marker.exists()
  message = result.stderr
  if payload == "hostile":
    assert "system" in message and "refused" in message
  elif payload == "plain_dict":
    assert "dict with keys ['a']" in message and "G_ema" in message


def test_workdir_model_matches_training_state(tmp_path):
  state = loop.train_and_evaluate(tiny_config(2), str(tmp_path))
  model = model_io.load_model(tmp_path)
  assert model.source.startswith(f"{tmp_path}@2")
  assert model.class_names == ("mondrian", "circles", "stripes",
                               "color_field", "dots")
  for a, b in zip(jax.tree.leaves(state.ema_params),
                  jax.tree.leaves(model.variables["params"])):
    np.testing.assert_array_equal(a, b)
  g_model = model_io.load_model(f"{tmp_path}@2", network="G")
  for a, b in zip(jax.tree.leaves(state.g_params),
                  jax.tree.leaves(g_model.variables["params"])):
    np.testing.assert_array_equal(a, b)
  assert model.class_index("stripes") == 2 and model.class_index("4") == 4
  with pytest.raises(ValueError, match="unknown class 'cubism'"):
    model.class_index("cubism")
  with pytest.raises(ValueError, match="has no checkpoint 7"):
    model_io.load_model(f"{tmp_path}@7")
  # A workdir model exports and reloads to the same images.
  exported = model_io.load_model(model_io.save_model(tmp_path / "m.npz", model))
  z = np.random.RandomState(0).randn(2, model.G.z_dim)
  c = np.eye(5)[[1, 3]]
  np.testing.assert_array_equal(
      model.G.apply(model.variables, z, c, noise_mode="const"),
      exported.G.apply(exported.variables, z, c, noise_mode="const"))


def test_bad_specs_say_what_was_expected(tmp_path):
  with pytest.raises(model_io.ModelFileError,
                     match="expected a training workdir"):
    model_io.load_model(tmp_path / "nothing-here.pkl")
  with pytest.raises(model_io.ModelFileError, match="no checkpoints/ folder"):
    model_io.load_model(tmp_path)
  bogus = tmp_path / "x.npz"
  np.savez(bogus, a=np.zeros(2))
  with pytest.raises(ValueError, match="not a stylegan_jax.model export"):
    model_io.load_model(bogus)
