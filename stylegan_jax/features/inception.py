"""The FID Inception-v3 network, computing exactly what pytorch-fid computes.

This module owns the feature network of FID, KID and the Inception Score:
pytorch-fid 0.3.0's `InceptionV3(output_blocks=[0, 1, 2, 3],
resize_input=True, normalize_input=True)` on `fid_inception_v3()`, i.e.
torchvision's Inception3 layout with the FID variants of its blocks
(Mixed_5b/c/d = FIDInceptionA, Mixed_6b..e = FIDInceptionC, Mixed_7b =
FIDInceptionE_1, Mixed_7c = FIDInceptionE_2) and a 2048 -> 1008 `fc`, plus
the state-dict layout its weights file has (`torch_shapes`, `from_torch`).
The weights come from the user's `pt_inception-2015-12-05-6726825d.pth`
(pytorch-fid's release asset) through `features.weights.load`.

Every BasicConv2d is a bias-free conv, BatchNorm with running statistics
(eps 1e-3) and a ReLU. The pool branches of A, C and E_1 average over a 3x3
window counting only pixels inside the image (`count_include_pad=False`);
E_2's pool branch takes a 3x3 max. Block outputs: pool0 (after the first max
pool, [N, 73, 73, 64]), pool1 (second max pool, [N, 35, 35, 192]), pre_aux
(Mixed_6e, [N, 17, 17, 768]), pool3 (global average, [N, 2048], the FID
features), and logits = fc(pool3), [N, 1008] (the Inception Score's).

Resize modes (`features(..., resize_mode=...)`):

* `'pytorch-fid'` (default): uint8 -> x / 255 -> bilinear resize to 299x299
  with `align_corners=False` and no antialiasing, exactly as pytorch-fid's
  `F.interpolate` (downsampling therefore aliases) -> 2x - 1. On the
  reference fixtures the resized input matches to 1.8e-7 and pool3/logits
  to about 1e-4 of their largest value, the size of the float32 noise
  the fixture itself carries (see tests/features/test_inception.py).
* `'clean'`: clean-fid's resize: each colour channel as a float32 image,
  PIL bicubic resize to 299x299 on the host (PIL antialiases when it
  downsamples), clipped to [0, 255], then x / 255, 2x - 1 and the network
  without its own resize. This is clean-fid's resize feeding the
  pytorch-fid network; clean-fid's own numbers also run NVIDIA's
  TF-ported graph, which normalises with (x - 128) / 128 rather than
  2x / 255 - 1, so they are not reproduced bit for bit.

Neither mode reproduces NVIDIA's Inception numbers (the TensorFlow
2015-12-05 graph of the FID paper, and the TorchScript port StyleGAN2-ADA
loads) bit for bit: that graph resizes with TensorFlow's legacy bilinear
sampling (no half-pixel centres, so the image is sampled at shifted
positions; the TorchScript port emulates it with `grid_sample`) and scales
pixels as (x - 128) / 128 instead of 2x / 255 - 1. pytorch-fid's weights are
ported from that graph, so the features differ slightly and FIDs differ by
a small amount that depends on the image size and content. That amount was
not measured here; compare only FIDs computed the same way.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from stylegan_jax.features import layers

RESOLUTION = 299
NUM_FEATURES = 2048
NUM_LOGITS = 1008
BN_EPS = 1e-3
RESIZE_MODES = ("pytorch-fid", "clean")
_U8_TO_UNIT = np.arange(256, dtype=np.float32) / np.float32(255)

Params = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class ConvSpec:
  """One BasicConv2d: conv (no bias) + BatchNorm + ReLU."""

  cin: int
  cout: int
  kernel: tuple[int, int] = (1, 1)
  stride: int = 1
  padding: tuple[int, int] = (0, 0)


def _block_a(cin: int, pool: int) -> dict[str, ConvSpec]:
  return {
      "branch1x1": ConvSpec(cin, 64),
      "branch5x5_1": ConvSpec(cin, 48),
      "branch5x5_2": ConvSpec(48, 64, (5, 5), padding=(2, 2)),
      "branch3x3dbl_1": ConvSpec(cin, 64),
      "branch3x3dbl_2": ConvSpec(64, 96, (3, 3), padding=(1, 1)),
      "branch3x3dbl_3": ConvSpec(96, 96, (3, 3), padding=(1, 1)),
      "branch_pool": ConvSpec(cin, pool),
  }


def _block_b(cin: int) -> dict[str, ConvSpec]:
  return {
      "branch3x3": ConvSpec(cin, 384, (3, 3), stride=2),
      "branch3x3dbl_1": ConvSpec(cin, 64),
      "branch3x3dbl_2": ConvSpec(64, 96, (3, 3), padding=(1, 1)),
      "branch3x3dbl_3": ConvSpec(96, 96, (3, 3), stride=2),
  }


def _block_c(c7: int) -> dict[str, ConvSpec]:
  row, col = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1),
                                                       padding=(3, 0))
  return {
      "branch1x1": ConvSpec(768, 192),
      "branch7x7_1": ConvSpec(768, c7),
      "branch7x7_2": ConvSpec(c7, c7, **row),
      "branch7x7_3": ConvSpec(c7, 192, **col),
      "branch7x7dbl_1": ConvSpec(768, c7),
      "branch7x7dbl_2": ConvSpec(c7, c7, **col),
      "branch7x7dbl_3": ConvSpec(c7, c7, **row),
      "branch7x7dbl_4": ConvSpec(c7, c7, **col),
      "branch7x7dbl_5": ConvSpec(c7, 192, **row),
      "branch_pool": ConvSpec(768, 192),
  }


def _block_d(cin: int) -> dict[str, ConvSpec]:
  return {
      "branch3x3_1": ConvSpec(cin, 192),
      "branch3x3_2": ConvSpec(192, 320, (3, 3), stride=2),
      "branch7x7x3_1": ConvSpec(cin, 192),
      "branch7x7x3_2": ConvSpec(192, 192, (1, 7), padding=(0, 3)),
      "branch7x7x3_3": ConvSpec(192, 192, (7, 1), padding=(3, 0)),
      "branch7x7x3_4": ConvSpec(192, 192, (3, 3), stride=2),
  }


def _block_e(cin: int) -> dict[str, ConvSpec]:
  row, col = dict(kernel=(1, 3), padding=(0, 1)), dict(kernel=(3, 1),
                                                       padding=(1, 0))
  return {
      "branch1x1": ConvSpec(cin, 320),
      "branch3x3_1": ConvSpec(cin, 384),
      "branch3x3_2a": ConvSpec(384, 384, **row),
      "branch3x3_2b": ConvSpec(384, 384, **col),
      "branch3x3dbl_1": ConvSpec(cin, 448),
      "branch3x3dbl_2": ConvSpec(448, 384, (3, 3), padding=(1, 1)),
      "branch3x3dbl_3a": ConvSpec(384, 384, **row),
      "branch3x3dbl_3b": ConvSpec(384, 384, **col),
      "branch_pool": ConvSpec(cin, 192),
  }


def _all_convs() -> dict[str, ConvSpec]:
  convs = {
      "Conv2d_1a_3x3": ConvSpec(3, 32, (3, 3), stride=2),
      "Conv2d_2a_3x3": ConvSpec(32, 32, (3, 3)),
      "Conv2d_2b_3x3": ConvSpec(32, 64, (3, 3), padding=(1, 1)),
      "Conv2d_3b_1x1": ConvSpec(64, 80),
      "Conv2d_4a_3x3": ConvSpec(80, 192, (3, 3)),
  }
  blocks = {
      "Mixed_5b": _block_a(192, 32), "Mixed_5c": _block_a(256, 64),
      "Mixed_5d": _block_a(288, 64), "Mixed_6a": _block_b(288),
      "Mixed_6b": _block_c(128), "Mixed_6c": _block_c(160),
      "Mixed_6d": _block_c(160), "Mixed_6e": _block_c(192),
      "Mixed_7a": _block_d(768), "Mixed_7b": _block_e(1280),
      "Mixed_7c": _block_e(2048),
  }
  for block, branches in blocks.items():
    for branch, spec in branches.items():
      convs[f"{block}.{branch}"] = spec
  return convs


# torch module path (e.g. 'Mixed_5b.branch5x5_2') -> its BasicConv2d.
CONVS = _all_convs()


# --------------------------------------------------------------------------
# The weights file.


def torch_shapes() -> tuple[dict[str, tuple[int, ...]],
                            dict[str, tuple[int, ...]]]:
  """The state dict of `fid_inception_v3()`: required and optional keys.

  Returns:
    ({key: shape} every file must hold, {key: shape} a file may also hold);
    the optional ones are the BatchNorm `num_batches_tracked` counters.
  """
  required, optional = {}, {}
  for name, spec in CONVS.items():
    kh, kw = spec.kernel
    required[f"{name}.conv.weight"] = (spec.cout, spec.cin, kh, kw)
    for stat in ("weight", "bias", "running_mean", "running_var"):
      required[f"{name}.bn.{stat}"] = (spec.cout,)
    optional[f"{name}.bn.num_batches_tracked"] = ()
  required["fc.weight"] = (NUM_LOGITS, NUM_FEATURES)
  required["fc.bias"] = (NUM_LOGITS,)
  return required, optional


def from_torch(state_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Converts a checked `fid_inception_v3()` state dict to `Params` layout.

  Args:
    state_dict: torch names -> arrays, as `torch_shapes` requires.

  Returns:
    '<conv>/kernel' [kh, kw, C_in, C_out] (HWIO), '<conv>/bn_scale',
    '<conv>/bn_bias', '<conv>/bn_mean', '<conv>/bn_var' [C_out] (gamma,
    beta and the running statistics), 'fc/kernel' [2048, 1008] and
    'fc/bias' [1008]; float32.
  """
  f32 = lambda a: np.asarray(a, np.float32)
  params = {}
  for name in CONVS:
    params[f"{name}/kernel"] = f32(
        state_dict[f"{name}.conv.weight"].transpose(2, 3, 1, 0))
    for ours, theirs in (("scale", "weight"), ("bias", "bias"),
                         ("mean", "running_mean"), ("var", "running_var")):
      params[f"{name}/bn_{ours}"] = f32(state_dict[f"{name}.bn.{theirs}"])
  params["fc/kernel"] = f32(state_dict["fc.weight"].T)
  params["fc/bias"] = f32(state_dict["fc.bias"])
  return params


# --------------------------------------------------------------------------
# The network.


def _conv(params: Params, name: str, x: jax.Array) -> jax.Array:
  """BasicConv2d `name`: [N, H, W, C_in] -> [N, H', W', C_out]."""
  spec = CONVS[name]
  y = layers.conv2d(x, params[f"{name}/kernel"], stride=spec.stride,
                    padding=spec.padding)
  # BatchNorm in eval mode, folded as PyTorch's CPU kernel folds it.
  alpha = params[f"{name}/bn_scale"] / jnp.sqrt(params[f"{name}/bn_var"]
                                                + BN_EPS)
  beta = params[f"{name}/bn_bias"] - params[f"{name}/bn_mean"] * alpha
  return jax.nn.relu(y * alpha + beta)


def _mixed_a(params: Params, block: str, x: jax.Array) -> jax.Array:
  conv = lambda name, y: _conv(params, f"{block}.{name}", y)
  b1 = conv("branch1x1", x)
  b5 = conv("branch5x5_2", conv("branch5x5_1", x))
  b3 = conv("branch3x3dbl_3", conv("branch3x3dbl_2",
                                   conv("branch3x3dbl_1", x)))
  bp = conv("branch_pool", layers.avg_pool_exclude_pad(x))
  return jnp.concatenate([b1, b5, b3, bp], axis=-1)


def _mixed_b(params: Params, block: str, x: jax.Array) -> jax.Array:
  conv = lambda name, y: _conv(params, f"{block}.{name}", y)
  b3 = conv("branch3x3", x)
  bd = conv("branch3x3dbl_3", conv("branch3x3dbl_2",
                                   conv("branch3x3dbl_1", x)))
  bp = layers.max_pool(x, 3, 2)
  return jnp.concatenate([b3, bd, bp], axis=-1)


def _mixed_c(params: Params, block: str, x: jax.Array) -> jax.Array:
  conv = lambda name, y: _conv(params, f"{block}.{name}", y)
  b1 = conv("branch1x1", x)
  b7 = x
  for i in (1, 2, 3):
    b7 = conv(f"branch7x7_{i}", b7)
  bd = x
  for i in (1, 2, 3, 4, 5):
    bd = conv(f"branch7x7dbl_{i}", bd)
  bp = conv("branch_pool", layers.avg_pool_exclude_pad(x))
  return jnp.concatenate([b1, b7, bd, bp], axis=-1)


def _mixed_d(params: Params, block: str, x: jax.Array) -> jax.Array:
  conv = lambda name, y: _conv(params, f"{block}.{name}", y)
  b3 = conv("branch3x3_2", conv("branch3x3_1", x))
  b7 = x
  for i in (1, 2, 3, 4):
    b7 = conv(f"branch7x7x3_{i}", b7)
  bp = layers.max_pool(x, 3, 2)
  return jnp.concatenate([b3, b7, bp], axis=-1)


def _mixed_e(params: Params, block: str, x: jax.Array,
             max_pool_branch: bool) -> jax.Array:
  conv = lambda name, y: _conv(params, f"{block}.{name}", y)
  b1 = conv("branch1x1", x)
  b3 = conv("branch3x3_1", x)
  b3 = jnp.concatenate([conv("branch3x3_2a", b3), conv("branch3x3_2b", b3)],
                       axis=-1)
  bd = conv("branch3x3dbl_2", conv("branch3x3dbl_1", x))
  bd = jnp.concatenate([conv("branch3x3dbl_3a", bd),
                        conv("branch3x3dbl_3b", bd)], axis=-1)
  if max_pool_branch:  # FIDInceptionE_2 (Mixed_7c)
    pooled = layers.max_pool(x, 3, 1, padding=1)
  else:  # FIDInceptionE_1 (Mixed_7b)
    pooled = layers.avg_pool_exclude_pad(x)
  bp = conv("branch_pool", pooled)
  return jnp.concatenate([b1, b3, bd, bp], axis=-1)


def forward(params: Params, x: jax.Array,
            intermediates: bool = False) -> dict[str, jax.Array]:
  """The network on images already at 299x299, in [0, 1].

  Args:
    params: from `features.weights.load('inception', path)`.
    x: [N, 299, 299, 3] float32 in [0, 1] (pytorch-fid's input after its
      resize, before its 2x - 1).
    intermediates: also return the block outputs pool0, pool1, pre_aux.

  Returns:
    {'pool3': [N, 2048], 'logits': [N, 1008]}, plus, with intermediates,
    'pool0' [N, 73, 73, 64], 'pool1' [N, 35, 35, 192] and 'pre_aux'
    [N, 17, 17, 768].
  """
  out = {}
  x = 2 * x - 1  # [N, 299, 299, 3] in [-1, 1]
  for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3"):
    x = _conv(params, name, x)  # [N, 147, 147, 64] after the last
  x = out["pool0"] = layers.max_pool(x, 3, 2)  # [N, 73, 73, 64]
  x = _conv(params, "Conv2d_3b_1x1", x)  # [N, 73, 73, 80]
  x = _conv(params, "Conv2d_4a_3x3", x)  # [N, 71, 71, 192]
  x = out["pool1"] = layers.max_pool(x, 3, 2)  # [N, 35, 35, 192]
  for block in ("Mixed_5b", "Mixed_5c", "Mixed_5d"):
    x = _mixed_a(params, block, x)  # [N, 35, 35, 288] after the last
  x = _mixed_b(params, "Mixed_6a", x)  # [N, 17, 17, 768]
  for block in ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"):
    x = _mixed_c(params, block, x)  # [N, 17, 17, 768]
  out["pre_aux"] = x
  x = _mixed_d(params, "Mixed_7a", x)  # [N, 8, 8, 1280]
  x = _mixed_e(params, "Mixed_7b", x, max_pool_branch=False)  # [N,8,8,2048]
  x = _mixed_e(params, "Mixed_7c", x, max_pool_branch=True)  # [N,8,8,2048]
  out["pool3"] = jnp.mean(x, axis=(1, 2))  # [N, 2048]
  out["logits"] = jnp.dot(out["pool3"], params["fc/kernel"],
                          precision=layers.HIGHEST) + params["fc/bias"]
  if not intermediates:
    out = {k: out[k] for k in ("pool3", "logits")}
  return out


# --------------------------------------------------------------------------
# Preprocessing and the public entry point.


def resize_pytorch_fid(images: jax.Array) -> jax.Array:
  """pytorch-fid's input resize: [N, H, W, 3] uint8 -> [N, 299, 299, 3].

  x / 255, then bilinear to 299x299 as `F.interpolate(..., mode='bilinear',
  align_corners=False)` (no antialiasing).

  Returns:
    float32 in [0, 1].
  """
  # A table lookup gives exactly u8 / 255: under jit XLA turns a division
  # by a constant into a multiplication, which is off by an ulp for half
  # the values (and the network amplifies that ~1000x).
  x = jnp.asarray(_U8_TO_UNIT)[images]  # [N, H, W, 3]
  return layers.resize_bilinear(x, (RESOLUTION, RESOLUTION))


def resize_clean(images: np.ndarray) -> np.ndarray:
  """clean-fid's resize on the host: [N, H, W, 3] uint8 -> [N, 299, 299, 3].

  Each channel becomes a float32 PIL image, is resized with PIL's bicubic
  filter (antialiased when downsampling) and clipped to [0, 255].

  Returns:
    float32 in [0, 1] (the resized values / 255).
  """
  images = np.asarray(images)
  size = (RESOLUTION, RESOLUTION)
  bicubic = getattr(Image, "Resampling", Image).BICUBIC
  out = np.empty((images.shape[0], *size, images.shape[3]), np.float32)
  for n, image in enumerate(images):
    for c in range(images.shape[3]):
      channel = Image.fromarray(image[:, :, c].astype(np.float32))  # mode F
      out[n, :, :, c] = np.asarray(channel.resize(size, resample=bicubic))
  return np.clip(out, 0, 255) / np.float32(255)


# The network compiles once per batch size, whatever the input size or mode.
_forward = jax.jit(forward, static_argnames="intermediates")
_resize_pytorch_fid = jax.jit(resize_pytorch_fid)


def features(
    params: Params,
    images: jax.Array | np.ndarray,
    *,
    resize_mode: str = "pytorch-fid",
    intermediates: bool = False,
) -> dict[str, jax.Array]:
  """FID/IS features of uint8 images.

  Args:
    params: from `features.weights.load('inception', path)`.
    images: [N, H, W, 3] (or [N, H, W, 1], repeated to RGB) uint8 RGB.
    resize_mode: 'pytorch-fid' (exact pytorch-fid) or 'clean' (clean-fid's
      PIL bicubic resize on the host); see the module docstring.
    intermediates: also return 'resized' ([N, 299, 299, 3], the network's
      input in [0, 1]), 'pool0', 'pool1' and 'pre_aux' (see `forward`).

  Returns:
    {'pool3': [N, 2048] (FID/KID features), 'logits': [N, 1008] (IS)}, plus
    the intermediates if asked for; float32.

  Raises:
    ValueError: not uint8 NHWC with 1 or 3 channels, or an unknown mode.
  """
  if resize_mode not in RESIZE_MODES:
    raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got "
                     f"{resize_mode!r}")
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError("Inception features want [N, H, W, 3] (or 1-channel) "
                     f"uint8 images, got shape {tuple(images.shape)}")
  if images.dtype != np.uint8:
    raise ValueError(
        f"Inception features want uint8 images (0..255), got {images.dtype}; "
        "convert [-1, 1] images with (x * 127.5 + 128).clip(0, 255) as uint8")
  if images.shape[-1] == 1:
    images = (np if isinstance(images, np.ndarray) else jnp).repeat(
        images, 3, axis=-1)
  if resize_mode == "clean":
    x = jnp.asarray(resize_clean(np.asarray(images)))
  else:
    x = _resize_pytorch_fid(images)
  out = _forward(params, x, intermediates=intermediates)
  if intermediates:
    out["resized"] = x
  return out
