"""Fréchet distance: the pytorch-fid fixture value and NumPy references."""

import numpy as np
import pytest

from stylegan_jax.metrics import fid
from tests import reference


def _spd(rng, d):
  a = rng.normal(size=(d, d))
  return a @ a.T + 0.1 * np.eye(d)


def _sqrt_psd(s):
  w, v = np.linalg.eigh(s)
  return (v * np.sqrt(np.maximum(w, 0))) @ v.T


def test_fixture_value_from_features():
  path = reference.require(reference.reference_dir()
                           / "fid_inception_ternary_expected.npz")
  with np.load(path) as f:
    value = fid.fid_from_features(f["fid/feats_a"], f["fid/feats_b"])
    expected = float(f["fid/value"])
  assert abs(value - expected) <= 1e-6 * abs(expected)


def test_matrix_sqrt_of_a_covariance_product():
  # For SPD A, B: sqrt(A B) = A^1/2 (A^1/2 B A^1/2)^1/2 A^-1/2 (the
  # principal root: A B is similar to an SPD matrix).
  rng = np.random.default_rng(0)
  a, b = _spd(rng, 6), _spd(rng, 6)
  ra = _sqrt_psd(a)
  ref = ra @ _sqrt_psd(ra @ b @ ra) @ np.linalg.inv(ra)
  ours = fid.matrix_sqrt(a @ b)
  np.testing.assert_allclose(np.real(ours), ref, rtol=1e-8, atol=1e-10)
  np.testing.assert_allclose(np.imag(ours), 0, atol=1e-10)


def test_diagonal_gaussians_closed_form():
  rng = np.random.default_rng(1)
  mu_a, mu_b = rng.normal(size=5), rng.normal(size=5)
  var_a, var_b = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
  ref = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a)
                                             - np.sqrt(var_b)) ** 2)
  value = fid.frechet_distance(mu_a, np.diag(var_a), mu_b, np.diag(var_b))
  np.testing.assert_allclose(value, ref, rtol=1e-10)


def test_statistics_are_mean_and_sample_covariance():
  x = np.random.default_rng(2).normal(size=(40, 3))
  mu, sigma = fid.feature_statistics(x)
  centred = x - x.sum(0) / 40
  np.testing.assert_allclose(mu, x.sum(0) / 40, rtol=1e-12)
  np.testing.assert_allclose(sigma, centred.T @ centred / 39, rtol=1e-12)


def test_identical_sets_give_zero():
  x = np.random.default_rng(3).normal(size=(300, 16)) * 3 + 1
  value = fid.fid_from_features(x, x)
  trace = np.trace(np.cov(x, rowvar=False))
  assert abs(value) <= 1e-10 * trace


def test_singular_product_retries_with_offset(monkeypatch):
  rng = np.random.default_rng(4)
  sa, sb = _spd(rng, 3), _spd(rng, 3)
  seen = []
  real_sqrt = fid.matrix_sqrt

  def flaky_sqrt(m):
    seen.append(m)
    return np.full_like(m, np.inf) if len(seen) == 1 else real_sqrt(m)

  monkeypatch.setattr(fid, "matrix_sqrt", flaky_sqrt)
  value = fid.frechet_distance(np.zeros(3), sa, np.ones(3), sb, eps=1e-2)
  offset = 1e-2 * np.eye(3)
  np.testing.assert_allclose(seen[1], (sa + offset) @ (sb + offset))
  covmean = np.real(real_sqrt((sa + offset) @ (sb + offset)))
  ref = 3 + np.trace(sa) + np.trace(sb) - 2 * np.trace(covmean)
  np.testing.assert_allclose(value, ref, rtol=1e-12)


def test_rank_deficient_covariances_stay_finite():
  # Fewer samples than dimensions: singular covariances, as with small N.
  rng = np.random.default_rng(5)
  value = fid.fid_from_features(rng.normal(size=(5, 8)),
                                rng.normal(size=(5, 8)) + 1)
  assert np.isfinite(value) and value > 0


def test_large_imaginary_part_is_an_error():
  with pytest.raises(ValueError, match="imaginary"):
    fid.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2),
                         np.diag([-1.0, 1.0]))


def test_shape_mismatch_is_an_error():
  with pytest.raises(ValueError, match="shape"):
    fid.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))



def test_low_rank_form_matches_pytorch_fid_and_the_fixture():
  # Well conditioned (N > D for both): the same number as SciPy's sqrtm.
  rng = np.random.default_rng(6)
  a = rng.normal(size=(200, 12)) @ rng.normal(size=(12, 12))
  b = rng.normal(size=(150, 12)) * 2 + 0.5
  np.testing.assert_allclose(fid.frechet_distance_low_rank(a, b),
                             fid.fid_from_features(a, b), rtol=1e-10)
  path = reference.require(reference.reference_dir()
                           / "fid_inception_ternary_expected.npz")
  with np.load(path) as f:
    value = fid.frechet_distance_low_rank(f["fid/feats_a"], f["fid/feats_b"])
    expected = float(f["fid/value"])
  assert abs(value - expected) <= 1e-6 * abs(expected)


def test_low_rank_form_with_fewer_samples_than_dimensions():
  # N_b = 5 < D = 16, so sigma_b has rank 4 and sqrtm(sigma_a sigma_b) is
  # singular. Reference: the symmetric form tr sqrt(R sigma_b R) with
  # R = sigma_a^1/2 (sigma_a is well conditioned), by eigendecomposition.
  rng = np.random.default_rng(7)
  a = rng.normal(size=(400, 16)) @ (np.eye(16) + 0.3 * rng.normal(
      size=(16, 16)))
  b = rng.normal(size=(5, 16)) + 3
  mu_a, sigma_a = fid.feature_statistics(a)
  mu_b, sigma_b = fid.feature_statistics(b)
  r = _sqrt_psd(sigma_a)
  trace_sqrt = np.trace(_sqrt_psd(r @ sigma_b @ r))
  ref = (np.sum((mu_a - mu_b) ** 2) + np.trace(sigma_a) + np.trace(sigma_b)
         - 2 * trace_sqrt)
  np.testing.assert_allclose(fid.frechet_distance_low_rank(a, b), ref,
                             rtol=1e-8)
  np.testing.assert_allclose(fid.frechet_distance_low_rank(b, a), ref,
                             rtol=1e-8)
  # Identical small sets score 0 to rounding.
  assert abs(fid.frechet_distance_low_rank(b, b)) <= 1e-12 * np.trace(sigma_b)
  with pytest.raises(ValueError, match="N >= 2"):
    fid.frechet_distance_low_rank(b[:1], a)
