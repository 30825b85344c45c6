r"""Projects an image into a model's latent space (`stylegan_jax.projector`).

  python -m stylegan_jax.project --model workdirs/demo --target face.png \
      --num_steps 1000 --outdir out/proj [--w_plus] \
      [--vgg16 vgg16-397923af.pth]

writes `projected_w.npz`, `proj.png`, `target.png` and `progress.gif`, and
prints PSNR and SSIM against the target.

With a style target the search also matches a painting's style (Gatys et
al.'s Gram matrices on VGG19 conv_1..conv_5), so the image keeps the
target's structure and takes on the painting's style:

  python -m stylegan_jax.project --model workdirs/demo --target photo.png \
      --style painting.png --vgg19 vgg19-dcbb9e9d.pth --style_weight 1000 \
      --w_plus --outdir out/proj_styled

and also prints the style distance (the summed Gram-matrix MSE to each
style image).
"""

from collections.abc import Sequence
import time

from stylegan_jax import projector
from stylegan_jax import style_transfer
from stylegan_jax.errors import UserError
from stylegan_jax.features import weights
from stylegan_jax.tools import common
from stylegan_jax.tools import style_transfer as style_tool

# Default weight of the Gram-matrix term; a starting point, not calibrated
# (real VGG19 Gram MSEs of a photo vs a painting are ~1e-4 against a pixel
# loss of ~0.1): raise it for more style, lower it for more structure.
STYLE_WEIGHT = 1e3


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
  p.add_argument("--style", default=None, action="extend", nargs="+",
                 help="Style image(s): add their VGG19 Gram-matrix loss "
                 "(needs --vgg19).")
  p.add_argument("--style_blend", default=None,
                 help="Weights of the style images, e.g. '0.7,0.3' "
                 "(normalised; default: equal).")
  p.add_argument("--vgg19", default=None,
                 help="torchvision's VGG19 weights vgg19-dcbb9e9d.pth, for "
                 "--style.")
  p.add_argument("--style_weight", type=float, default=STYLE_WEIGHT,
                 help="Weight of the style loss.")
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
  if args.style and not args.vgg19:
    raise UserError("--style needs --vgg19 — bring torchvision's VGG19 "
                    "weights vgg19-dcbb9e9d.pth")
  if (args.vgg19 or args.style_blend) and not args.style:
    raise UserError("--vgg19 and --style_blend only serve --style — add "
                    "--style painting.png")
  blend = style_tool.parse_floats(args.style_blend, "--style_blend")
  if args.style:
    style_transfer.blend_weights(len(args.style), blend)
    style_transfer.Recipe(style_weight=args.style_weight).check()
  out = common.prepare_outdir(args.outdir)
  model = common.load_model(args)
  G = model.G
  target = projector.load_target(args.target, G.img_resolution,
                                 G.img_channels)
  style = None
  if args.style:
    styles = [style_tool.read_rgb(s, "--style") for s in args.style]
    side = min(G.img_resolution, projector.FEATURE_RESOLUTION)
    if side < style_transfer.MIN_SIZE:
      raise UserError(f"--style needs a model of at least "
                      f"{style_transfer.MIN_SIZE} px, got {side} px — "
                      "project without --style")
    style = style_transfer.style_objective(
        style_tool.load_vgg19(args.vgg19),
        [style_transfer.preprocess(s, side) for s in styles],
        weight=args.style_weight, blend=blend)
  loss: str | projector.FeatureFn = "pixel_msssim"
  if args.vgg16:
    loss = projector.vgg16_features(
        weights.load("vgg16", args.vgg16, cache_dir=args.cache_dir))
  class_index = (model.class_index(args.class_label)
                 if args.class_label is not None else None)
  print(f"projecting {args.target} into {model.source} "
        f"({G.img_resolution}px, {'W+' if args.w_plus else 'W'}, "
        f"noise {'on' if args.optimize_noise else 'off'}, loss "
        f"{'vgg16' if args.vgg16 else 'pixel_msssim'}"
        f"{f' + style x {args.style_weight:g}' if style else ''})")
  start = time.time()
  result = projector.project(
      model, target, num_steps=args.num_steps, w_plus=args.w_plus,
      optimize_noise=args.optimize_noise, loss=loss, seed=args.seed,
      progress_every=args.progress_every, class_index=class_index,
      verbose=True, style=style)
  projector.write_outputs(out, result, target)
  for path, d in zip(args.style or (), result.style_distance or ()):
    print(f"style distance to {path} (Gram-matrix MSE): {d:.6g}")
  print(f"PSNR {result.psnr:.2f} dB, SSIM {result.ssim:.4f} "
        f"({time.time() - start:.1f}s); wrote {out}/projected_w.npz, "
        "proj.png, target.png, progress.gif")


def main(argv: Sequence[str] | None = None) -> None:
  common.run(_run, build_parser(), argv)


if __name__ == "__main__":
  main()
