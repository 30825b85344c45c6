r"""Scores a trained pix2pix workdir on its held-out pairs; writes a grid.

Owns the pix2pix result of `benchmarks/RESULTS.md`. It reads the config
stored with the workdir's checkpoint, rebuilds the held-out split from it
(`pipeline.paired_eval_set`: for the embedded paired set, the drawings after
the training ones), translates it with G_ema, and compares with the same
generator before training (the run's own initialisation, `train.seed`):

  python benchmarks/pix2pix_heldout.py --workdir workdirs/pix2pix \
      --out benchmarks/pix2pix

Prints and writes `<out>/heldout.json` (L1 in [-1, 1] units, PSNR, SSIM of
`metrics.image_quality`, for the trained and the untrained G, with the
versions, device and date) and `<out>/grid.png`: rows of source | generated
| target for the first `--grid_pairs` held-out pairs, 8 per row, scaled up
`--zoom` times (nearest neighbour) for viewing.
"""

import argparse
import datetime
import json
import pathlib
import platform

import flax
import jax
import ml_collections
import numpy as np

from stylegan_jax import checkpoint
from stylegan_jax import images
from stylegan_jax import model_io
from stylegan_jax import sharding
from stylegan_jax import translation
from stylegan_jax.data import pipeline
from stylegan_jax.train import setup as setup_lib


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--workdir", required=True)
  p.add_argument("--out", default="benchmarks/pix2pix")
  p.add_argument("--cols", type=int, default=8)
  p.add_argument("--grid_pairs", type=int, default=24,
                 help="Held-out pairs shown in the grid (the first ones).")
  p.add_argument("--zoom", type=int, default=3)
  args = p.parse_args()

  manager = checkpoint.create_manager(args.workdir, read_only=True)
  step = checkpoint.steps(manager)[-1]
  meta = checkpoint.read_config(manager, step)
  config = ml_collections.ConfigDict(meta["config"])
  held = pipeline.paired_eval_set(pipeline.DataConfig.from_config(
      config.data))
  model = model_io.load_model(args.workdir)
  trained = translation.translate(model, held["source"])
  untrained_state = setup_lib.build(config, 0,
                                    sharding.create_mesh(1)).init()
  untrained = translation.translate(
      model_io.Model(G=model.G, variables={
          "params": untrained_state.ema_params}, source="untrained"),
      held["source"])
  result = {
      "workdir": str(pathlib.Path(args.workdir).resolve().name),
      "step": step,
      "kimg": step * config.train.batch_size / 1000,
      "held_out_pairs": len(held["source"]),
      "resolution": config.data.resolution,
      "trained": translation.scores(trained, held["image"]),
      "untrained": translation.scores(untrained, held["image"]),
      "device": f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}",
      "versions": {"python": platform.python_version(),
                   "jax": jax.__version__, "flax": flax.__version__},
      "date": datetime.date.today().isoformat(),
  }
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  (out / "heldout.json").write_text(json.dumps(result, indent=2) + "\n")

  cols = args.cols
  n = min(args.grid_pairs, len(held["source"])) // cols * cols
  groups = np.stack([held["source"][:n], trained[:n], held["image"][:n]])
  groups = groups.reshape(3, n // cols, cols, *held["source"].shape[1:])
  rows = groups.transpose(1, 0, 2, 3, 4, 5).reshape(-1, *groups.shape[3:])
  grid = images.make_grid(rows, cols)
  grid = np.repeat(np.repeat(grid, args.zoom, axis=0), args.zoom, axis=1)
  images.save_png(grid, out / "grid.png")
  print(json.dumps(result, indent=2))
  print(f"wrote {out / 'heldout.json'} and {out / 'grid.png'}")


if __name__ == "__main__":
  main()
