"""Inception Score against the plain NumPy formula."""

import numpy as np

from stylegan_jax.metrics import inception_score as is_lib


def _reference(logits, num_splits):
  e = np.exp(logits - logits.max(axis=1, keepdims=True))
  probs = e / e.sum(axis=1, keepdims=True)
  n, scores = len(probs), []
  for i in range(num_splits):
    part = probs[i * n // num_splits:(i + 1) * n // num_splits]
    kl = part * (np.log(part) - np.log(part.mean(axis=0, keepdims=True)))
    scores.append(np.exp(np.mean(np.sum(kl, axis=1))))
  return np.mean(scores), np.std(scores)


def test_matches_numpy_with_uneven_splits():
  logits = np.random.default_rng(0).normal(0, 3, size=(25, 1008))
  ours = is_lib.inception_score(logits, num_splits=10)  # parts of 2 and 3
  np.testing.assert_allclose(ours, _reference(logits, 10), rtol=1e-10)


def test_identical_predictions_score_one():
  logits = np.tile(np.random.default_rng(1).normal(size=(1, 1008)), (40, 1))
  mean, std = is_lib.inception_score(logits)
  np.testing.assert_allclose([mean, std], [1.0, 0.0], atol=1e-12)


def test_confident_distinct_classes_score_their_count():
  # Each part of 4 samples holds 4 different confident classes: p(y) is
  # uniform over them and each KL is log 4.
  logits = np.zeros((40, 1008))
  logits[np.arange(40), np.arange(40) % 4] = 60.0
  mean, std = is_lib.inception_score(logits)
  np.testing.assert_allclose([mean, std], [4.0, 0.0], atol=1e-9)
