"""Helpers shared by the tool tests: a tiny random model and a CLI runner."""

from collections.abc import Callable, Sequence

from absl import flags
import jax
import numpy as np

from stylegan_jax import model_io
from stylegan_jax.nets import Generator


def make_model(c_dim: int = 0) -> model_io.Model:
  """A tiny (8x8, num_ws=4) random generator that shows structure.

  A fresh generator's outputs are far outside [-1, 1] and its noise
  strengths are zero; the toRGB weights are scaled down and the noise
  strengths and w_avg set, so that images differ per seed after uint8
  clipping and noise modes differ.
  """
  G = Generator(z_dim=8, w_dim=8, c_dim=c_dim, img_resolution=8,
                channel_base=64, channel_max=8, mapping_layers=1)
  z = np.zeros((1, G.z_dim), np.float32)
  c = np.zeros((1, c_dim), np.float32) if c_dim else None
  variables = G.init(jax.random.key(0), z, c, noise_mode="const")

  def adjust(path, x):
    names = [getattr(k, "key", None) for k in path]
    if "torgb" in names and names[-1] == "weight" and "affine" not in names:
      return x * 0.2
    if names[-1] == "noise_strength":
      return x + 0.5
    if names[-1] == "w_avg":
      return jax.random.normal(jax.random.key(1), x.shape) * 0.3
    return x

  variables = jax.tree_util.tree_map_with_path(adjust, variables)
  names = ("circles", "stripes", "waves")[:c_dim]
  return model_io.Model(G=G, variables=variables, class_names=names,
                      source=f"tiny(c_dim={c_dim})")


def run_main(main: Callable[[Sequence[str]], None],
             args: Sequence[str]) -> None:
  """Parses `args` as the command line (flags reset first), runs main."""
  flags.FLAGS.unparse_flags()
  argv = flags.FLAGS(["prog", *args])
  main(argv)
