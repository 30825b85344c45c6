"""FID Inception-v3 parity with pytorch-fid (fixtures) and its preprocessing.

Tolerances (against max |ref| of each array, as README-features.md says):

* `resized`: 1e-6. Our bilinear weights are ATen's (fused multiply-add,
  float32) and u8 / 255 is exact; measured 1.8e-7 (0 at 299x299).
* pool0, pool1: 1e-5; measured <= 1.5e-6.
* pre_aux, pool3, logits: 2e-4, twice the 1e-4 first asked for. Measured
  here (CPU, JAX 0.10.2): at most 9.7e-5 (pool3) and 9.5e-5 (pre_aux), at
  the 299x299 input; 5.1e-5 and 9.9e-6 at 64x64 and 256x256. That passes
  1e-4 by 3% only, and not by luck of ours: the fixture itself carries
  float32 noise that size. Evaluating this network in float64 (the exact
  answer to ~1e-12) lands 9.4e-5 of max |ref| from the stored pool3 (2nd
  image at 299x299) and 8.5e-5 from pre_aux, because the random ternary
  network amplifies rounding about a thousandfold between pool1 and pool3
  (perturbing the float64 weights by 6e-8 relative moves pool3 by 3.8e-5).
  Any float32 evaluation adds its own noise of that order (ours: up to
  6e-5 from float64), so a different CPU, XLA version or GPU can cross
  1e-4 without anything being wrong. Structural mistakes sit three orders
  of magnitude higher: counting the padding in the average pools
  (`count_include_pad=True`) moves pool3 by 0.46 of max |ref|, and so does
  jax.image.resize's bilinear (antialias off) on the 64x64 input.

The network compiles once (the resize per input size) and always runs at
299 px, about a second per 3 images on a free 2-core CPU, plus compiling. By
default each weights format runs the smallest fixture input (64x64: the
upsampling resize, every intermediate, pool3 and logits); the other inputs
and the clean mode at 299x299 are `slow`.
"""

import json

import numpy as np
import pytest

from stylegan_jax.features import inception
from stylegan_jax.features import layers
from stylegan_jax.features import weights
from tests.features import common

TOL = {"resized": 1e-6, "pool0": 1e-5, "pool1": 1e-5, "pre_aux": 2e-4,
       "pool3": 2e-4, "logits": 2e-4}
# Intermediate maps the fixture stores for the first image only (NCHW).
FIRST_ONLY = ("resized", "pool0", "pool1", "pre_aux")
_REF_NAME = {"resized": "resized_299_first", "pool0": "pool0_first",
             "pool1": "pool1_first", "pre_aux": "pre_aux_first"}


@pytest.fixture(scope="module",
                params=common.fixture_cases("fid_inception"))
def loaded(request, tmp_path_factory):
  expected, weights_path = common.require_case(request.param)
  params = weights.load("inception", weights_path,
                        cache_dir=tmp_path_factory.mktemp("cache"))
  with np.load(expected) as f:
    ref = {k: f[k] for k in f.files}
  return params, ref


def _sizes(ref):
  """Input keys 'u8_HxW', smallest first."""
  sizes = [k[len("in/"):] for k in ref if k.startswith("in/u8_")]
  assert sizes, "the fixture has no in/u8_* inputs"
  return sorted(sizes, key=lambda k: np.prod(ref[f"in/{k}"].shape))


def _check(name, ours, ref):
  err = float(np.max(np.abs(ours - ref)))
  scale = float(np.max(np.abs(ref)))
  assert err <= TOL[name] * scale, (
      f"{name}: max |ours - ref| = {err:.3g} = {err / scale:.3g} of max "
      f"|ref| > {TOL[name]}")


def _check_size(params, ref, size, resize_mode="pytorch-fid"):
  out = inception.features(params, ref[f"in/{size}"], intermediates=True,
                           resize_mode=resize_mode)
  for name in ("pool3", "logits"):
    _check(name, np.asarray(out[name]), ref[f"out/{size}/{name}"])
  for name in FIRST_ONLY:
    ours = np.asarray(out[name][:1]).transpose(0, 3, 1, 2)  # NCHW
    _check(name, ours, ref[f"out/{size}/{_REF_NAME[name]}"])


def test_parity_with_pytorch_fid_smallest_input(loaded):
  # The network always runs at 299 px; the smallest input (64x64 in the
  # ternary fixture) also checks the upsampling resize.
  params, ref = loaded
  _check_size(params, ref, _sizes(ref)[0])


@pytest.mark.slow
def test_parity_with_pytorch_fid_other_inputs(loaded):
  params, ref = loaded
  for size in _sizes(ref)[1:]:
    _check_size(params, ref, size)


def test_clean_resize_keeps_299_images():
  # PIL returns a same-size image unchanged, so at 299x299 the clean mode
  # feeds the network exactly u8 / 255, as pytorch-fid's identity resize.
  images = np.random.default_rng(4).integers(0, 256, (2, 299, 299, 3),
                                             dtype=np.uint8)
  np.testing.assert_array_equal(inception.resize_clean(images),
                                images.astype(np.float32) / 255)


@pytest.mark.slow
def test_clean_mode_at_299_matches_the_fixture(loaded):
  params, ref = loaded
  _check_size(params, ref, "u8_299x299", resize_mode="clean")


# --------------------------------------------------------------------------
# Preprocessing and ops against NumPy references written here.


def _torch_bilinear_reference(x, out_h, out_w):
  """F.interpolate(bilinear, align_corners=False) in float64, NHWC."""
  def taps(n_in, n_out):
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0)
    i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0
  r0, r1, rl = taps(x.shape[1], out_h)
  c0, c1, cl = taps(x.shape[2], out_w)
  x = x.astype(np.float64)
  x = x[:, r0] * (1 - rl)[:, None, None] + x[:, r1] * rl[:, None, None]
  return x[:, :, c0] * (1 - cl)[:, None] + x[:, :, c1] * cl[:, None]


@pytest.mark.parametrize("in_hw,out_hw", [
    ((17, 40), (5, 299)), ((640, 3), (299, 7)), ((8, 8), (8, 8)),
    ((1, 6), (4, 2))])
def test_resize_bilinear_matches_torch_formula(in_hw, out_hw):
  # Down- and up-sampling (no antialias), odd ratios, a 1-pixel axis.
  x = np.random.default_rng(0).uniform(size=(2, *in_hw, 3)).astype(
      np.float32)
  ours = np.asarray(layers.resize_bilinear(x, out_hw))
  ref = _torch_bilinear_reference(x, *out_hw)
  # PyTorch (and we) compute the source index in float32: the rounded
  # scale and the rounded result each move it by up to 2**-24 of the largest
  # index, and the output by that times |x1 - x0| <= 1.
  atol = max(in_hw) * 2.0**-23 + 1e-6
  np.testing.assert_allclose(ours, ref, rtol=0, atol=atol)


def test_avg_pool_excludes_padding():
  x = np.random.default_rng(1).normal(size=(2, 5, 4, 3)).astype(np.float32)
  ref = np.zeros_like(x)
  for i in range(5):
    for j in range(4):
      window = x[:, max(i - 1, 0):i + 2, max(j - 1, 0):j + 2]
      ref[:, i, j] = window.mean(axis=(1, 2))
  np.testing.assert_allclose(np.asarray(layers.avg_pool_exclude_pad(x)), ref,
                             rtol=1e-6, atol=1e-6)


def test_max_pool_floor_and_padding():
  x = np.random.default_rng(2).normal(size=(1, 7, 6, 2)).astype(np.float32)
  ref = np.stack([np.stack([x[0, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max((0, 1))
                            for j in range(2)]) for i in range(3)])
  np.testing.assert_array_equal(np.asarray(layers.max_pool(x, 3, 2)),
                                ref[None])
  padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)),
                  constant_values=-np.inf)
  ref = np.stack([np.stack([padded[0, i:i + 3, j:j + 3].max((0, 1))
                            for j in range(6)]) for i in range(7)])
  np.testing.assert_array_equal(
      np.asarray(layers.max_pool(x, 3, 1, padding=1)), ref[None])


def test_adaptive_avg_pool_bins():
  x = np.random.default_rng(3).normal(size=(2, 5, 3, 4)).astype(np.float32)
  ref = np.zeros((2, 7, 2, 4), np.float32)
  for i in range(7):
    for j in range(2):
      h0, h1 = (i * 5) // 7, -(-(i + 1) * 5 // 7)
      w0, w1 = (j * 3) // 2, -(-(j + 1) * 3 // 2)
      ref[:, i, j] = x[:, h0:h1, w0:w1].mean(axis=(1, 2))
  np.testing.assert_allclose(np.asarray(layers.adaptive_avg_pool(x, (7, 2))),
                             ref, rtol=1e-6, atol=1e-7)


def test_clean_resize_is_centre_aligned_bicubic():
  # Keys' cubic (a = -0.5) reproduces linear functions, so away from the
  # borders a horizontal ramp resized 100 -> 299 samples the ramp at the
  # centre-aligned source positions (x + 0.5) * 100 / 299 - 0.5.
  ramp = np.broadcast_to(np.arange(100, dtype=np.float64) * 2.0 + 20,
                         (1, 10, 100))
  image = np.stack([ramp[0]] * 3, axis=-1)[None].astype(np.uint8)
  x = inception.resize_clean(image)[0, 150, :, 0] * 255  # [299]
  src = (np.arange(299) + 0.5) * 100 / 299 - 0.5
  inner = slice(10, 289)
  np.testing.assert_allclose(x[inner], src[inner] * 2 + 20, rtol=0,
                             atol=1e-3)
  flat = np.full((1, 40, 30, 3), 77, np.uint8)
  np.testing.assert_allclose(inception.resize_clean(flat), 77 / 255,
                             rtol=1e-6)


def test_features_reject_float_images():
  with pytest.raises(ValueError, match="uint8"):
    inception.features({}, np.zeros((1, 8, 8, 3), np.float32))
  with pytest.raises(ValueError, match="resize_mode"):
    inception.features({}, np.zeros((1, 8, 8, 3), np.uint8),
                       resize_mode="tf")
  with pytest.raises(ValueError, match=r"\[N, H, W, 3\]"):
    inception.features({}, np.zeros((8, 8, 3), np.uint8))


def test_torch_shapes_match_the_fixture_state_dict(loaded):
  # weights.load refused anything missing or unexpected; the fixture's key
  # count then pins the optional num_batches_tracked entries too.
  params, ref = loaded
  required, optional = inception.torch_shapes()
  config = json.loads(str(ref["config"]))
  assert len(required) + len(optional) == config["state_dict_keys"] == 566
  assert len(params) == 94 * 5 + 2
  assert params["Mixed_7c.branch3x3dbl_3b/kernel"].shape == (3, 1, 384, 384)
  assert params["fc/kernel"].shape == (2048, 1008)
