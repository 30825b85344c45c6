"""Helpers shared by the tool tests: a tiny random model and CLI runners."""

from collections.abc import Callable, Sequence

import jax
import numpy as np
import pytest

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
  """Runs a tool's main with `args` as its command line."""
  main(list(args))


def user_error(main: Callable[[Sequence[str]], None], args: Sequence[str],
               capsys) -> str:
  """Runs a tool expecting a user error: exit code 2 and one stderr line.

  Returns:
    That line.
  """
  capsys.readouterr()
  with pytest.raises(SystemExit) as info:
    main(list(args))
  assert info.value.code == 2
  lines = capsys.readouterr().err.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: "), lines
  return lines[0]
