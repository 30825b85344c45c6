"""PPL maths: slerp, the crop/downsample, distances with toy callables and
the percentile filter, against NumPy references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax.metrics import ppl


def _slerp_reference(a, b, t):
  a = a / np.linalg.norm(a, axis=-1, keepdims=True)
  b = b / np.linalg.norm(b, axis=-1, keepdims=True)
  omega = np.arccos(np.sum(a * b, axis=-1, keepdims=True))
  return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def test_slerp_matches_the_sine_formula():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(5, 7)) * 3, rng.normal(size=(5, 7))
  t = np.array([0.0, 0.25, 0.5, 0.9, 1.0])[:, None]
  ours = np.asarray(ppl.slerp(jnp.asarray(a), jnp.asarray(b), jnp.asarray(t)))
  np.testing.assert_allclose(ours, _slerp_reference(a, b, t), atol=2e-6)
  np.testing.assert_allclose(np.linalg.norm(ours, axis=-1), 1, atol=1e-6)


def test_path_length_keeps_1st_to_99th_percentile():
  d = np.random.default_rng(1).exponential(size=301)
  d[:3] = [1e6, -5, 1e5]  # outliers on both ends
  s = np.sort(d)
  lo = s[int(np.floor(0.01 * 300))]  # 'lower'
  hi = s[int(np.ceil(0.99 * 300))]  # 'higher'
  ref = d[(d >= lo) & (d <= hi)].mean()
  np.testing.assert_allclose(ppl.path_length(d), ref, rtol=1e-12)
  assert ppl.path_length(d) < 10


def test_crop_and_downsample_matches_numpy():
  img = np.random.default_rng(2).normal(size=(1, 512, 512, 1)).astype(
      np.float32)
  ours = np.asarray(ppl.crop_and_downsample(jnp.asarray(img), crop=True))
  c = 512 // 8
  crop = img[0, 3 * c:7 * c, 2 * c:6 * c, 0]  # [256, 256]
  ref = crop.reshape(128, 2, 128, 2).mean(axis=(1, 3))  # factor 512 // 256
  assert ours.shape == (1, 128, 128, 3)
  for ch in range(3):
    np.testing.assert_allclose(ours[0, :, :, ch], ref, rtol=1e-6, atol=1e-6)
  small = jnp.ones((2, 64, 64, 3))
  assert ppl.crop_and_downsample(small, crop=False).shape == (2, 64, 64, 3)


def _toy_networks(rng, z_dim=6, w_dim=5, num_ws=2, res=4):
  """Linear mapping and synthesis; squared L2 as the distance."""
  m = rng.normal(size=(z_dim, w_dim)).astype(np.float32)
  s = rng.normal(size=(num_ws * w_dim, res * res * 3)).astype(np.float32)
  seen = {}

  def mapping(z, c):
    seen["z"], seen["c"] = np.asarray(z), c
    w = z @ m  # [B, w_dim]
    return jnp.repeat(w[:, None], num_ws, axis=1)  # [B, num_ws, w_dim]

  def synthesis(ws):
    return (ws.reshape(ws.shape[0], -1) @ s).reshape(-1, res, res, 3)

  def distance(x0, x1):
    return jnp.sum(jnp.square(x0 - x1), axis=(1, 2, 3))

  return mapping, synthesis, distance, m, s, seen


@pytest.mark.parametrize("sampling", ["end", "full"])
def test_w_space_distance_of_a_linear_generator(sampling):
  # lerp in W and a linear synthesis: img(t + eps) - img(t) = eps S (w1 - w0)
  # for every t, so distance / eps^2 = |S (w1 - w0)|^2. epsilon 1e-2 keeps
  # float32 cancellation (relative 1e-7 / eps) far below the tolerance.
  rng = np.random.default_rng(3)
  mapping, synthesis, distance, m, s, seen = _toy_networks(rng)
  d = ppl.sample_distances(
      jax.random.key(0), mapping=mapping, synthesis=synthesis,
      distance=distance, num=4, z_dim=6, epsilon=1e-2, space="w",
      sampling=sampling)
  z0, z1 = np.split(seen["z"].astype(np.float64), 2)
  assert seen["c"] is None
  dw = np.tile((z1 - z0) @ m, 2)  # [4, num_ws * w_dim]
  ref = np.sum((dw @ s) ** 2, axis=1)
  np.testing.assert_allclose(d, ref, rtol=1e-3)


def test_z_space_distance_at_the_end_points():
  # sampling='end': t = 0, so the pair is slerp(z0, z1, 0) and
  # slerp(z0, z1, eps), both mapped and synthesised linearly.
  rng = np.random.default_rng(4)
  mapping, synthesis, distance, m, s, seen = _toy_networks(rng)
  c = jnp.ones((4, 2))
  d = ppl.sample_distances(
      jax.random.key(1), mapping=mapping, synthesis=synthesis,
      distance=distance, num=4, z_dim=6, c=c, epsilon=1e-2, space="z",
      sampling="end")
  assert seen["c"].shape == (8, 2)
  zt0, zt1 = np.split(seen["z"].astype(np.float64), 2)
  # Recover z0, z1 directions: zt0 = z0 / |z0| exactly at t = 0.
  np.testing.assert_allclose(np.linalg.norm(zt0, axis=1), 1, atol=1e-6)
  dz = np.tile((zt1 - zt0) @ m, 2)
  ref = np.sum((dz @ s) ** 2, axis=1) / 1e-4
  np.testing.assert_allclose(d, ref, rtol=1e-3)
  assert (np.asarray(d) > 0).all()


def test_bad_space_or_sampling():
  with pytest.raises(ValueError, match="space"):
    ppl.sample_distances(jax.random.key(0), mapping=None, synthesis=None,
                         distance=None, num=1, z_dim=1, space="x")
