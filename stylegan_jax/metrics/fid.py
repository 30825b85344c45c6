"""Fréchet distance between two Gaussian fits of features (FID).

This module owns the maths of FID (Heusel et al. 2017) on feature arrays,
exactly as pytorch-fid's `calculate_frechet_distance` computes it:

  d^2 = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr(sqrtm(S_a S_b)),

with the mean and `np.cov(rowvar=False)` of each set in float64, SciPy's
`sqrtm` of the (non-symmetric) covariance product, a retry with 1e-6 added
to both diagonals when the square root is not finite (a singular product),
and the imaginary part of the square root dropped when its diagonal is
within 1e-3 of zero (else an error). `frechet_distance_low_rank` gives the
same distance exactly and fast when one set has fewer samples than
dimensions (small evaluations), where `sqrtm` is both slow and ill posed.
The features come from `features.inception` (pool3, [N, 2048]); nothing
here knows the network.
"""

import numpy as np
import scipy.linalg


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean and covariance of a feature set, in float64.

  Args:
    features: [N, D], N >= 2.

  Returns:
    (mu [D], sigma [D, D]) = (mean over N, `np.cov(rowvar=False)`).
  """
  features = np.asarray(features, np.float64)
  if features.ndim != 2 or features.shape[0] < 2:
    raise ValueError(f"FID statistics need [N, D] features with N >= 2, got "
                     f"shape {features.shape}")
  return np.mean(features, axis=0), np.cov(features, rowvar=False)


def matrix_sqrt(a: np.ndarray) -> np.ndarray:
  """SciPy's principal square root of a square matrix (maybe complex).

  Args:
    a: [D, D].

  Returns:
    [D, D] X with X @ X = a; complex when `a` needs it (or for rounding).
  """
  return scipy.linalg.sqrtm(np.asarray(a, np.float64))


def frechet_distance(mu_a: np.ndarray, sigma_a: np.ndarray, mu_b: np.ndarray,
                     sigma_b: np.ndarray, eps: float = 1e-6) -> float:
  """pytorch-fid's Fréchet distance of two Gaussians.

  Args:
    mu_a, mu_b: [D] means.
    sigma_a, sigma_b: [D, D] covariances.
    eps: added to both diagonals when sqrtm(S_a S_b) is not finite.

  Returns:
    The squared Fréchet distance (what is reported as FID).

  Raises:
    ValueError: mismatched shapes, or a square root with a large imaginary
      part (more than 1e-3 on its diagonal).
  """
  mu_a, mu_b = np.atleast_1d(mu_a), np.atleast_1d(mu_b)
  sigma_a, sigma_b = np.atleast_2d(sigma_a), np.atleast_2d(sigma_b)
  if mu_a.shape != mu_b.shape or sigma_a.shape != sigma_b.shape:
    raise ValueError(f"FID statistics differ in shape: means {mu_a.shape} vs "
                     f"{mu_b.shape}, covariances {sigma_a.shape} vs "
                     f"{sigma_b.shape}")
  diff = mu_a - mu_b
  covmean = matrix_sqrt(sigma_a.dot(sigma_b))
  if not np.isfinite(covmean).all():
    offset = np.eye(sigma_a.shape[0]) * eps
    covmean = matrix_sqrt((sigma_a + offset).dot(sigma_b + offset))
  if np.iscomplexobj(covmean):
    if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
      raise ValueError(
          "FID: the covariance product's square root has an imaginary part "
          f"of {np.max(np.abs(covmean.imag)):.3g}; use more samples")
    covmean = covmean.real
  return float(diff.dot(diff) + np.trace(sigma_a) + np.trace(sigma_b)
               - 2 * np.trace(covmean))


def fid_from_features(features_a: np.ndarray,
                      features_b: np.ndarray) -> float:
  """FID of two feature sets: `frechet_distance` of their statistics.

  Args:
    features_a, features_b: [N_a, D], [N_b, D].

  Returns:
    The FID (float).
  """
  return frechet_distance(*feature_statistics(features_a),
                          *feature_statistics(features_b))



def frechet_distance_low_rank(features_a: np.ndarray,
                              features_b: np.ndarray) -> float:
  """FID of two feature sets without any [D, D] matrix (for small sets).

  With X = (features - mean) / sqrt(N - 1) for each set, sigma = X^T X, so
  tr(sigma) = |X|_F^2, and tr(sqrtm(sigma_a sigma_b)) is the nuclear norm
  (the sum of the singular values) of the [N_a, N_b] matrix X_a X_b^T:

    d^2 = |mu_a - mu_b|^2 + |X_a|_F^2 + |X_b|_F^2 - 2 |X_a X_b^T|_*.

  Exact (no 1e-6 diagonal offset, no square roots of rounding noise) and
  O(N_a N_b D), so it replaces `frechet_distance`'s O(D^3) `sqrtm` (minutes
  for D = 2048 on a small CPU) whenever one set has fewer samples than
  dimensions; with both sets large the [N_a, N_b] matrix is the wrong way
  round. Where `sqrtm` is well conditioned the two agree to rounding.

  Args:
    features_a: [N_a, D], N_a >= 2.
    features_b: [N_b, D], N_b >= 2.

  Returns:
    The squared Fréchet distance.
  """
  a = np.asarray(features_a, np.float64)
  b = np.asarray(features_b, np.float64)
  if (a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]
      or min(len(a), len(b)) < 2):
    raise ValueError(f"FID needs two [N, D] feature sets with one D and "
                     f"N >= 2, got {a.shape} and {b.shape}")
  mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
  x_a = (a - mu_a) / np.sqrt(len(a) - 1)  # [N_a, D]
  x_b = (b - mu_b) / np.sqrt(len(b) - 1)  # [N_b, D]
  nuclear = np.sum(np.linalg.svd(x_a @ x_b.T, compute_uv=False))
  diff = mu_a - mu_b
  return float(diff.dot(diff) + np.sum(x_a * x_a) + np.sum(x_b * x_b)
               - 2 * nuclear)
