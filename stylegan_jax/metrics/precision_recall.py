"""Improved precision and recall (Kynkäänniemi et al. 2019) on features.

This module owns the k-NN manifold estimate of precision and recall as
StyleGAN2-ADA computes it on VGG16 fc2 features (`features.vgg.fc2`):

* radii: for each sample of a set, the distance to its k-th nearest
  neighbour within the same set, the sample itself included as the
  nearest (distance 0), i.e. the (k + 1)-th smallest distance of its row;
* precision: the fraction of generated samples that lie inside (distance
  <= radius) the ball of at least one real sample; recall: the fraction of
  real samples inside the ball of at least one generated sample.

Identical sets therefore give precision = recall = 1. Distances are
Euclidean, computed as sqrt(max(|a|^2 - 2 a.b + |b|^2, 0)) (what
`torch.cdist` does for large sets) in float32 at full matmul precision, in
row batches so that memory stays at one [row_batch_size, N] block; the
official code stores features and radii in float16, which this does not.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

HIGHEST = jax.lax.Precision.HIGHEST


@jax.jit
def _distances(rows: jax.Array, cols: jax.Array) -> jax.Array:
  """[R, D], [C, D] -> [R, C] Euclidean distances."""
  sq = (jnp.sum(jnp.square(rows), axis=1)[:, None]
        + jnp.sum(jnp.square(cols), axis=1)[None, :]
        - 2 * jnp.dot(rows, cols.T, precision=HIGHEST))  # [R, C]
  return jnp.sqrt(jnp.maximum(sq, 0))


@functools.partial(jax.jit, static_argnames="k")
def _kth_smallest(rows: jax.Array, cols: jax.Array, k: int) -> jax.Array:
  """[R] k-th smallest distance (1-based) from each row to `cols`."""
  neg_smallest, _ = jax.lax.top_k(-_distances(rows, cols), k)  # [R, k]
  return -neg_smallest[:, k - 1]


@jax.jit
def _inside_any(rows: jax.Array, cols: jax.Array,
                radii: jax.Array) -> jax.Array:
  """[R] bool: row within radii[j] of some cols[j]."""
  return jnp.any(_distances(rows, cols) <= radii[None, :], axis=1)


def _by_row_batches(fn, rows: jax.Array, row_batch_size: int) -> np.ndarray:
  """fn over row blocks of one shape (the last one padded), concatenated."""
  n = rows.shape[0]
  size = min(row_batch_size, n)
  out = []
  for start in range(0, n, size):
    block = rows[start:start + size]  # [<= size, D]
    valid = block.shape[0]
    if valid < size:  # Pad so that every block reuses one compilation.
      block = jnp.pad(block, ((0, size - valid), (0, 0)))
    out.append(np.asarray(fn(block))[:valid])
  return np.concatenate(out)


def knn_radii(features: jax.Array | np.ndarray, k: int = 3,
              row_batch_size: int = 1024) -> np.ndarray:
  """Distance of each sample to its k-th nearest neighbour in its own set.

  Args:
    features: [N, D], N > k.
    k: neighbourhood size (the sample itself is not counted).
    row_batch_size: rows per distance block.

  Returns:
    [N] float32.
  """
  features = jnp.asarray(features, jnp.float32)
  if features.ndim != 2 or features.shape[0] <= k:
    raise ValueError(f"k-NN radii need [N, D] features with N > k = {k}, "
                     f"got shape {tuple(features.shape)}")
  return _by_row_batches(lambda rows: _kth_smallest(rows, features, k + 1),
                         features, row_batch_size)


def coverage(probes: jax.Array | np.ndarray, manifold: jax.Array | np.ndarray,
             radii: np.ndarray, row_batch_size: int = 1024) -> float:
  """Fraction of `probes` inside at least one ball (manifold[j], radii[j]).

  Args:
    probes: [M, D].
    manifold: [N, D].
    radii: [N], from `knn_radii(manifold)`.
    row_batch_size: probes per distance block.

  Returns:
    A float in [0, 1].
  """
  probes = jnp.asarray(probes, jnp.float32)
  manifold = jnp.asarray(manifold, jnp.float32)
  radii = jnp.asarray(radii, jnp.float32)
  inside = _by_row_batches(lambda rows: _inside_any(rows, manifold, radii),
                           probes, row_batch_size)
  return float(np.mean(inside))


def precision_recall(real_features: jax.Array | np.ndarray,
                     gen_features: jax.Array | np.ndarray, *, k: int = 3,
                     row_batch_size: int = 1024) -> tuple[float, float]:
  """Improved precision and recall of generated vs real features.

  Args:
    real_features: [N_real, D].
    gen_features: [N_gen, D].
    k: neighbourhood size (StyleGAN2-ADA: 3).
    row_batch_size: rows per [rows, N] distance block.

  Returns:
    (precision, recall).
  """
  real = jnp.asarray(real_features, jnp.float32)
  gen = jnp.asarray(gen_features, jnp.float32)
  if real.ndim != 2 or gen.ndim != 2 or real.shape[1] != gen.shape[1]:
    raise ValueError(f"precision/recall need [N, D] feature sets with one D, "
                     f"got {tuple(real.shape)} and {tuple(gen.shape)}")
  precision = coverage(gen, real, knn_radii(real, k, row_batch_size),
                       row_batch_size)
  recall = coverage(real, gen, knn_radii(gen, k, row_batch_size),
                    row_batch_size)
  return precision, recall
