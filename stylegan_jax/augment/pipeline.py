"""The ADA augmentation pipeline: `augment(images, key, p, pipe)`.

Stages, in the paper's order: geometric (pixel blitting, then one resampling
per sample), colour (one matrix per sample), image-space filtering, additive
noise, cutout. A stage runs when the pipe has any of its operations on;
inside it every sample gets its own random parameters, and operations that
do not fire on a sample contribute the identity. Everything is traced JAX:
jit-able, shardable along the batch, and differentiable w.r.t. the images in
reverse mode (`grad`, `vjp`, and a gradient of a gradient for R1; the
resampler's filters have a hand-written backward pass, so forward mode,
`jvp` or `jacfwd`, raises). `p = 0` skips the whole pipeline through
`lax.cond`, so the images come back bit for bit at no cost.
"""

from collections.abc import Mapping

import jax
import jax.numpy as jnp

from stylegan_jax.augment import color
from stylegan_jax.augment import corruptions
from stylegan_jax.augment import geometric
from stylegan_jax.augment import imgfilter
from stylegan_jax.augment import params as params_lib
from stylegan_jax.augment import specs

Pipe = str | Mapping[str, float] | specs.AugmentSpec
_MIN_SIZE = 8


def check_images(images: jax.Array) -> tuple[int, int, int, int]:
  """Returns (N, H, W, C), or raises ValueError saying what is wrong."""
  if images.ndim != 4:
    raise ValueError("augment expects images [N, H, W, C], got shape "
                     f"{tuple(images.shape)}")
  n, h, w, c = images.shape
  if c not in (1, 3):
    raise ValueError("augment expects RGB (C = 3) or grey (C = 1) images "
                     f"in NHWC layout, got C = {c} (shape {images.shape})")
  if h != w or h < _MIN_SIZE:
    raise ValueError(f"augment needs square images of at least {_MIN_SIZE}x"
                     f"{_MIN_SIZE} pixels, got {h}x{w}")
  if not jnp.issubdtype(images.dtype, jnp.floating):
    raise ValueError("augment expects float images in [-1, 1], got dtype "
                     f"{images.dtype}")
  return n, h, w, c


def apply_params(
    images: jax.Array,
    params: params_lib.Params,
    spec: specs.AugmentSpec,
    key: jax.Array,
) -> jax.Array:
  """Runs the pipeline's stages with given per-sample parameters.

  Args:
    images: [N, H, W, C] float, C in {1, 3}.
    params: from `params.sample_params(..., spec, num_channels=C)`.
    spec: the pipeline the parameters were drawn for.
    key: PRNG key for the noise field (unused without `noise`).

  Returns:
    Augmented images [N, H, W, C], same dtype.
  """
  _, h, w, c = check_images(images)
  ops = params_lib.active_ops(spec, c)
  x = images.astype(jnp.float32)
  if any(op in specs.BLIT_OPS for op in ops):
    x = geometric.apply_blit(x, geometric.blit_matrix(params, h))
  if any(op in specs.GENERAL_OPS for op in ops):
    x = geometric.apply_resample(x, geometric.general_matrix(params, h, w))
  if any(op in specs.COLOR_OPS for op in ops):
    x = color.apply_color(x, color.color_matrix(params))
  if "imgfilter" in ops:
    x = imgfilter.apply_filter(x, imgfilter.filter_taps(params))
  if "noise" in ops:
    sigma = params_lib.effective(params, "noise")  # [N]
    x = corruptions.apply_noise(x, sigma, key)
  if "cutout" in ops:
    center, applied = params["cutout"]
    size = jnp.where(applied, spec.cutout_size, 0.0)  # [N]
    x = x * corruptions.cutout_mask(center, size, h, w)
  return x.astype(images.dtype)


def augment(
    images: jax.Array,
    key: jax.Array,
    p: jax.Array | float,
    pipe: Pipe = "bgc",
) -> jax.Array:
  """Augments every image with its own random parameters.

  Args:
    images: [N, H, W, C] float in [-1, 1], C = 3 (RGB) or 1 (grey: colour
      operations act on the grey value as on (g, g, g); hue and saturation
      are skipped), H = W >= 8.
    key: PRNG key; split into the parameter key and the noise key.
    p: overall probability (ADA strength), a float or a traced scalar. Each
      operation fires on a sample with probability `p * multiplier`.
    pipe: a name from `PIPES`, a dict of `AugmentSpec` fields (multipliers
      default to 0), or an `AugmentSpec`. Static (Python) value.

  Returns:
    [N, H, W, C], same dtype; `images` itself, bit for bit, when p = 0.
  """
  spec = specs.resolve_pipe(pipe)
  n, _, _, c = check_images(images)
  if not params_lib.active_ops(spec, c):
    return images
  if isinstance(p, (int, float)) and p == 0:
    return images

  def run(operands):
    images, key, p = operands
    params_key, noise_key = jax.random.split(key)
    params = params_lib.sample_params(params_key, n, p, spec, c)
    return apply_params(images, params, spec, noise_key)

  p = jnp.asarray(p, jnp.float32)
  if p.shape:
    raise ValueError(f"augment: p must be a scalar, got shape {p.shape}")
  return jax.lax.cond(p > 0, run, lambda operands: operands[0],
                      (images, key, p))
