"""Writes a sample grid from a randomly initialised generator.

A smoke test of the whole stack on a fresh machine (no data, no weights):

  python -m stylegan_jax.sample --outdir workdirs/sample --resolution 64
"""

from collections.abc import Sequence

from absl import app
from absl import flags
import jax
import jax.numpy as jnp

from stylegan_jax import images
from stylegan_jax.nets import Generator

_OUTDIR = flags.DEFINE_string("outdir", "workdirs/sample", "Output folder.")
_RESOLUTION = flags.DEFINE_integer("resolution", 64, "Image resolution.")
_SEED = flags.DEFINE_integer("seed", 0, "Random seed.")
_NUM = flags.DEFINE_integer("num", 16, "Number of images.")
_PSI = flags.DEFINE_float("truncation_psi", 1.0, "Truncation psi.")


def main(argv: Sequence[str]) -> None:
  del argv
  G = Generator(z_dim=64, w_dim=64, img_resolution=_RESOLUTION.value,
                channel_base=2048, channel_max=128, mapping_layers=2)
  key = jax.random.key(_SEED.value)
  init_key, z_key, noise_key = jax.random.split(key, 3)
  z = jax.random.normal(z_key, (_NUM.value, G.z_dim))
  variables = G.init({"params": init_key}, z[:1], noise_mode="const")
  img = jax.jit(G.apply, static_argnames="noise_mode")(
      variables, z, None, _PSI.value, noise_mode="random",
      rngs={"noise": noise_key})
  # An untrained generator's outputs are far outside [-1, 1]; rescale per
  # image so that the grid shows structure rather than saturated colour.
  lo = jnp.min(img, axis=(1, 2, 3), keepdims=True)
  hi = jnp.max(img, axis=(1, 2, 3), keepdims=True)
  img = (img - lo) / jnp.maximum(hi - lo, 1e-8) * 2 - 1
  grid = images.make_grid(img, cols=int(_NUM.value**0.5) or 1)
  path = images.save_png(grid, f"{_OUTDIR.value}/random_init_grid.png")
  print(f"wrote {path.resolve()}")


if __name__ == "__main__":
  app.run(main)
