"""KID: the unbiased cubic-kernel MMD against loop references."""

import numpy as np

from stylegan_jax.metrics import kid


def _kernel(a, b):
  return (np.dot(a, b) / a.shape[0] + 1) ** 3


def _mmd2_loops(x, y):
  m = len(x)
  kxx = sum(_kernel(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
  kyy = sum(_kernel(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
  kxy = sum(_kernel(x[i], y[j]) for i in range(m) for j in range(m))
  return (kxx + kyy) / (m * (m - 1)) - 2 * kxy / m**2


def test_mmd2_matches_loops():
  rng = np.random.default_rng(0)
  x, y = rng.normal(size=(6, 4)), rng.normal(1, 2, size=(6, 4))
  np.testing.assert_allclose(kid.mmd2_unbiased(x, y), _mmd2_loops(x, y),
                             rtol=1e-12)


def test_kid_is_the_mean_over_official_subsets():
  # Official order per subset: generated rows first, then real rows, each
  # drawn without replacement; m = min(N_real, N_gen, max_subset_size).
  rng = np.random.default_rng(1)
  real, gen = rng.normal(size=(30, 5)), rng.normal(0.3, 1, size=(25, 5))
  draws = np.random.default_rng(7)
  ref = []
  for _ in range(4):
    x = gen[draws.choice(25, 10, replace=False)]
    y = real[draws.choice(30, 10, replace=False)]
    ref.append(_mmd2_loops(x, y))
  value = kid.kid(real, gen, num_subsets=4, max_subset_size=10, seed=7)
  np.testing.assert_allclose(value, np.mean(ref), rtol=1e-12)


def test_identical_sets_give_about_zero():
  # With m = N every subset is the whole set; the unbiased estimate of two
  # copies of one sample is 2 (S / m - T) / (m (m - 1)) (S: kernel sum, T:
  # its trace), O(1 / m): tiny next to KID between shifted sets.
  m = 200
  x = np.random.default_rng(2).normal(size=(m, 8))
  k = (x @ x.T / 8 + 1) ** 3
  expected = 2 * (k.sum() / m - np.trace(k)) / (m * (m - 1))
  same = kid.kid(x, x, num_subsets=3)
  np.testing.assert_allclose(same, expected, rtol=1e-10)
  shifted = kid.kid(x, x + 1, num_subsets=3)
  assert abs(same) < 0.02 * shifted
