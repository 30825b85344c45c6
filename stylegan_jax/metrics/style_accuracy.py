"""Style accuracy and within-style diversity: the maths of `style_acc`.

Given a classifier's predicted styles for generated images and their
requested styles, `per_class_accuracy` is the fraction of each style's
images classified as that style. Diversity is the mean pairwise distance
between the images of one style (`mean_pairwise_distance`), measured in
`diversity_space`: the images box-downsampled to at most 16x16 pixels, in
[-1, 1], the distance being the root-mean-square pixel difference (0 for
identical images, 2 at most). That space is chosen because

* it is independent of the classifier, which is trained to ignore what
  varies within a style and so would see little diversity anywhere;
* downsampling keeps the layout and colours that make two paintings of
  one style differ and drops pixel noise and small artefacts, which would
  otherwise count as diversity;
* it is exact and cheap, and the same for generated and real images, so
  "generated diversity / real diversity" is a meaningful ratio (1: as
  varied as the data; 0: one image per style, mode collapse).

NumPy only.
"""

from collections.abc import Sequence

import numpy as np

DIVERSITY_RESOLUTION = 16  # Side of the diversity space's images (at most).


def per_class_accuracy(predicted: np.ndarray, labels: np.ndarray,
                       num_classes: int) -> np.ndarray:
  """Fraction of each class's images predicted as that class.

  Args:
    predicted: int [N] predicted classes.
    labels: int [N] true (requested) classes.
    num_classes: K.

  Returns:
    float64 [K]; NaN for a class with no image.
  """
  predicted, labels = np.asarray(predicted), np.asarray(labels)
  total = np.bincount(labels, minlength=num_classes).astype(np.float64)
  right = np.bincount(labels[predicted == labels], minlength=num_classes)
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(total > 0, right / total, np.nan)


def diversity_space(images: np.ndarray) -> np.ndarray:
  """uint8 images -> the diversity space's vectors (see the module).

  Args:
    images: uint8 [N, H, W, C], H = W.

  Returns:
    float64 [N, h * w * C] in [-1, 1], h = w = min(H, 16) (box filter
    when H is a multiple of 16; H itself below 16).
  """
  x = np.asarray(images, np.float64) / 127.5 - 1  # [N, H, W, C]
  n, size = x.shape[0], x.shape[1]
  if size > DIVERSITY_RESOLUTION:
    if size % DIVERSITY_RESOLUTION:
      raise ValueError(f"the diversity space box-filters {size} px images to "
                       f"{DIVERSITY_RESOLUTION}; {size} is not a multiple")
    f = size // DIVERSITY_RESOLUTION
    x = x.reshape(n, DIVERSITY_RESOLUTION, f, DIVERSITY_RESOLUTION, f,
                  x.shape[-1]).mean(axis=(2, 4))  # [N, 16, 16, C]
  return x.reshape(n, -1)


def mean_pairwise_distance(x: np.ndarray) -> float:
  """Mean over pairs i < j of the RMS difference of rows x_i and x_j.

  Args:
    x: [N, D], N >= 2.

  Returns:
    mean_{i<j} sqrt(mean_d (x_i - x_j)^2).
  """
  x = np.asarray(x, np.float64)
  if len(x) < 2:
    raise ValueError(f"a pairwise distance needs 2 or more rows, got {len(x)}")
  # Row by row, differences taken exactly (identical rows give 0, which the
  # expanded |a|^2 + |b|^2 - 2ab would not).
  total = sum(np.sum(np.sqrt(np.mean((x[i + 1:] - x[i])**2, axis=1)))
              for i in range(len(x) - 1))
  return float(total / (len(x) * (len(x) - 1) / 2))


def per_class_diversity(images: np.ndarray, labels: np.ndarray,
                        num_classes: int) -> np.ndarray:
  """Mean pairwise distance in the diversity space within each class.

  Args:
    images: uint8 [N, H, W, C].
    labels: int [N].
    num_classes: K.

  Returns:
    float64 [K]; NaN for a class with fewer than 2 images.
  """
  x, labels = diversity_space(images), np.asarray(labels)
  out = np.full(num_classes, np.nan)
  for k in range(num_classes):
    if np.sum(labels == k) >= 2:
      out[k] = mean_pairwise_distance(x[labels == k])
  return out


def style_scores(predicted: np.ndarray, labels: np.ndarray,
                 gen_images: np.ndarray, real_images: np.ndarray,
                 real_labels: np.ndarray, real_predicted: np.ndarray,
                 names: Sequence[str]) -> dict[str, float]:
  """The `style_acc` results from predictions and images.

  Args:
    predicted: int [N] the classifier's styles for the generated images.
    labels: int [N] the styles the generator was asked for.
    gen_images: uint8 [N, H, W, C] generated images.
    real_images: uint8 [M, H, W, C] real images.
    real_labels: int [M] their styles.
    real_predicted: int [M] the classifier's styles for them.
    names: the K style names.

  Returns:
    'style_acc/<name>' (fraction of generated images of that style that the
    classifier recognises), 'style_acc/mean', 'style_acc/min';
    'style_div/<name>' (generated diversity), 'style_div_real/<name>',
    'style_div_ratio/<name>' (generated / real) and 'style_div_ratio/min';
    'style_acc_real/mean' (the classifier's accuracy on the real images: a
    sanity check of the metric itself).
  """
  k = len(names)
  acc = per_class_accuracy(predicted, labels, k)
  div = per_class_diversity(gen_images, labels, k)
  div_real = per_class_diversity(real_images, real_labels, k)
  with np.errstate(invalid="ignore", divide="ignore"):
    ratio = div / div_real
  out = {f"style_acc/{n}": a for n, a in zip(names, acc)}
  out["style_acc/mean"] = float(np.mean(acc))
  out["style_acc/min"] = float(np.min(acc))
  out.update({f"style_div/{n}": d for n, d in zip(names, div)})
  out.update({f"style_div_real/{n}": d for n, d in zip(names, div_real)})
  out.update({f"style_div_ratio/{n}": r for n, r in zip(names, ratio)})
  out["style_div_ratio/min"] = float(np.min(ratio))
  out["style_acc_real/mean"] = float(np.mean(
      np.asarray(real_predicted) == np.asarray(real_labels)))
  return {key: float(v) for key, v in out.items()}
