"""Kernel Inception Distance (Bińkowski et al. 2018) on feature arrays.

This module owns KID as StyleGAN2-ADA reports it: the unbiased estimate of
the squared MMD with the cubic polynomial kernel k(x, y) = (x.y / D + 1)^3,
averaged over `num_subsets` random subsets of m = min(N_real, N_gen,
`max_subset_size`) samples drawn without replacement from each set. For one
subset pair (x generated, y real):

  MMD^2_u = [sum_{i != j} k(x_i, x_j) + k(y_i, y_j)] / (m (m - 1))
            - 2 sum_{i, j} k(x_i, y_j) / m^2.

Computed in float64 with NumPy (the official code uses float32); the subsets
come from `np.random.default_rng(seed)`, so a seed reproduces the value.
"""

import numpy as np


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
  """Unbiased MMD^2 of two equally sized sets, cubic polynomial kernel.

  Args:
    x, y: [m, D] each, m >= 2.

  Returns:
    The estimate (may be slightly negative for close distributions).
  """
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  m, dim = x.shape
  if y.shape != x.shape or m < 2:
    raise ValueError(f"MMD needs two [m, D] sets of one shape, m >= 2; got "
                     f"{x.shape} and {y.shape}")
  a = (x @ x.T / dim + 1) ** 3 + (y @ y.T / dim + 1) ** 3  # [m, m]
  b = (x @ y.T / dim + 1) ** 3  # [m, m]
  return float((a.sum() - np.diag(a).sum()) / (m * (m - 1))
               - b.sum() * 2 / m**2)


def kid(real_features: np.ndarray, gen_features: np.ndarray, *,
        num_subsets: int = 100, max_subset_size: int = 1000,
        seed: int = 0) -> float:
  """KID: the mean of `mmd2_unbiased` over random subsets.

  Args:
    real_features: [N_real, D].
    gen_features: [N_gen, D].
    num_subsets: subsets drawn (StyleGAN2-ADA: 100).
    max_subset_size: largest subset (StyleGAN2-ADA: 1000).
    seed: seeds the subset draws.

  Returns:
    KID (float; StyleGAN2-ADA logs this value, not x1e3).
  """
  real_features = np.asarray(real_features, np.float64)
  gen_features = np.asarray(gen_features, np.float64)
  if (real_features.ndim != 2 or gen_features.ndim != 2
      or real_features.shape[1] != gen_features.shape[1]):
    raise ValueError(f"KID needs [N, D] feature sets with one D, got "
                     f"{real_features.shape} and {gen_features.shape}")
  m = min(real_features.shape[0], gen_features.shape[0], max_subset_size)
  if m < 2:
    raise ValueError(f"KID needs at least 2 samples per set, got {m}")
  rng = np.random.default_rng(seed)
  total = 0.0
  for _ in range(num_subsets):
    x = gen_features[rng.choice(gen_features.shape[0], m, replace=False)]
    y = real_features[rng.choice(real_features.shape[0], m, replace=False)]
    total += mmd2_unbiased(x, y)
  return total / num_subsets
