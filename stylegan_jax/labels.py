"""Class labels: integer labels <-> one-hot `c`, and the label distribution.

Conditional networks take `c` as one-hot float32 `[N, c_dim]`; unconditional
ones take `[N, 0]` (or None). Fake labels during training are drawn from the
training set's own label distribution, as the official loop does.
"""

import numpy as np


def one_hot(labels, c_dim: int) -> np.ndarray:
  """int labels [N] -> float32 one-hot [N, c_dim] ([N, 0] if c_dim is 0)."""
  labels = np.asarray(labels)
  if not c_dim:
    return np.zeros((len(labels), 0), np.float32)
  if labels.size and (labels.min() < 0 or labels.max() >= c_dim):
    raise ValueError(f"labels must lie in [0, {c_dim}), got "
                     f"[{labels.min()}, {labels.max()}]")
  return np.eye(c_dim, dtype=np.float32)[labels]


def class_probs(label_counts, c_dim: int) -> np.ndarray:
  """Images per class -> float64 probabilities [c_dim] (uniform if unknown).

  Args:
    label_counts: int [c_dim] counts over the training set, or None.
    c_dim: number of classes (0 for unconditional: returns [0]).
  """
  if not c_dim:
    return np.zeros(0)
  counts = (np.ones(c_dim) if label_counts is None
            else np.asarray(label_counts, np.float64))
  if counts.shape != (c_dim,) or counts.sum() <= 0:
    counts = np.ones(c_dim)
  return counts / counts.sum()
