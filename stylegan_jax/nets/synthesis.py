"""Synthesis network: ws -> image, one block per resolution from 4x4 up.

Owns the modulated conv layers (with per-pixel noise and its `noise_const`
buffers), the toRGB layers, the `orig`/`skip`/`resnet` block wiring and the
official `num_ws` indexing: each block reads a window of `num_conv +
num_torgb` ws starting at `w_idx`, and `w_idx` advances by `num_conv` only,
so a block's toRGB shares its w with the next block's first conv
(`ws_windows` lists the windows; `block_ws` slices ws by them).

Mixed precision (the official `num_fp16_res`): the blocks at the highest
`num_fp16_res` resolutions (never below 8x8; `block_dtype`) compute their
activations in a low-precision dtype; parameters, styles and demodulation
coefficients stay float32 and are cast where they meet the activations, and
the toRGB output joins the float32 image path.

Research hooks: every block's output features are sown into the
`features` collection as `res{res}` (read them with
`apply(..., mutable=["features"])`), and explicit noise maps can replace
any layer's noise (`noise={"b8/conv0": [N, 8, 8, 1], ...}`).
"""

from collections.abc import Mapping, Sequence
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from stylegan_jax.nets.modules import Conv2d
from stylegan_jax.nets.modules import Dense
from stylegan_jax.nets.modules import normal_init
from stylegan_jax.ops import filters
from stylegan_jax.ops import equalized
from stylegan_jax.ops import modconv

ARCHITECTURES = ("orig", "skip", "resnet")
NOISE_MODES = ("random", "const", "none")
# The low-precision compute dtypes of mixed precision, by name.
FP16_DTYPES = {"bfloat16": jnp.bfloat16, "float16": jnp.float16}


def block_resolutions(img_resolution: int) -> list[int]:
  """[4, 8, ..., img_resolution]; the resolution must be a power of 2 >= 4."""
  log2 = int(math.log2(img_resolution)) if img_resolution > 0 else 0
  if img_resolution < 4 or 2**log2 != img_resolution:
    raise ValueError(
        f"img_resolution must be a power of two >= 4, got {img_resolution}")
  return [2**i for i in range(2, log2 + 1)]


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
  """Feature maps at a resolution: min(channel_base // res, channel_max)."""
  return min(channel_base // res, channel_max)


def block_dtype(res: int, img_resolution: int, num_fp16_res: int = 0,
                fp16_dtype: str = "bfloat16") -> Any:
  """Compute dtype of the block at `res` (of G's synthesis or of D).

  As the official networks: blocks at res >= max(2 ** (log2(img_resolution)
  + 1 - num_fp16_res), 8) use `fp16_dtype` ('bfloat16' or 'float16'), the
  others float32; num_fp16_res 0 keeps every block float32.
  """
  if fp16_dtype not in FP16_DTYPES:
    raise ValueError(f"fp16_dtype must be one of {sorted(FP16_DTYPES)}, "
                     f"got {fp16_dtype!r}")
  if num_fp16_res < 0:
    raise ValueError(f"num_fp16_res must be >= 0, got {num_fp16_res}")
  log2 = int(math.log2(img_resolution))
  fp16_resolution = max(2**(log2 + 1 - num_fp16_res), 8)
  return FP16_DTYPES[fp16_dtype] if res >= fp16_resolution else jnp.float32


def num_ws_for(img_resolution: int) -> int:
  """Number of ws the synthesis network reads: modulated convs + 1."""
  return 2 * len(block_resolutions(img_resolution))


def ws_windows(img_resolution: int,
               architecture: str = "skip") -> list[tuple[int, int, int]]:
  """The ws each synthesis block reads: [(res, start, count), ...].

  Block `res` reads `ws[:, start:start + count]`: its convs' ws, then (when
  it has a toRGB) the toRGB's, which is also the next block's first conv w.
  """
  out, w_idx = [], 0
  for res in block_resolutions(img_resolution):
    num_conv = 1 if res == 4 else 2
    num_torgb = 1 if res == img_resolution or architecture == "skip" else 0
    out.append((res, w_idx, num_conv + num_torgb))
    w_idx += num_conv
  return out


def block_ws(ws: jax.Array, img_resolution: int,
             architecture: str = "skip") -> dict[int, jax.Array]:
  """ws [N, num_ws, w_dim] -> {res: that block's ws [N, count, w_dim]}."""
  return {res: ws[:, start:start + count]
          for res, start, count in ws_windows(img_resolution, architecture)}


def noise_layer_names(img_resolution: int) -> list[str]:
  """Names of the layers that take noise: 'b4/conv1', 'b8/conv0', ..."""
  names = []
  for res in block_resolutions(img_resolution):
    names += [f"b{res}/conv1"] if res == 4 else [f"b{res}/conv0",
                                                 f"b{res}/conv1"]
  return names


class SynthesisLayer(nn.Module):
  """Modulated conv -> (+ noise) -> + bias -> lrelu -> x gain -> clamp.

  Computes in the dtype of `x`; noise is drawn and scaled in float32 and
  cast to it.
  """

  features: int
  resolution: int
  up: int = 1
  kernel_size: int = 3
  use_noise: bool = True
  conv_clamp: float | None = None
  resample_filter: Sequence[float] = (1, 3, 3, 1)
  fused_modconv: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array, noise_mode: str = "random",
               gain: float = 1.0, noise: jax.Array | None = None) -> jax.Array:
    """x [N, H, W, Cin], w [N, w_dim] -> [N, H*up, W*up, features].

    `noise` [N, H*up, W*up, 1] (unit scale), when given, replaces the noise
    that `noise_mode` would add.
    """
    cin = x.shape[-1]
    styles = Dense(cin, bias_init=1.0, name="affine")(w)  # [N, Cin]
    k = self.kernel_size
    weight = self.param("weight", normal_init(), (k, k, cin, self.features))
    x = modconv.modulated_conv2d(
        x, weight, styles, demodulate=True, fused=self.fused_modconv,
        f=filters.setup_filter(self.resample_filter), up=self.up)
    if self.use_noise:
      res = self.resolution
      noise_const = self.variable(
          "buffers", "noise_const",
          lambda: jax.random.normal(self.make_rng("params"), (res, res)))
      strength = self.param("noise_strength", nn.initializers.zeros, ())
      if noise is not None:
        if noise.shape != (x.shape[0], res, res, 1):
          raise ValueError(f"noise for {self.name} must be [N, {res}, {res}, "
                           f"1] with N={x.shape[0]}, got {noise.shape}")
        x = x + (noise.astype(jnp.float32) * strength).astype(x.dtype)
      elif noise_mode == "random":
        noise = jax.random.normal(self.make_rng("noise"),
                                  (x.shape[0], res, res, 1), jnp.float32)
        x = x + (noise * strength).astype(x.dtype)
      elif noise_mode == "const":
        noise = (noise_const.value * strength).astype(x.dtype)  # [R, R]
        x = x + noise[None, :, :, None]
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
    return equalized.bias_act(x, bias, "lrelu", gain=gain, clamp=clamp)


class ToRGBLayer(nn.Module):
  """Modulated 1x1 conv without demodulation -> + bias -> clamp."""

  features: int
  conv_clamp: float | None = None
  fused_modconv: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
    """x [N, H, W, Cin], w [N, w_dim] -> [N, H, W, features]."""
    cin = x.shape[-1]
    weight_gain = 1 / math.sqrt(cin)
    styles = Dense(cin, bias_init=1.0, name="affine")(w) * weight_gain
    weight = self.param("weight", normal_init(), (1, 1, cin, self.features))
    x = modconv.modulated_conv2d(x, weight, styles, demodulate=False,
                                 fused=self.fused_modconv)
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    return equalized.bias_act(x, bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
  """One resolution: (const | [skip] conv0 up) -> conv1 -> [toRGB]."""

  in_channels: int  # 0 for the 4x4 block, which starts from `const`.
  out_channels: int
  resolution: int
  img_channels: int
  is_last: bool
  architecture: str = "skip"
  conv_clamp: float | None = None
  resample_filter: Sequence[float] = (1, 3, 3, 1)
  fused_modconv: bool = False
  dtype: Any = jnp.float32  # Compute dtype of x; the image stays float32.

  @property
  def num_conv(self) -> int:
    return 1 if self.in_channels == 0 else 2

  @property
  def num_torgb(self) -> int:
    return 1 if self.is_last or self.architecture == "skip" else 0

  @nn.compact
  def __call__(self, x: jax.Array | None, img: jax.Array | None,
               ws: jax.Array, noise_mode: str = "random",
               noise: Mapping[str, jax.Array] | None = None):
    """Runs the block.

    Args:
      x: features [N, R/2, R/2, in_channels] (None for the 4x4 block).
      img: image so far [N, R/2, R/2, img_channels] or None.
      ws: this block's ws [N, num_conv + num_torgb, w_dim].
      noise_mode: 'random', 'const' or 'none'.
      noise: optional explicit noise per layer, {'conv0': [N, R, R, 1],
        'conv1': ...}; layers not named use `noise_mode`.

    Returns:
      (x [N, R, R, out_channels] in `dtype`, img [N, R, R, img_channels]
      float32 or None).
    """
    layer_kwargs = dict(conv_clamp=self.conv_clamp,
                        resample_filter=self.resample_filter,
                        fused_modconv=self.fused_modconv)
    noise = noise or {}
    res = self.resolution
    if self.in_channels == 0:
      const = self.param("const", normal_init(), (4, 4, self.out_channels))
      x = jnp.broadcast_to(const.astype(self.dtype)[None],
                           (ws.shape[0],) + const.shape)
      x = SynthesisLayer(self.out_channels, res, name="conv1",
                         **layer_kwargs)(x, ws[:, 0], noise_mode,
                                         noise=noise.get("conv1"))
    else:
      x = x.astype(self.dtype)
      conv0 = SynthesisLayer(self.out_channels, res, up=2, name="conv0",
                             **layer_kwargs)
      conv1 = SynthesisLayer(self.out_channels, res, name="conv1",
                             **layer_kwargs)
      if self.architecture == "resnet":
        skip = Conv2d(self.out_channels, 1, use_bias=False, up=2,
                      resample_filter=self.resample_filter, name="skip")
        y = skip(x, gain=math.sqrt(0.5))
        x = conv0(x, ws[:, 0], noise_mode, noise=noise.get("conv0"))
        x = conv1(x, ws[:, 1], noise_mode, gain=math.sqrt(0.5),
                  noise=noise.get("conv1"))
        x = y + x
      else:
        x = conv0(x, ws[:, 0], noise_mode, noise=noise.get("conv0"))
        x = conv1(x, ws[:, 1], noise_mode, noise=noise.get("conv1"))

    if img is not None:
      img = filters.upsample2d(img, filters.setup_filter(self.resample_filter))
    if self.num_torgb:
      y = ToRGBLayer(self.img_channels, conv_clamp=self.conv_clamp,
                     fused_modconv=self.fused_modconv,
                     name="torgb")(x, ws[:, self.num_conv])
      y = y.astype(jnp.float32)
      img = y if img is None else img + y
    return x, img


class SynthesisNetwork(nn.Module):
  """ws [N, num_ws, w_dim] -> images [N, H, W, img_channels]."""

  w_dim: int
  img_resolution: int
  img_channels: int = 3
  channel_base: int = 32768
  channel_max: int = 512
  architecture: str = "skip"
  conv_clamp: float | None = None
  resample_filter: Sequence[float] = (1, 3, 3, 1)
  fused_modconv: bool = False
  num_fp16_res: int = 0  # Blocks in fp16_dtype (see `block_dtype`).
  fp16_dtype: str = "bfloat16"

  @property
  def num_ws(self) -> int:
    return num_ws_for(self.img_resolution)

  @nn.compact
  def __call__(self, ws: jax.Array, noise_mode: str = "random",
               noise: Mapping[str, jax.Array] | None = None) -> jax.Array:
    """Synthesises images.

    Args:
      ws: [N, num_ws, w_dim].
      noise_mode: 'random' (needs the 'noise' RNG stream), 'const' (the
        stored `noise_const` maps) or 'none'.
      noise: optional explicit noise maps by layer name (see
        `noise_layer_names`), each [N, res, res, 1]; they replace that
        layer's `noise_mode` noise.

    Returns:
      [N, img_resolution, img_resolution, img_channels] float32, about
      [-1, 1].
    """
    if self.architecture not in ARCHITECTURES:
      raise ValueError(f"architecture must be one of {ARCHITECTURES}, "
                       f"got {self.architecture!r}")
    if noise_mode not in NOISE_MODES:
      raise ValueError(f"noise_mode must be one of {NOISE_MODES}, "
                       f"got {noise_mode!r}")
    if ws.shape[1:] != (self.num_ws, self.w_dim):
      raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], "
                       f"got {ws.shape}")
    noise = dict(noise or {})
    unknown = sorted(set(noise) - set(noise_layer_names(self.img_resolution)))
    if unknown:
      raise ValueError(f"no noise layers named {unknown}; valid: "
                       f"{noise_layer_names(self.img_resolution)}")
    x = img = None
    windows = ws_windows(self.img_resolution, self.architecture)
    for res, start, count in windows:
      block = SynthesisBlock(
          in_channels=(channels_at(res // 2, self.channel_base,
                                   self.channel_max) if res > 4 else 0),
          out_channels=channels_at(res, self.channel_base, self.channel_max),
          resolution=res,
          img_channels=self.img_channels,
          is_last=res == self.img_resolution,
          architecture=self.architecture,
          conv_clamp=self.conv_clamp,
          resample_filter=self.resample_filter,
          fused_modconv=self.fused_modconv,
          dtype=block_dtype(res, self.img_resolution, self.num_fp16_res,
                            self.fp16_dtype),
          name=f"b{res}")
      layer_noise = {k.split("/")[1]: v for k, v in noise.items()
                     if k.startswith(f"b{res}/")}
      x, img = block(x, img, ws[:, start:start + count], noise_mode,
                     layer_noise)
      if not self.is_initializing():  # Features are outputs, not variables.
        self.sow("features", f"res{res}", x)
    return img
