"""Generator: mapping network + synthesis network.

`map` gives ws (with truncation), `synthesize` renders ws; style mixing is
done by the caller, by splicing ws from two `map` calls before `synthesize`
(`stylegan_jax.train.step.generator_forward` does what training does: w_avg
tracking, style mixing and random noise).
"""

from collections.abc import Mapping, Sequence

import flax.linen as nn
import jax

from stylegan_jax.nets.mapping import MappingNetwork
from stylegan_jax.nets.mapping import check_labels
from stylegan_jax.nets.synthesis import SynthesisNetwork
from stylegan_jax.nets.synthesis import num_ws_for
from stylegan_jax.ops import modconv


class Generator(nn.Module):
  """z [N, z_dim], c [N, c_dim] -> images [N, H, W, img_channels] in ~[-1, 1].

  Attributes:
    z_dim, c_dim, w_dim: latent, label and intermediate-latent sizes.
    img_resolution, img_channels: output image size.
    mapping_layers, mapping_lr_multiplier, mapping_embed_features,
      mapping_layer_features, w_avg_beta: see `MappingNetwork`.
    channel_base, channel_max: feature maps per resolution are
      min(channel_base // res, channel_max).
    architecture: 'orig', 'skip' (default) or 'resnet'.
    conv_clamp: clamp conv outputs to +-conv_clamp (None: no clamping).
    resample_filter: 1-D FIR taps for up-sampling.
    fused_modconv: grouped-conv modulated convs; None picks per backend
      (fused on GPU/TPU, non-fused on CPU).
    num_fp16_res, fp16_dtype: mixed precision; the synthesis blocks at the
      highest num_fp16_res resolutions compute in fp16_dtype ('bfloat16' or
      'float16'; see `synthesis.block_dtype`). 0: float32 everywhere. The
      mapping network and the output image are always float32.
  """

  z_dim: int = 512
  c_dim: int = 0
  w_dim: int = 512
  img_resolution: int = 256
  img_channels: int = 3
  mapping_layers: int = 8
  mapping_lr_multiplier: float = 0.01
  mapping_embed_features: int | None = None
  mapping_layer_features: int | None = None
  w_avg_beta: float = 0.995
  channel_base: int = 32768
  channel_max: int = 512
  architecture: str = "skip"
  conv_clamp: float | None = None
  resample_filter: Sequence[float] = (1, 3, 3, 1)
  fused_modconv: bool | None = None
  num_fp16_res: int = 0
  fp16_dtype: str = "bfloat16"

  @property
  def num_ws(self) -> int:
    return num_ws_for(self.img_resolution)

  def setup(self):
    self.mapping = MappingNetwork(
        z_dim=self.z_dim, c_dim=self.c_dim, w_dim=self.w_dim,
        num_ws=self.num_ws, num_layers=self.mapping_layers,
        embed_features=self.mapping_embed_features,
        layer_features=self.mapping_layer_features,
        lr_multiplier=self.mapping_lr_multiplier, w_avg_beta=self.w_avg_beta)
    fused = self.fused_modconv
    self.synthesis = SynthesisNetwork(
        w_dim=self.w_dim, img_resolution=self.img_resolution,
        img_channels=self.img_channels, channel_base=self.channel_base,
        channel_max=self.channel_max, architecture=self.architecture,
        conv_clamp=self.conv_clamp, resample_filter=tuple(self.resample_filter),
        fused_modconv=modconv.default_fused() if fused is None else fused,
        num_fp16_res=self.num_fp16_res, fp16_dtype=self.fp16_dtype)

  def map(self, z: jax.Array, c: jax.Array | None = None,
          truncation_psi: float | jax.Array = 1.0,
          truncation_cutoff: int | jax.Array | None = None,
          update_w_avg: bool = False) -> jax.Array:
    """z [N, z_dim], c [N, c_dim] -> ws [N, num_ws, w_dim]; see MappingNetwork."""
    check_labels(c, self.c_dim, "this generator")
    return self.mapping(z, c, truncation_psi, truncation_cutoff, update_w_avg)

  def synthesize(self, ws: jax.Array, noise_mode: str = "random",
                 noise: Mapping[str, jax.Array] | None = None) -> jax.Array:
    """ws [N, num_ws, w_dim] -> images [N, H, W, C]; see SynthesisNetwork."""
    return self.synthesis(ws, noise_mode, noise)

  def __call__(self, z: jax.Array, c: jax.Array | None = None,
               truncation_psi: float | jax.Array = 1.0,
               truncation_cutoff: int | jax.Array | None = None,
               noise_mode: str = "random",
               update_w_avg: bool = False,
               noise: Mapping[str, jax.Array] | None = None) -> jax.Array:
    """z [N, z_dim], c [N, c_dim] -> images [N, H, W, img_channels]."""
    ws = self.map(z, c, truncation_psi, truncation_cutoff, update_w_avg)
    return self.synthesize(ws, noise_mode, noise)
