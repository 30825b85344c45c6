"""Gram matrices and the content/style losses of neural style transfer.

This module owns the losses of Gatys et al. (2016) as the PyTorch
neural-style tutorial computes them on VGG19 conv activations
(`features.vgg`): the content loss is the mean squared difference of two
activations; the style loss the mean squared difference of their Gram
matrices, with `gram(f) = F F^T / (a b c d)` where `F` is the activation in
NCHW order, [a, b, c, d], viewed as [a * b, c * d] (so a batch of a > 1
images gives one [a b, a b] matrix, as the tutorial's `view` does).
The tutorial's total is `1e6 * sum(style losses) + 1 * content loss`.
"""

import jax
import jax.numpy as jnp

from stylegan_jax.features import layers


def gram_matrix(f: jax.Array) -> jax.Array:
  """The tutorial's normalised Gram matrix.

  Args:
    f: [N, H, W, C] activations (NHWC; read as NCHW [a, b, c, d] =
      [N, C, H, W]).

  Returns:
    [N * C, N * C]: F F^T / (N C H W) with F = f as [N * C, H * W].
  """
  a, c, d, b = f.shape
  flat = jnp.transpose(f, (0, 3, 1, 2)).reshape(a * b, c * d)  # [a b, c d]
  gram = jnp.dot(flat, flat.T, precision=layers.HIGHEST)  # [a b, a b]
  return gram / (a * b * c * d)


def content_loss(f: jax.Array, target: jax.Array) -> jax.Array:
  """Mean squared difference of two activations (`F.mse_loss`); scalar."""
  return jnp.mean(jnp.square(f - target))


def style_loss(f: jax.Array, target_gram: jax.Array) -> jax.Array:
  """Mean squared difference of `gram_matrix(f)` and a target Gram; scalar."""
  return jnp.mean(jnp.square(gram_matrix(f) - target_gram))
