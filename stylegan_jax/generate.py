r"""Generates one image per seed from a model (and optionally a grid).

  python -m stylegan_jax.generate --model workdirs/demo --seeds 0-7,42 \
      --truncation_psi 0.7 --class 2 --outdir out --grid

writes `out/seed0000.png` ... `out/seed0042.png` (and `out/grid.png`). The
image for a seed does not depend on `--batch_size` or on the other seeds.
"""

from collections.abc import Sequence

from absl import app
from absl import flags
import numpy as np

from stylegan_jax import cli_utils
from stylegan_jax import images
from stylegan_jax import model_io

_GRID = flags.DEFINE_bool("grid", False, "Also write all images as grid.png.")

for _name in ("model", "seeds", "truncation_psi", "truncation_cutoff", "class",
              "noise_mode", "batch_size", "outdir"):
  flags.declare_key_flag(_name)


def generate_images(model: model_io.Model, seeds: Sequence[int], *,
                    truncation_psi: float = 1.0,
                    truncation_cutoff: int | None = None,
                    class_label: str | int | None = None,
                    noise_mode: str = "const",
                    batch_size: int = 8) -> np.ndarray:
  """Renders one image per seed.

  Args:
    model: a loaded `model_io.Model`.
    seeds: N seeds; z = RandomState(seed).randn(z_dim).
    truncation_psi: 1 for none, 0 for the average image.
    truncation_cutoff: truncate only the first this many ws (None: all).
    class_label: a class name or index; required iff the model is
      conditional.
    noise_mode: 'const', 'random' (noise keyed by the seed) or 'none'.
    batch_size: images per generator call; does not change the images.

  Returns:
    uint8 [N, H, W, C].
  """
  if not len(seeds):
    raise ValueError("no seeds given")
  ws = cli_utils.map_seeds(model, seeds, class_label, truncation_psi,
                           truncation_cutoff, batch_size)
  return cli_utils.synthesize(model, ws, noise_mode, seeds, batch_size)


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    seeds = cli_utils.parse_range(cli_utils.SEEDS.value, "seeds")
    model = cli_utils.load(cli_utils.MODEL.value)
    array = generate_images(
        model, seeds, **cli_utils.generation_kwargs())
  except (ValueError, FileNotFoundError) as e:
    raise app.UsageError(str(e)) from e
  out = cli_utils.outdir(cli_utils.OUTDIR.value)
  for seed, image in zip(seeds, array):
    images.save_png(image, out / f"seed{seed:04d}.png")
  print(f"wrote {len(seeds)} images ({array.shape[2]}x{array.shape[1]}) "
        f"from {model.source} to {out.resolve()}/seed*.png")
  if _GRID.value:
    grid = images.tile(array, cli_utils.grid_cols(len(array)))
    path = images.save_png(grid, out / "grid.png")
    print(f"wrote {path.resolve()}")


if __name__ == "__main__":
  app.run(main)
