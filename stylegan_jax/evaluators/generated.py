"""The N generated images every metric sees: one definition, rendered sharded.

This module owns what "the generator's images" means for every metric, in
training and in the metrics tool alike. Image i (i = 0, 1, ...) is:

* z = `np.random.RandomState(seed + i).randn(z_dim)` (`sampling.z_from_seeds`,
  as the generate tool);
* for a conditional generator, the class `labels(n)[i]`, drawn from the
  dataset's class distribution with `np.random.default_rng(seed)` (the
  official metrics draw labels from the training set; a prefix of the draw
  does not depend on n);
* ws = G.map(z, c, truncation_psi), then G.synthesize(ws) with the noise of
  `noise_mode`: 'random' (the official metrics' default) draws image i's
  noise from `jax.random.key(seed + i)`, exactly as `python -m
  stylegan_jax.generate --seeds seed+i --noise_mode random` does;
* quantised to uint8 as the official `(x * 127.5 + 128).clamp(0, 255)`
  followed by `.to(torch.uint8)`, i.e. truncated (`quantize`).

So the first n images of a larger set are the n images of a smaller one, and
any one of them can be looked at with the generate tool. A generator without
a mapping network (the baselines, `G(z, c)`) renders z and c directly, with
no truncation and no noise. Rendering is one
jitted program per (G, psi, noise mode, mesh): the latents are split along
the mesh's `data` axis (every process builds the same host arrays and
contributes its devices' rows), the variables are replicated, and the
uint8 images stay on the devices, sharded, for the feature networks.
"""

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_jax import labels as labels_lib
from stylegan_jax import sampling
from stylegan_jax import sharding
from stylegan_jax.errors import UserError
from stylegan_jax.nets.factory import is_stylegan


def quantize(x: jax.Array) -> jax.Array:
  """Images in [-1, 1] -> uint8, the official way (truncating).

  Args:
    x: [..., H, W, C] float.

  Returns:
    uint8 of the same shape: clip(x * 127.5 + 128, 0, 255), truncated.
  """
  return jnp.clip(x * 127.5 + 128, 0, 255).astype(jnp.uint8)


@dataclasses.dataclass(frozen=True)
class GeneratedImages:
  """The settings that define the generated images (see the module).

  Attributes:
    seed: image i comes from seed + i.
    truncation_psi: 1 for none.
    noise_mode: 'random', 'const' or 'none'.
    class_probs: the dataset's class distribution [c_dim]; empty for an
      unconditional generator.
  """

  seed: int = 0
  truncation_psi: float = 1.0
  noise_mode: str = "random"
  class_probs: tuple[float, ...] = ()

  def seeds(self, start: int, stop: int) -> np.ndarray:
    """The seeds of images start..stop-1, uint32 [stop - start]."""
    return np.arange(self.seed + start, self.seed + stop, dtype=np.uint32)

  def labels(self, num: int) -> np.ndarray:
    """The classes of images 0..num-1, int [num] (zeros if unconditional)."""
    if not self.class_probs:
      return np.zeros(num, np.int64)
    p = np.asarray(self.class_probs, np.float64)
    return np.random.default_rng(self.seed).choice(len(p), size=num,
                                                   p=p / p.sum())

  def inputs(self, start: int, stop: int, z_dim: int,
             labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z [n, z_dim], c [n, c_dim], seeds [n]) of images start..stop-1.

    Args:
      start, stop: the image range.
      z_dim: the generator's latent size.
      labels: `labels(m)` for some m >= stop.
    """
    seeds = self.seeds(start, stop)
    z = sampling.z_from_seeds([int(s) for s in seeds], z_dim)
    c = labels_lib.one_hot(labels[start:stop], len(self.class_probs))
    return z, c, seeds


def check_generator(G, truncation_psi: float) -> None:
  """Raises UserError when the settings need what G does not have."""
  if truncation_psi != 1 and not is_stylegan(G):
    raise UserError(f"truncation_psi={truncation_psi} needs a mapping "
                    f"network, which {type(G).__name__} has not — use 1")


@functools.lru_cache(maxsize=16)
def render_fn(G, truncation_psi: float, noise_mode: str,
              mesh: jax.sharding.Mesh):
  """The jitted `(variables, z, c, seeds) -> uint8 images` for G.

  Args:
    G: a `nets.Generator` (map + synthesize).
    truncation_psi: static (1 skips truncation exactly).
    noise_mode: 'random' (keyed by each image's seed), 'const' or 'none'.
    mesh: the device mesh; the output is sharded along its `data` axis.

  Returns:
    fn(variables, z [B, z_dim], c [B, c_dim], seeds uint32 [B]) -> uint8
    [B, H, W, C].
  """
  c_dim = G.c_dim

  def render(variables, z, c, seeds):
    if not is_stylegan(G):  # The baselines: G(z, c) -> images.
      return quantize(G.apply(variables, z, c if c_dim else None))
    ws = G.apply(variables, z, c if c_dim else None, truncation_psi,
                 method=G.map)  # [B, num_ws, w_dim]
    if noise_mode != "random":
      x = G.apply(variables, ws, noise_mode=noise_mode, method=G.synthesize)
    else:

      def one(w, seed):  # Per-image noise, as the generate tool draws it.
        return G.apply(variables, w[None], noise_mode="random",
                       rngs={"noise": jax.random.key(seed)},
                       method=G.synthesize)[0]

      x = jax.vmap(one)(ws, seeds)  # [B, H, W, C]
    return quantize(x)

  return jax.jit(render, out_shardings=sharding.batch_sharding(mesh))


def to_devices(arrays: Sequence[np.ndarray],
               mesh: jax.sharding.Mesh) -> list[jax.Array]:
  """Host arrays (the same on every process) -> global arrays split on `data`.

  Each process contributes the rows of its own devices.
  """
  s = sharding.batch_sharding(mesh)
  return [jax.make_array_from_callback(a.shape, s, lambda idx, a=a: a[idx])
          for a in arrays]
