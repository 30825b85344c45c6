"""LPIPS-VGG perceptual distance (Zhang et al. 2018, "The Unreasonable
Effectiveness of Deep Features as a Perceptual Metric"), version 0.1.

This module owns the LPIPS distance on VGG16 features and the layout of the
`lpips` package's learned heads (`weights/v0.1/vgg.pth`: `lin{l}.model.1.weight`
[1, C_l, 1, 1]), read by `features.weights.load('lpips_vgg', path)`; the
backbone is torchvision's ImageNet VGG16 (`features.weights.load('vgg16',
path)`).

For images x0, x1 in [-1, 1]:

1. the scaling layer: (x - shift) / scale with shift = (-.030, -.088, -.188)
   and scale = (.458, .448, .450) (the ImageNet mean and std mapped to
   [-1, 1]);
2. VGG16 activations at relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (the
   tutorial names relu_2, relu_4, relu_7, relu_10, relu_13);
3. each activation divided by its per-pixel channel norm plus 1e-10;
4. d = sum_l mean_{h,w} sum_c w_{l,c} (n0_{l,c,h,w} - n1_{l,c,h,w})^2.

The distance is 0 for identical images, symmetric, and differentiable.
"""

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_jax.features import vgg

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
TAPS = ("relu_2", "relu_4", "relu_7", "relu_10", "relu_13")
CHANNELS = (64, 128, 256, 512, 512)
NORM_EPS = 1e-10

Params = dict[str, jax.Array]


def torch_shapes() -> tuple[dict[str, tuple[int, ...]], dict]:
  """The v0.1 `vgg.pth` state dict: ({key: shape}, no optional keys)."""
  return {f"lin{l}.model.1.weight": (1, c, 1, 1)
          for l, c in enumerate(CHANNELS)}, {}


def from_torch(state_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Checked `vgg.pth` state dict -> {'lin{l}': [C_l]} float32."""
  return {f"lin{l}": np.asarray(state_dict[f"lin{l}.model.1.weight"],
                                np.float32).reshape(-1)
          for l in range(len(CHANNELS))}


def normalize_channels(f: jax.Array) -> jax.Array:
  """f / (||f||_2 over channels + 1e-10): [N, H, W, C] -> [N, H, W, C]."""
  norm = jnp.sqrt(jnp.sum(jnp.square(f), axis=-1, keepdims=True))
  return f / (norm + NORM_EPS)


def distance(vgg_params: Params, lin_params: Params, x0: jax.Array,
             x1: jax.Array) -> jax.Array:
  """LPIPS-VGG distance per image pair.

  Args:
    vgg_params: VGG16 params (`features.weights.load('vgg16', path)`).
    lin_params: the heads (`features.weights.load('lpips_vgg', path)`).
    x0, x1: [N, H, W, 3] RGB in [-1, 1], H, W >= 16.

  Returns:
    [N] float32 distances.
  """
  if x0.shape != x1.shape or x0.ndim != 4 or x0.shape[-1] != 3:
    raise ValueError(f"LPIPS wants two [N, H, W, 3] batches of one shape, "
                     f"got {tuple(x0.shape)} and {tuple(x1.shape)}")
  if vgg.depth_of(vgg_params) != 16:
    raise ValueError("LPIPS-VGG needs VGG16 weights, got VGG19")
  n = x0.shape[0]
  shift = jnp.asarray(SHIFT, x0.dtype)
  scale = jnp.asarray(SCALE, x0.dtype)
  x = (jnp.concatenate([x0, x1]) - shift) / scale  # [2N, H, W, 3]
  acts = vgg.activations(vgg_params, x, TAPS)
  total = jnp.zeros((n,), x0.dtype)
  for l, tap in enumerate(TAPS):
    f = normalize_channels(acts[tap])  # [2N, h, w, C_l]
    diff = jnp.square(f[:n] - f[n:])  # [N, h, w, C_l]
    total += jnp.mean(jnp.sum(diff * lin_params[f"lin{l}"], axis=-1),
                      axis=(1, 2))  # [N]
  return total
