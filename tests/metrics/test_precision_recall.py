"""Improved precision/recall against a brute-force SciPy reference."""

import numpy as np
from scipy.spatial import distance

from stylegan_jax.metrics import precision_recall as pr


def _reference(real, gen, k=3):
  def radii(x):
    return np.sort(distance.cdist(x, x), axis=1)[:, k]  # self is column 0

  def covered(probes, manifold):
    d = distance.cdist(probes, manifold)
    return np.mean((d <= radii(manifold)[None]).any(axis=1))

  return covered(gen, real), covered(real, gen)


def test_matches_brute_force():
  rng = np.random.default_rng(0)
  real = rng.normal(size=(120, 16)).astype(np.float32)
  gen = rng.normal(0.4, 1.3, size=(90, 16)).astype(np.float32)
  precision, recall = pr.precision_recall(real, gen, row_batch_size=32)
  ref_p, ref_r = _reference(real.astype(np.float64), gen.astype(np.float64))
  assert 0 < ref_p < 1 and 0 < ref_r < 1
  assert (precision, recall) == (ref_p, ref_r)


def test_batching_does_not_change_the_result():
  rng = np.random.default_rng(1)
  real, gen = rng.normal(size=(50, 8)), rng.normal(0.5, 1, size=(40, 8))
  assert pr.precision_recall(real, gen, row_batch_size=7) == (
      pr.precision_recall(real, gen, row_batch_size=1000))


def test_knn_radii_count_the_sample_itself():
  x = np.array([[0.0], [1.0], [3.0], [7.0], [15.0]])
  # k = 2: the 3rd smallest distance of each row, self (0) included.
  np.testing.assert_allclose(pr.knn_radii(x, k=2), [3, 2, 3, 6, 12])


def test_identical_sets_give_one_and_far_sets_zero():
  x = np.random.default_rng(2).normal(size=(64, 32)) * 10
  assert pr.precision_recall(x, x) == (1.0, 1.0)
  assert pr.precision_recall(x, x + 1000) == (0.0, 0.0)
