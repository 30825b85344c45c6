"""Mapping network: z (and label c) -> w, with the tracked average `w_avg`.

`w_avg` lives in the non-trainable `buffers` collection. It moves only when
the caller passes `update_w_avg=True` and makes `buffers` mutable (training);
truncation pulls ws towards it: w' = w_avg + psi * (w - w_avg).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from stylegan_jax.nets.modules import Dense
from stylegan_jax.ops import equalized


def check_labels(c: jax.Array | None, c_dim: int, who: str) -> None:
  """Raises a clear ValueError unless c is one-hot float [N, c_dim].

  Args:
    c: the labels given to a network (None allowed when unconditional).
    c_dim: the network's label size.
    who: the network, for the message.
  """
  if c_dim == 0:
    if c is not None and c.size:
      raise ValueError(f"{who} is unconditional (c_dim=0) but got labels c "
                       f"{c.shape}; pass c=None")
    return
  fix = f"pass one-hot c = jax.nn.one_hot(labels, {c_dim})"
  if c is None:
    raise ValueError(f"{who} is conditional (c_dim={c_dim}) but got no "
                     f"labels: {fix}")
  if not jnp.issubdtype(c.dtype, jnp.floating):
    raise ValueError(f"labels c must be one-hot floats [N, {c_dim}], got "
                     f"{c.dtype} {c.shape}: {fix}")
  if c.ndim != 2 or c.shape[1] != c_dim:
    raise ValueError(f"labels c must be [N, {c_dim}], got {c.shape}: {fix}")


class MappingNetwork(nn.Module):
  """z [N, z_dim], c [N, c_dim] -> ws [N, num_ws, w_dim] (or w [N, w_dim]).

  Attributes:
    z_dim: latent size; 0 for the discriminator's label-only mapping.
    c_dim: label size; 0 for unconditional.
    w_dim: output size.
    num_ws: number of ws to broadcast to; None returns [N, w_dim] and keeps
      no `w_avg` (as in the discriminator).
    num_layers: dense layers.
    embed_features: label-embedding size (default w_dim).
    layer_features: hidden size (default w_dim).
    lr_multiplier: learning-rate multiplier of the dense layers.
    w_avg_beta: decay of `w_avg` (None: no `w_avg`).
  """

  z_dim: int
  c_dim: int
  w_dim: int
  num_ws: int | None
  num_layers: int = 8
  embed_features: int | None = None
  layer_features: int | None = None
  lr_multiplier: float = 0.01
  w_avg_beta: float | None = 0.995

  @nn.compact
  def __call__(
      self,
      z: jax.Array | None,
      c: jax.Array | None,
      truncation_psi: float | jax.Array = 1.0,
      truncation_cutoff: int | jax.Array | None = None,
      update_w_avg: bool = False,
  ) -> jax.Array:
    """Maps latents (and labels) to ws.

    Args:
      z: [N, z_dim], or None when z_dim is 0.
      c: one-hot labels [N, c_dim], or None / [N, 0] when c_dim is 0.
      truncation_psi: psi; 1 disables truncation.
      truncation_cutoff: truncate only ws[:, :cutoff]; None truncates all.
      update_w_avg: move `w_avg` towards this batch's mean w (needs the
        `buffers` collection mutable).

    Returns:
      ws [N, num_ws, w_dim], or [N, w_dim] when num_ws is None.
    """
    check_labels(c, self.c_dim, "this network")
    x = None
    if self.z_dim > 0:
      x = equalized.normalize_2nd_moment(z.astype(jnp.float32))
    if self.c_dim > 0:
      embed_features = self.embed_features or self.w_dim
      y = Dense(embed_features, name="embed")(c.astype(jnp.float32))
      y = equalized.normalize_2nd_moment(y)
      x = y if x is None else jnp.concatenate([x, y], axis=1)
    if x is None:
      raise ValueError("MappingNetwork needs z_dim > 0 or c_dim > 0")
    layer_features = self.layer_features or self.w_dim
    for i in range(self.num_layers):
      features = self.w_dim if i == self.num_layers - 1 else layer_features
      x = Dense(features, act="lrelu", lr_multiplier=self.lr_multiplier,
                name=f"fc{i}")(x)

    w_avg = None
    if self.w_avg_beta is not None and self.num_ws is not None:
      w_avg = self.variable("buffers", "w_avg", jnp.zeros, (self.w_dim,),
                            jnp.float32)
      if update_w_avg and not self.is_initializing():
        batch_mean = jnp.mean(jax.lax.stop_gradient(x), axis=0)
        w_avg.value = batch_mean + self.w_avg_beta * (w_avg.value - batch_mean)
    if self.num_ws is None:
      return x

    x = jnp.broadcast_to(x[:, None, :], (x.shape[0], self.num_ws, self.w_dim))
    if not (isinstance(truncation_psi, (int, float)) and truncation_psi == 1):
      if w_avg is None:
        raise ValueError("truncation needs w_avg (w_avg_beta is None)")
      avg = w_avg.value
      truncated = avg + truncation_psi * (x - avg)
      if truncation_cutoff is None:
        x = truncated
      else:  # ws[:, :cutoff] only; works with a traced cutoff too.
        keep = jnp.arange(self.num_ws)[None, :, None] < truncation_cutoff
        x = jnp.where(keep, truncated, x)
    return x
