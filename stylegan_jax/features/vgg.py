"""VGG16 and VGG19 (torchvision layout): conv activations and fc2 features.

This module owns the VGG networks of the perceptual metrics and losses:
torchvision's `vgg16` / `vgg19` `features` stacks (configurations D and E of
Simonyan and Zisserman, 2015), plus VGG16's first two classifier layers for
the 4096-d fc2 features that precision/recall uses, and the state-dict
layout of torchvision's files (`torch_shapes`, `from_torch`). The weights
come from the user's `vgg16-397923af.pth` / `vgg19-dcbb9e9d.pth` through
`features.weights.load`.

Layers are named as in the PyTorch neural-style tutorial: `conv_i`,
`relu_i` and `pool_i`, where i counts the convs seen so far (VGG19's
`pool_16` is the output of `vgg19.features`). Convs are 3x3 with padding 1
and a bias; pools are 2x2 max pools with stride 2 (odd sizes floor).

Inputs are NHWC RGB in [0, 1]; `features` normalises them with the ImageNet
mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225) as torchvision's
weights expect. `activations` takes already-normalised inputs (LPIPS brings
its own scaling layer).
"""

from collections.abc import Iterable

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_jax.features import layers

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Conv widths per stage; a max pool ends every stage.
STAGES = {
    16: ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512),
         (512, 512, 512)),
    19: ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4),
}
FC_DIM = 4096
# torchvision's classifier sees `AdaptiveAvgPool2d((7, 7))` of pool_13.
FC_POOL = (7, 7)

Params = dict[str, jax.Array]


def _torch_layers(depth: int) -> list[tuple[str, int, int, int]]:
  """[(tutorial name, torch `features` index, C_in, C_out)] for every layer.

  C_in/C_out are 0 for ReLUs and pools.
  """
  out, index, conv, cin = [], 0, 0, 3
  for stage in STAGES[depth]:
    for cout in stage:
      conv += 1
      out.append((f"conv_{conv}", index, cin, cout))
      out.append((f"relu_{conv}", index + 1, 0, 0))
      index, cin = index + 2, cout
    out.append((f"pool_{conv}", index, 0, 0))
    index += 1
  return out


def layer_names(depth: int = 19) -> tuple[str, ...]:
  """Every layer name of VGG{depth}'s `features`, in order."""
  _check_depth(depth)
  return tuple(name for name, *_ in _torch_layers(depth))


def _check_depth(depth: int):
  if depth not in STAGES:
    raise ValueError(f"VGG depth must be 16 or 19, got {depth}")


# --------------------------------------------------------------------------
# The weights file.


def torch_shapes(
    depth: int,
) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
  """torchvision's VGG{depth} state dict: required and optional keys.

  The `features.*` convs are required. The `classifier.*` layers are
  optional (style transfer and LPIPS never use them; a features-only state
  dict is fine), but shape-checked when present.

  Returns:
    ({required key: shape}, {optional key: shape}).
  """
  _check_depth(depth)
  required = {}
  for _, index, cin, cout in _torch_layers(depth):
    if cout:
      required[f"features.{index}.weight"] = (cout, cin, 3, 3)
      required[f"features.{index}.bias"] = (cout,)
  fc_in = 512 * FC_POOL[0] * FC_POOL[1]
  optional = {}
  for index, (cin, cout) in zip((0, 3, 6), ((fc_in, FC_DIM), (FC_DIM, FC_DIM),
                                           (FC_DIM, 1000))):
    optional[f"classifier.{index}.weight"] = (cout, cin)
    optional[f"classifier.{index}.bias"] = (cout,)
  return required, optional


def from_torch(state_dict: dict[str, np.ndarray],
               depth: int) -> dict[str, np.ndarray]:
  """Converts a checked torchvision VGG state dict to `Params` layout.

  Args:
    state_dict: torch names -> arrays, as `torch_shapes(depth)` allows.
    depth: 16 or 19.

  Returns:
    'conv_i/kernel' [3, 3, C_in, C_out] (HWIO) and 'conv_i/bias' [C_out];
    for VGG16 with classifier.0 and classifier.3 also 'fc1/kernel'
    [7 * 7 * 512, 4096] (rows in NHWC flattening order), 'fc1/bias',
    'fc2/kernel' [4096, 4096], 'fc2/bias'; float32. The 1000-way
    classifier.6 is dropped.

  Raises:
    ValueError: VGG16 with only one of classifier.0 and classifier.3.
  """
  f32 = lambda a: np.asarray(a, np.float32)
  params = {}
  for name, index, _, cout in _torch_layers(depth):
    if cout:
      params[f"{name}/kernel"] = f32(
          state_dict[f"features.{index}.weight"].transpose(2, 3, 1, 0))
      params[f"{name}/bias"] = f32(state_dict[f"features.{index}.bias"])
  has_fc = [f"classifier.{i}.weight" in state_dict for i in (0, 3)]
  if depth == 16 and any(has_fc):
    if not all(has_fc):
      raise ValueError("the VGG16 state dict has only one of classifier.0 "
                       "and classifier.3; fc2 features need both (or neither "
                       "for conv features only)")
    h, w = FC_POOL
    fc1 = state_dict["classifier.0.weight"]  # [4096, 512 * 7 * 7], CHW order
    fc1 = fc1.reshape(-1, 512, h, w).transpose(2, 3, 1, 0)  # [h, w, C, out]
    params["fc1/kernel"] = f32(fc1.reshape(h * w * 512, -1))
    params["fc1/bias"] = f32(state_dict["classifier.0.bias"])
    params["fc2/kernel"] = f32(state_dict["classifier.3.weight"].T)
    params["fc2/bias"] = f32(state_dict["classifier.3.bias"])
  return params


def depth_of(params: Params) -> int:
  """16 or 19, from the number of convs in `params`."""
  num_convs = sum(k.endswith("/kernel") and k.startswith("conv_")
                  for k in params)
  for depth, stages in STAGES.items():
    if num_convs == sum(len(s) for s in stages):
      return depth
  raise ValueError(f"VGG params hold {num_convs} convs; expected 13 (VGG16) "
                   "or 16 (VGG19): load them with features.weights.load")


# --------------------------------------------------------------------------
# The network.


def normalize(images: jax.Array) -> jax.Array:
  """[N, H, W, 3] RGB in [0, 1] -> ImageNet-normalised, same shape."""
  mean = jnp.asarray(IMAGENET_MEAN, images.dtype)
  std = jnp.asarray(IMAGENET_STD, images.dtype)
  return (images - mean) / std


def activations(params: Params, x: jax.Array,
                names: Iterable[str]) -> dict[str, jax.Array]:
  """The named activations of VGG's `features` on a normalised input.

  Stops after the last requested layer.

  Args:
    params: from `features.weights.load('vgg16' | 'vgg19', path)`.
    x: [N, H, W, 3], already normalised (see `normalize`).
    names: layer names (`layer_names(depth)`), e.g. ('conv_4', 'relu_2').

  Returns:
    {name: [N, H / 2**p, W / 2**p, C]} with p the pools before it (sizes
    floored at each pool).

  Raises:
    ValueError: an unknown name, or an image too small for the pools.
  """
  depth = depth_of(params)
  names = set(names)
  order = layer_names(depth)
  unknown = sorted(names - set(order))
  if unknown:
    raise ValueError(f"unknown VGG{depth} layers {unknown}; names are "
                     f"conv_i, relu_i, pool_i with i in 1..{len(order) // 2}")
  out = {}
  last = max(order.index(n) for n in names) if names else -1
  for name in order[:last + 1]:
    kind = name.split("_")[0]
    if kind == "conv":
      x = layers.conv2d(x, params[f"{name}/kernel"], padding=(1, 1))
      x = x + params[f"{name}/bias"]  # [N, H, W, C_out]
    elif kind == "relu":
      x = jax.nn.relu(x)
    else:
      if min(x.shape[1:3]) < 2:
        raise ValueError(f"VGG {name} needs at least 2x2 pixels, got "
                         f"{x.shape[1:3]}: use larger images")
      x = layers.max_pool(x, 2, 2)  # [N, H // 2, W // 2, C]
    if name in names:
      out[name] = x
  return out


def features(params: Params, images: jax.Array,
             names: Iterable[str]) -> dict[str, jax.Array]:
  """The named VGG activations of RGB images in [0, 1].

  Args:
    params: from `features.weights.load('vgg16' | 'vgg19', path)`.
    images: [N, H, W, 3] RGB in [0, 1], any size and aspect.
    names: layer names, e.g. ('conv_1', 'conv_4').

  Returns:
    {name: activation}, as `activations`.
  """
  if images.ndim != 4 or images.shape[-1] != 3:
    raise ValueError(f"VGG wants [N, H, W, 3] RGB images in [0, 1], got "
                     f"shape {tuple(images.shape)}")
  return activations(params, normalize(images), names)


def fc2(params: Params, images: jax.Array) -> jax.Array:
  """VGG16's fc2 features after ReLU (precision/recall's embedding).

  pool_13 -> adaptive average pool to 7x7 -> classifier.0 -> ReLU ->
  classifier.3 -> ReLU, as torchvision's classifier (dropout is off in eval
  mode). The official metric feeds 224x224 images, where the adaptive pool
  is the identity; resizing is the caller's choice.

  Args:
    params: VGG16 params with the classifier ('fc1/*', 'fc2/*').
    images: [N, H, W, 3] RGB in [0, 1], H, W >= 32.

  Returns:
    [N, 4096] float32, non-negative.
  """
  if depth_of(params) != 16 or "fc2/kernel" not in params:
    raise ValueError("fc2 features need VGG16 weights with the classifier "
                     "(torchvision's full vgg16-397923af.pth)")
  x = features(params, images, ["pool_13"])["pool_13"]  # [N, h, w, 512]
  x = layers.adaptive_avg_pool(x, FC_POOL)  # [N, 7, 7, 512]
  x = x.reshape(x.shape[0], -1)  # [N, 25088], NHWC order as fc1/kernel
  x = jax.nn.relu(jnp.dot(x, params["fc1/kernel"], precision=layers.HIGHEST)
                  + params["fc1/bias"])  # [N, 4096]
  return jax.nn.relu(jnp.dot(x, params["fc2/kernel"],
                             precision=layers.HIGHEST)
                     + params["fc2/bias"])  # [N, 4096]
