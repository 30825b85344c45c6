r"""Projects an image into a model's latent space (`stylegan_jax.projector`).

  python -m stylegan_jax.project --model workdirs/demo --target face.png \
      --num_steps 1000 --outdir out/proj [--w_plus] \
      [--vgg16 vgg16-397923af.pth]

writes `projected_w.npz`, `proj.png`, `target.png` and `progress.gif`, and
prints PSNR and SSIM against the target.
"""

from collections.abc import Sequence
import time

from stylegan_jax import projector
from stylegan_jax.errors import UserError
from stylegan_jax.features import weights
from stylegan_jax.tools import common


def build_parser() -> common.ArgumentParser:
  p = common.parser("python -m stylegan_jax.project", __doc__)
  common.add_model_args(p)
  p.add_argument("--target", required=True, help="Image to project.")
  p.add_argument("--num_steps", type=int, default=1000,
                 help="Optimisation steps.")
  common.add_bool(p, "w_plus", False, "Optimise one w per synthesis input "
                  "(W+).")
  common.add_bool(p, "optimize_noise", True, "Optimise the per-layer noise "
                  "maps.")
  p.add_argument("--vgg16", default=None,
                 help="torchvision's VGG16 weights vgg16-397923af.pth (or "
                 ".pth.xz) for a feature loss at LPIPS's layers; default: "
                 "pixel + MS-SSIM loss.")
  p.add_argument("--cache_dir", default=None,
                 help="Where converted weights are cached (default "
                 "$STYLEGAN_JAX_CACHE or ~/.cache/stylegan_jax).")
  p.add_argument("--class", dest="class_label", default=None,
                 help="Class name or index (conditional models only).")
  p.add_argument("--seed", type=int, default=0, help="Random seed.")
  p.add_argument("--progress_every", type=int, default=10,
                 help="Steps between progress.gif frames.")
  common.add_outdir(p, "out/proj")
  return p


def _run(args) -> None:
  if not 1 <= args.num_steps <= 1_000_000:
    raise UserError(f"--num_steps must be in [1, 1000000], got "
                    f"{args.num_steps}")
  if args.progress_every < 0:
    raise UserError("--progress_every must be >= 0")
  out = common.prepare_outdir(args.outdir)
  model = common.load_model(args)
  G = model.G
  target = projector.load_target(args.target, G.img_resolution,
                                 G.img_channels)
  loss: str | projector.FeatureFn = "pixel_msssim"
  if args.vgg16:
    loss = projector.vgg16_features(
        weights.load("vgg16", args.vgg16, cache_dir=args.cache_dir))
  class_index = (model.class_index(args.class_label)
                 if args.class_label is not None else None)
  print(f"projecting {args.target} into {model.source} "
        f"({G.img_resolution}px, {'W+' if args.w_plus else 'W'}, "
        f"noise {'on' if args.optimize_noise else 'off'}, loss "
        f"{'vgg16' if args.vgg16 else 'pixel_msssim'})")
  start = time.time()
  result = projector.project(
      model, target, num_steps=args.num_steps, w_plus=args.w_plus,
      optimize_noise=args.optimize_noise, loss=loss, seed=args.seed,
      progress_every=args.progress_every, class_index=class_index,
      verbose=True)
  projector.write_outputs(out, result, target)
  print(f"PSNR {result.psnr:.2f} dB, SSIM {result.ssim:.4f} "
        f"({time.time() - start:.1f}s); wrote {out}/projected_w.npz, "
        "proj.png, target.png, progress.gif")


def main(argv: Sequence[str] | None = None) -> None:
  common.run(_run, build_parser(), argv)


if __name__ == "__main__":
  main()
