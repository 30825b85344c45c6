"""The maths of style accuracy and within-style diversity."""

import numpy as np
import pytest
from scipy.spatial import distance

from stylegan_jax.metrics import style_accuracy


def test_per_class_accuracy_counts_each_class():
  labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
  predicted = np.array([0, 1, 0, 1, 1, 0, 2, 1, 2])
  got = style_accuracy.per_class_accuracy(predicted, labels, 4)
  np.testing.assert_array_equal(got[:3], [2 / 3, 1.0, 2 / 4])
  assert np.isnan(got[3])  # No image of class 3.


def test_mean_pairwise_distance_is_scipys_rms_pdist():
  x = np.random.default_rng(0).normal(size=(17, 12))
  want = np.mean(distance.pdist(x)) / np.sqrt(12)
  np.testing.assert_allclose(style_accuracy.mean_pairwise_distance(x), want,
                             rtol=1e-12)
  assert style_accuracy.mean_pairwise_distance(np.ones((5, 3))) == 0
  with pytest.raises(ValueError, match="2 or more"):
    style_accuracy.mean_pairwise_distance(x[:1])


def test_diversity_space_box_filters_to_16():
  rng = np.random.default_rng(1)
  x = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
  got = style_accuracy.diversity_space(x)
  f = x.astype(np.float64) / 127.5 - 1
  want = (f[:, 0::2, 0::2] + f[:, 1::2, 0::2] + f[:, 0::2, 1::2]
          + f[:, 1::2, 1::2]) / 4
  np.testing.assert_allclose(got, want.reshape(3, -1), rtol=0, atol=1e-12)
  small = x[:, :8, :8]  # Below 16 px the images are used as they are.
  np.testing.assert_allclose(style_accuracy.diversity_space(small),
                             (small / 127.5 - 1).reshape(3, -1))


def test_style_scores_keys_and_ratios():
  rng = np.random.default_rng(2)
  real = rng.integers(0, 256, (12, 16, 16, 3), dtype=np.uint8)
  real_labels = np.arange(12) % 2
  gen = real.copy()
  gen[real_labels == 1] = gen[1]  # Class 1: one image repeated.
  labels = real_labels
  predicted = np.where(np.arange(12) < 2, 1 - labels, labels)  # 2 wrong.
  out = style_accuracy.style_scores(predicted, labels, gen, real,
                                    real_labels, real_labels, ("a", "b"))
  assert out["style_acc/a"] == pytest.approx(5 / 6)
  assert out["style_acc/b"] == pytest.approx(5 / 6)
  assert out["style_acc/mean"] == out["style_acc/min"] == pytest.approx(5 / 6)
  assert out["style_div_ratio/a"] == pytest.approx(1.0)  # The same images.
  assert out["style_div/b"] == 0 and out["style_div_ratio/b"] == 0
  assert out["style_div_ratio/min"] == 0
  assert out["style_div_real/a"] == out["style_div/a"] > 0
  assert out["style_acc_real/mean"] == 1.0
  assert len(out) == 4 * 2 + 4  # Per class: acc, div, div_real, ratio.
