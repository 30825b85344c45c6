"""LPIPS-VGG against a NumPy re-implementation of its formula.

No LPIPS fixture exists, so hand-made weights stand in: a He-initialised
VGG16 in torchvision layout and random non-negative heads (the real v0.1
heads are non-negative too), written as torch files and read back through
`features.weights.load`. The VGG16 trunk is the module whose VGG19 sibling
matches torchvision (test_vgg.py); here the reference re-implements the LPIPS
part (scaling layer, channel normalisation, weighted squared differences,
spatial mean, sum over the five taps) in float64 NumPy.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax.features import lpips
from stylegan_jax.features import vgg
from stylegan_jax.features import weights
from tests.features import common
from tests.interop import pickle_writer as pw

CHANNELS = (64, 128, 256, 512, 512)
# torchvision vgg16.features indices ending LPIPS's five slices:
# relu1_2, relu2_2, relu3_3, relu4_3, relu5_3.
SLICE_ENDS = (3, 8, 15, 22, 29)


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
  rng = np.random.default_rng(0)
  tmp = tmp_path_factory.mktemp("lpips")
  vgg_path, lin_path = tmp / "vgg16.pth", tmp / "vgg.pth"
  vgg_path.write_bytes(pw.torch_zip(pw.state_dict(
      common.random_vgg16_state_dict(rng))))
  heads = {f"lin{l}.model.1.weight":
           rng.uniform(0, 1, (1, c, 1, 1)).astype(np.float32)
           for l, c in enumerate(CHANNELS)}
  lin_path.write_bytes(pw.torch_legacy(pw.state_dict(heads)))
  cache = tmp / "cache"
  return (weights.load("vgg16", vgg_path, cache_dir=cache),
          weights.load("lpips_vgg", lin_path, cache_dir=cache), heads)


def _reference(vgg_params, heads, x0, x1):
  shift = np.array([-0.030, -0.088, -0.188], np.float32)
  scale = np.array([0.458, 0.448, 0.450], np.float32)
  n = x0.shape[0]
  x = (np.concatenate([x0, x1]) - shift) / scale
  taps = [vgg.layer_names(16)[i] for i in SLICE_ENDS]
  acts = vgg.activations(vgg_params, jnp.asarray(x), taps)
  total = np.zeros(n)
  for l, tap in enumerate(taps):
    f = np.asarray(acts[tap], np.float64)  # [2N, h, w, C]
    f = f / (np.sqrt(np.sum(f**2, axis=-1, keepdims=True)) + 1e-10)
    w = heads[f"lin{l}.model.1.weight"].reshape(-1).astype(np.float64)
    total += np.mean(np.sum((f[:n] - f[n:]) ** 2 * w, axis=-1), axis=(1, 2))
  return total


def test_taps_are_lpips_slices():
  assert tuple(vgg.layer_names(16)[i] for i in SLICE_ENDS) == lpips.TAPS


def test_distance_matches_numpy_formula(nets):
  vgg_params, lin_params, heads = nets
  rng = np.random.default_rng(1)
  x0 = rng.uniform(-1, 1, (3, 32, 48, 3)).astype(np.float32)
  x1 = np.clip(x0 + rng.normal(0, 0.3, x0.shape), -1, 1).astype(np.float32)
  ours = np.asarray(jax.jit(lpips.distance)(vgg_params, lin_params, x0, x1))
  ref = _reference(vgg_params, heads, x0, x1)
  assert ours.shape == (3,) and (ref > 0).all()
  np.testing.assert_allclose(ours, ref, rtol=2e-5)


def test_identity_and_symmetry(nets):
  vgg_params, lin_params, _ = nets
  rng = np.random.default_rng(2)
  x0 = jnp.asarray(rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32))
  x1 = jnp.asarray(rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32))
  distance = jax.jit(lpips.distance)
  np.testing.assert_array_equal(distance(vgg_params, lin_params, x0, x0),
                                np.zeros(2))
  d01 = distance(vgg_params, lin_params, x0, x1)
  d10 = distance(vgg_params, lin_params, x1, x0)
  assert (np.asarray(d01) > 0).all()
  np.testing.assert_allclose(d01, d10, rtol=1e-6)


def test_heads_load_as_vectors(nets):
  _, lin_params, heads = nets
  assert sorted(lin_params) == [f"lin{l}" for l in range(5)]
  for l, c in enumerate(CHANNELS):
    np.testing.assert_array_equal(
        lin_params[f"lin{l}"], heads[f"lin{l}.model.1.weight"].reshape(c))


def test_distance_rejects_mismatched_batches(nets):
  vgg_params, lin_params, _ = nets
  with pytest.raises(ValueError, match="one shape"):
    lpips.distance(vgg_params, lin_params, jnp.zeros((1, 32, 32, 3)),
                   jnp.zeros((2, 32, 32, 3)))
