"""VGG16 conv features in pure JAX, from weights the user supplies.

This module owns an optional perceptual feature extractor for the projector
(`stylegan_jax.project --vgg16 weights.npz`). No weights ship with the
package and nothing is ever downloaded: `load_vgg16` reads an `.npz` the
user made, and raises a clear error when it is missing or laid out wrongly.

File layout (read with `allow_pickle=False`): for each of the 13 conv
layers of VGG16 (configuration D of Simonyan and Zisserman, 2015), named

  conv1_1 conv1_2 | conv2_1 conv2_2 | conv3_1 conv3_2 conv3_3 |
  conv4_1 conv4_2 conv4_3 | conv5_1 conv5_2 conv5_3

two arrays, float32:

  '<name>/kernel': [3, 3, C_in, C_out] (HWIO; cross-correlation, as in
    `jax.lax.conv_general_dilated`),
  '<name>/bias': [C_out],

with C_in/C_out as in `LAYERS`. No other keys are allowed. The weights must
expect RGB input normalised with the ImageNet mean (0.485, 0.456, 0.406)
and std (0.229, 0.224, 0.225) on a [0, 1] scale (the torchvision
convention). To convert a torchvision `vgg16` state dict, take
`features.{0,2,5,7,10,12,14,17,19,21,24,26,28}.weight` in that order,
transpose each from OIHW to HWIO with `w.transpose(2, 3, 1, 0)`, and store
the matching `.bias`. (Caffe/Keras VGG16 weights expect BGR input with mean
subtraction only; they do not fit this normalisation.)

`features` returns the ReLU outputs that LPIPS taps: relu1_2, relu2_2,
relu3_3, relu4_3 and relu5_3. The classifier (fc) layers are not used.
"""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

# (name, C_in, C_out); a 2x2 max pool follows the last conv of each stage.
LAYERS = (
    ("conv1_1", 3, 64), ("conv1_2", 64, 64),
    ("conv2_1", 64, 128), ("conv2_2", 128, 128),
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256),
    ("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512),
    ("conv5_1", 512, 512), ("conv5_2", 512, 512), ("conv5_3", 512, 512),
)
# Feature taps: the ReLU after the last conv of each stage.
TAPS = ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Four 2x2 pools before conv5: smaller inputs leave conv5 with no pixels.
MIN_RESOLUTION = 16

Params = dict[str, tuple[jax.Array, jax.Array]]


def expected_shapes() -> dict[str, tuple[int, ...]]:
  """Every key a weights file must hold -> its shape."""
  shapes = {}
  for name, cin, cout in LAYERS:
    shapes[f"{name}/kernel"] = (3, 3, cin, cout)
    shapes[f"{name}/bias"] = (cout,)
  return shapes


def load_vgg16(path: str | pathlib.Path) -> Params:
  """Reads VGG16 conv weights from an `.npz` in the module's layout.

  Args:
    path: the weights file.

  Returns:
    {layer name: (kernel [3, 3, C_in, C_out], bias [C_out])}, float32.

  Raises:
    FileNotFoundError: no file at `path`.
    ValueError: not an `.npz`, or keys/shapes differ from the layout.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(
        f"no VGG16 weights at {path}: stylegan_jax never downloads them; "
        "make an .npz as the stylegan_jax.vgg16 docstring describes")
  try:
    with np.load(path, allow_pickle=False) as f:
      arrays = {k: f[k] for k in f.files}
  except (ValueError, OSError) as e:
    raise ValueError(f"{path} is not a readable .npz: {e}") from e
  want = expected_shapes()
  missing = sorted(set(want) - set(arrays))
  unexpected = sorted(set(arrays) - set(want))
  if missing or unexpected:
    raise ValueError(
        f"{path} does not have the VGG16 layout (see stylegan_jax.vgg16): "
        f"missing {missing[:6]}{'...' if len(missing) > 6 else ''}, "
        f"unexpected {unexpected[:6]}{'...' if len(unexpected) > 6 else ''}")
  wrong = [f"{k}: {arrays[k].shape} != {s}" for k, s in want.items()
           if arrays[k].shape != s]
  if wrong:
    raise ValueError(f"{path}: wrong shapes (want HWIO kernels): "
                     + "; ".join(wrong[:4]))
  return {name: (jnp.asarray(arrays[f"{name}/kernel"], jnp.float32),
                 jnp.asarray(arrays[f"{name}/bias"], jnp.float32))
          for name, _, _ in LAYERS}


def features(params: Params, images: jax.Array) -> list[jax.Array]:
  """VGG16 activations at the LPIPS taps.

  Args:
    params: from `load_vgg16`.
    images: [N, H, W, 3] RGB in [-1, 1]; H, W >= 16.

  Returns:
    Five ReLU outputs (relu1_2 ... relu5_3): [N, H, W, 64],
    [N, H/2, W/2, 128], [N, H/4, W/4, 256], [N, H/8, W/8, 512],
    [N, H/16, W/16, 512] (sizes floored at each pool).
  """
  if images.ndim != 4 or images.shape[-1] != 3:
    raise ValueError(f"VGG16 wants [N, H, W, 3] images, got {images.shape}")
  if min(images.shape[1:3]) < MIN_RESOLUTION:
    raise ValueError(f"VGG16 features need images of at least "
                     f"{MIN_RESOLUTION}px, got {images.shape[1:3]}")
  mean = jnp.asarray(IMAGENET_MEAN, images.dtype)
  std = jnp.asarray(IMAGENET_STD, images.dtype)
  x = ((images + 1) / 2 - mean) / std  # [N, H, W, 3]
  out = []
  for name, _, _ in LAYERS:
    if name.endswith("_1") and name != "conv1_1":
      x = _max_pool2(x)  # a new stage starts at half resolution
    kernel, bias = params[name]
    x = jax.lax.conv_general_dilated(
        x, kernel.astype(x.dtype), window_strides=(1, 1), padding="SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"))
    x = jax.nn.relu(x + bias.astype(x.dtype))
    if name in TAPS:
      out.append(x)
  return out


def _max_pool2(x: jax.Array) -> jax.Array:
  """[N, H, W, C] -> [N, H // 2, W // 2, C], 2x2 max, stride 2."""
  return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1),
                               (1, 2, 2, 1), "VALID")
