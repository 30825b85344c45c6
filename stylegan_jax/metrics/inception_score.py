"""Inception Score (Salimans et al. 2016) from Inception logits.

This module owns IS as StyleGAN2-ADA computes it: class probabilities p(y|x)
are the softmax over all 1008 logits of the FID Inception
(`features.inception`, 'logits'); the samples are cut into `num_splits`
consecutive parts (part i = rows [i N // s, (i + 1) N // s)); each part
scores exp(mean_x KL(p(y|x) || p(y))) with p(y) the part's mean
probability; IS is the mean and the (population) standard deviation of the
part scores. Computed in float64 with log-softmax, so classes whose
probability underflows contribute 0 rather than NaN.
"""

import numpy as np
import scipy.special


def inception_score(logits: np.ndarray,
                    num_splits: int = 10) -> tuple[float, float]:
  """Mean and std of the Inception Score over splits.

  Args:
    logits: [N, num_classes] (1008 for the FID Inception), N >= num_splits.
    num_splits: parts (StyleGAN2-ADA: 10).

  Returns:
    (mean, std) of exp(mean KL) over the parts.
  """
  logits = np.asarray(logits, np.float64)
  n = logits.shape[0] if logits.ndim == 2 else 0
  if logits.ndim != 2 or n < num_splits or num_splits < 1:
    raise ValueError(f"IS needs [N, classes] logits with N >= num_splits = "
                     f"{num_splits}, got shape {logits.shape}")
  log_probs = scipy.special.log_softmax(logits, axis=1)  # [N, classes]
  scores = []
  for i in range(num_splits):
    part = log_probs[i * n // num_splits:(i + 1) * n // num_splits]
    log_marginal = scipy.special.logsumexp(part, axis=0) - np.log(len(part))
    kl = np.sum(np.exp(part) * (part - log_marginal), axis=1)  # [part]
    scores.append(np.exp(np.mean(kl)))
  return float(np.mean(scores)), float(np.std(scores))
