"""Tests for PSNR, SSIM and MS-SSIM: parity with scikit-image and sanity."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from skimage import filters
from skimage import metrics as sk_metrics

from stylegan_jax.metrics import image_quality


def _smooth_images(rng, n, h, w, c, sigma=3.0):
  """Smooth random fields with a few discs, roughly in [-1, 1]."""
  field = rng.normal(size=(n, h, w, c))
  field = np.stack([
      filters.gaussian(f, sigma=sigma, channel_axis=-1) for f in field
  ])
  field = 0.5 * field / field.std()
  yy, xx = np.mgrid[:h, :w]
  for i in range(n):
    for _ in range(3):
      cy, cx = rng.uniform(0, h), rng.uniform(0, w)
      r = rng.uniform(2, max(3, min(h, w) / 4))
      disc = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
      field[i][disc] = rng.uniform(-1, 1, size=c)
  return np.clip(field, -1, 1).astype(np.float32)


def _noisy(rng, images, sigma):
  noise = sigma * rng.normal(size=images.shape)
  return np.clip(images + noise, -1, 1).astype(np.float32)


def _cases():
  rng = np.random.default_rng(0)
  random = rng.uniform(-1, 1, size=(3, 32, 40, 3)).astype(np.float32)
  smooth = _smooth_images(rng, 3, 48, 48, 3)
  # Offset, low-contrast images stress float32 cancellation in variances.
  offset = (0.8 + 0.1 * _smooth_images(rng, 2, 24, 17, 1)).astype(np.float32)
  out = []
  for name, a in [("random", random), ("smooth", smooth), ("gray", offset)]:
    for sigma in (0.01, 0.1, 0.5):
      out.append((f"{name}-{sigma}", a, _noisy(rng, a, sigma)))
  return out


CASES = _cases()


@pytest.mark.parametrize(
    "name,a,b", CASES, ids=[name for name, _, _ in CASES]
)
def test_ssim_and_psnr_match_skimage(name, a, b):
  del name
  ref_ssim = [
      sk_metrics.structural_similarity(
          x.astype(np.float64),
          y.astype(np.float64),
          data_range=2.0,
          gaussian_weights=True,
          sigma=1.5,
          use_sample_covariance=False,
          channel_axis=-1,
      )
      for x, y in zip(a, b)
  ]
  ref_psnr = [
      sk_metrics.peak_signal_noise_ratio(
          x.astype(np.float64), y.astype(np.float64), data_range=2.0
      )
      for x, y in zip(a, b)
  ]
  got_ssim = image_quality.ssim(a, b)
  got_psnr = image_quality.psnr(a, b)
  assert got_ssim.shape == got_psnr.shape == (a.shape[0],)
  np.testing.assert_allclose(got_ssim, ref_ssim, rtol=0, atol=1e-5)
  np.testing.assert_allclose(got_psnr, ref_psnr, rtol=1e-5, atol=0)


def test_ssim_data_range_and_identity():
  rng = np.random.default_rng(1)
  a = _smooth_images(rng, 2, 24, 24, 3)
  b = _noisy(rng, a, 0.1)
  np.testing.assert_allclose(image_quality.ssim(a, a), 1.0, atol=1e-6)
  assert np.all(np.isinf(image_quality.psnr(a, a)))
  # Halved images with data_range 1 are the same comparison rescaled.
  np.testing.assert_allclose(
      image_quality.ssim(a / 2, b / 2, data_range=1.0),
      image_quality.ssim(a, b),
      atol=1e-5,
  )
  with pytest.raises(ValueError):
    image_quality.ssim(a[:, :8, :8], b[:, :8, :8])


def test_ms_ssim_num_scales():
  n = image_quality.ms_ssim_num_scales
  assert n((256, 256)) == 5
  assert n((176, 176)) == 5
  assert n((175, 256)) == 4
  assert n((64, 64)) == 3
  assert n((16, 16)) == 1
  assert n((10, 10)) == 0


def test_ms_ssim_identity_and_noise_order():
  rng = np.random.default_rng(2)
  a = _smooth_images(rng, 2, 176, 176, 3, sigma=4.0)  # all five scales
  np.testing.assert_allclose(image_quality.ms_ssim(a, a), 1.0, atol=1e-6)
  scores = np.stack([
      image_quality.ms_ssim(a, _noisy(rng, a, s))
      for s in (0.02, 0.05, 0.1, 0.2, 0.4)
  ])  # [levels, N]
  assert np.all(scores < 1.0) and np.all(scores > 0.0)
  assert np.all(np.diff(scores, axis=0) < 0), scores


def test_ms_ssim_agrees_with_ssim_structure():
  rng = np.random.default_rng(3)
  a = _smooth_images(rng, 3, 48, 48, 3)
  b = _noisy(rng, a, 0.1)
  # One scale is SSIM itself.
  np.testing.assert_allclose(
      image_quality.ms_ssim(a, b, weights=(1.0,)),
      image_quality.ssim(a, b),
      atol=1e-6,
  )
  # All weight on scale 2 is SSIM of the 2x2-pooled images (per channel).
  pool = lambda x: x.reshape(3, 24, 2, 24, 2, 3).mean(axis=(2, 4))
  per_channel = np.stack([
      image_quality.ssim(pool(a)[..., i : i + 1], pool(b)[..., i : i + 1])
      for i in range(3)
  ], axis=-1)
  np.testing.assert_allclose(
      image_quality.ms_ssim(a, b, weights=(0.0, 1.0)),
      per_channel.mean(-1),
      atol=1e-6,
  )
  # 48x48 has room for 3 scales: the first three weights, renormalised.
  w = np.asarray(image_quality.MS_SSIM_WEIGHTS[:3])
  np.testing.assert_allclose(
      image_quality.ms_ssim(a, b),
      image_quality.ms_ssim(a, b, weights=tuple(w / w.sum())),
      atol=1e-6,
  )


@pytest.mark.parametrize("metric", ["ssim", "ms_ssim"])
def test_gradients_are_finite_and_match_finite_differences(metric):
  fn = getattr(image_quality, metric)
  rng = np.random.default_rng(4)
  a = _smooth_images(rng, 2, 48, 48, 3)
  b = _noisy(rng, a, 0.2)
  # Anti-correlated channel: negative terms are clamped, gradient stays finite.
  b[1, ..., 0] = -a[1, ..., 0]
  loss = jax.jit(lambda x: jnp.sum(1.0 - fn(a, x)))
  grad = jax.jit(jax.grad(lambda x: jnp.sum(1.0 - fn(a, x))))(b)
  assert np.all(np.isfinite(grad)) and np.any(grad != 0)
  direction = rng.normal(size=b.shape).astype(np.float32)
  direction /= np.linalg.norm(direction)
  eps = 1e-2
  fd = (loss(b + eps * direction) - loss(b - eps * direction)) / (2 * eps)
  np.testing.assert_allclose(np.sum(grad * direction), fd, rtol=2e-2)


def test_sharded_batch_under_jit_matches_eager():
  rng = np.random.default_rng(5)
  a = _smooth_images(rng, 8, 32, 32, 3)
  b = _noisy(rng, a, 0.1)
  mesh = jax.make_mesh(
      (4,), ("data",), axis_types=(jax.sharding.AxisType.Auto,)
  )
  sharding = jax.NamedSharding(mesh, jax.P("data"))
  a_s, b_s = jax.device_put(a, sharding), jax.device_put(b, sharding)
  fn = jax.jit(
      lambda x, y: (
          image_quality.psnr(x, y),
          image_quality.ssim(x, y),
          image_quality.ms_ssim(x, y),
      )
  )
  for got, want in zip(
      fn(a_s, b_s),
      (
          image_quality.psnr(a, b),
          image_quality.ssim(a, b),
          image_quality.ms_ssim(a, b),
      ),
  ):
    assert got.shape == (8,)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
