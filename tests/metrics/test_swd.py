"""Tests for the multi-scale sliced Wasserstein distance."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

from stylegan_jax.metrics import swd as swd_lib

N = 64  # images per set
RES = 32  # two pyramid levels: 32 and 16
# Fewer directions than the default keep the suite fast; orderings below
# have wide margins.
FAST = dict(num_directions=64, num_repeats=2)


def _images(rng, n, res=RES):
  """Smooth random colour fields with one flat-coloured disc each."""
  field = rng.normal(size=(n, res, res, 3))
  field = ndimage.gaussian_filter(field, (0, 3, 3, 0))
  field = 0.5 * field / field.std()
  yy, xx = np.mgrid[:res, :res]
  cy, cx = rng.uniform(res / 4, 3 * res / 4, size=(2, n, 1, 1))
  r = rng.uniform(res / 10, res / 4, size=(n, 1, 1))
  disc = ((yy - cy) ** 2 + (xx - cx) ** 2 < r**2)[..., None]
  colour = rng.uniform(-1, 1, size=(n, 1, 1, 3))
  return np.clip(np.where(disc, colour, field), -1, 1).astype(np.float32)


def _blur(x, sigma):
  return ndimage.gaussian_filter(x, (0, sigma, sigma, 0)).astype(np.float32)


def _noise(rng, x, sigma):
  return np.clip(x + sigma * rng.normal(size=x.shape), -1, 1).astype(
      np.float32
  )


def _cast(rng, x, sigma):
  """Per-image random colour shift."""
  shift = sigma * rng.normal(size=(x.shape[0], 1, 1, 3))
  return np.clip(x + shift, -1, 1).astype(np.float32)


@pytest.fixture(scope="module")
def sets():
  rng = np.random.default_rng(0)
  a, b = _images(rng, N), _images(rng, N)
  return {
      "a": a,
      "same": a.copy(),
      "independent": b,
      "noise_small": _noise(rng, b, 0.05),
      "noise_large": _noise(rng, b, 0.2),
      "blur_small": _blur(b, 0.7),
      "blur_large": _blur(b, 1.5),
      "cast_small": _cast(rng, b, 0.25),
      "cast_large": _cast(rng, b, 0.5),
      # Global per-channel offset, kept unclipped so it is exactly affine.
      "global_shift": b + np.float32([0.3, 0.0, -0.3]),
  }


@pytest.fixture(scope="module")
def scores(sets):
  key = jax.random.key(0)
  return {
      name: swd_lib.swd(sets["a"], x, key, **FAST)
      for name, x in sets.items()
      if name != "a"
  }


def test_keys_and_identical_sets(scores):
  assert list(scores["same"]) == ["swd/16", "swd/32", "swd/avg"]
  for value in scores["same"].values():
    assert value == pytest.approx(0.0, abs=1e-6)
  assert scores["independent"]["swd/avg"] > 1.0


@pytest.mark.parametrize("kind", ["noise", "blur"])
def test_high_frequency_damage_ordering(scores, kind):
  # Noise and blur live in the finest band; they also move the average.
  for level in ("swd/32", "swd/avg"):
    indep = scores["independent"][level]
    small = scores[f"{kind}_small"][level]
    large = scores[f"{kind}_large"][level]
    assert indep < small < large, (level, indep, small, large)


def test_colour_cast_ordering(scores):
  # Per-image colour casts live in the coarse (low-pass) level.
  for level in ("swd/16", "swd/avg"):
    indep = scores["independent"][level]
    small = scores["cast_small"][level]
    large = scores["cast_large"][level]
    assert indep < small < large, (level, indep, small, large)


def test_global_colour_shift_needs_reference_normalisation(sets, scores):
  # ProGAN's per-set normalisation removes a global per-channel offset ...
  for level, value in scores["global_shift"].items():
    assert value == pytest.approx(scores["independent"][level], rel=1e-3)
  # ... while normalising both sets by set A's statistics sees it.
  key = jax.random.key(0)
  ref = swd_lib.swd(sets["a"], sets["independent"], key,
                    normalize="reference", **FAST)
  shifted = swd_lib.swd(sets["a"], sets["global_shift"], key,
                        normalize="reference", **FAST)
  assert shifted["swd/16"] > 2 * ref["swd/16"]


def test_sharded_input_and_batch_size_do_not_change_result(sets):
  mesh = jax.make_mesh(
      (4,), ("data",), axis_types=(jax.sharding.AxisType.Auto,)
  )
  sharding = jax.NamedSharding(mesh, jax.P("data"))
  a = jax.device_put(sets["a"], sharding)
  b = jax.device_put(sets["blur_small"], sharding)
  key = jax.random.key(1)
  # 24 does not divide 64: the padded last batch is exercised too.
  got = swd_lib.swd(a, b, key, batch_size=24, **FAST)
  want = swd_lib.swd(sets["a"], sets["blur_small"], key, **FAST)
  for level in want:
    assert got[level] == pytest.approx(want[level], rel=1e-5)


def test_pyramid_matches_scipy_mirror_convolution():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(2, 16, 12, 3)).astype(np.float32)
  g = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0
  g = g[None, :, :, None]  # [1, 5, 5, 1]: filter H and W only
  want_down = ndimage.convolve(x.astype(np.float64), g, mode="mirror")
  want_down = want_down[:, ::2, ::2]
  np.testing.assert_allclose(swd_lib.pyr_down(x), want_down, atol=1e-5)
  up = np.zeros((2, 32, 24, 3))
  up[:, ::2, ::2] = x
  want_up = ndimage.convolve(up, 4 * g, mode="mirror")
  np.testing.assert_allclose(swd_lib.pyr_up(x), want_up, atol=1e-5)


def test_laplacian_pyramid_reconstructs_image():
  rng = np.random.default_rng(2)
  x = rng.uniform(-1, 1, size=(2, 32, 32, 3)).astype(np.float32)
  levels = swd_lib.laplacian_pyramid(jnp.asarray(x), 3)
  assert [l.shape[1] for l in levels] == [32, 16, 8]
  recon = levels[-1]
  for level in reversed(levels[:-1]):
    recon = level + swd_lib.pyr_up(recon)
  np.testing.assert_allclose(recon, x, atol=1e-5)


def test_pyramid_resolutions():
  res = swd_lib.pyramid_resolutions
  assert res((64, 64)) == [(64, 64), (32, 32), (16, 16)]
  assert res((16, 16)) == [(16, 16)]
  assert res((8, 8)) == [(8, 8)]
  assert res((48, 32)) == [(48, 32), (24, 16)]
  with pytest.raises(ValueError):
    res((4, 4))


def test_sliced_wasserstein_one_dimensional_shift():
  # In 1-D every direction is +-1, so SWD is the mean sorted difference.
  rng = np.random.default_rng(3)
  a = rng.normal(size=(1000, 1)).astype(np.float32)
  b = rng.permutation(a) + 0.25
  value = swd_lib.sliced_wasserstein(a, b, jax.random.key(0),
                                     num_directions=8, num_repeats=2)
  assert float(value) == pytest.approx(0.25, rel=1e-5)
