r"""Paints an image in the style of others (`stylegan_jax.style_transfer`).

  python -m stylegan_jax.style_transfer --content photo.jpg \
      --style painting.jpg --vgg19 vgg19-dcbb9e9d.pth --out out/styled.png

runs the background material's recipe (shorter side 256 and a 256x256
centre crop, content layer conv_4, style layers conv_1..conv_5, weights 1:1,
300 L-BFGS steps from the content image) and writes the result at the
content image's size (its centre square under the recipe's crop), a GIF of
the optimisation (`--gif`, default: beside `--out`) and the numbers as JSON
(beside `--out`): style similarity (Gram-matrix distance to each style
image), content preservation (feature distance to the content image) and
SSIM to the content image, for the result and for the content image itself.

Variants: `--size 512` (keep the aspect, shorter side 512, no crop),
`--style_weight 1e6` (the PyTorch tutorial's balance), several `--style`
images with `--style_blend 0.7,0.3`, `--style_layers` /
`--style_layer_weights` / `--content_layers`, `--tv_weight`, `--init noise`,
`--optimizer adam --learning_rate 0.01`, `--clip_every_step`.

The VGG19 weights are torchvision's `vgg19-dcbb9e9d.pth` (bring the file;
nothing is downloaded); they are read without torch and cached converted
(`$STYLEGAN_JAX_CACHE`, default `~/.cache/stylegan_jax`).
"""

from collections.abc import Sequence
import dataclasses
import json
import os
import pathlib

import numpy as np

from stylegan_jax import images
from stylegan_jax import style_transfer
from stylegan_jax.errors import UserError
from stylegan_jax.features import weights
from stylegan_jax.tools import common

MAX_STEPS = 100_000
MAX_FRAMES = 1000  # GIF frames per run.
MAX_STYLES = 16


def build_parser() -> common.ArgumentParser:
  st = style_transfer
  p = common.parser("python -m stylegan_jax.style_transfer", __doc__)
  p.add_argument("--content", required=True, help="The content image.")
  p.add_argument("--style", required=True, action="extend", nargs="+",
                 help="One or more style images (repeat or list them).")
  p.add_argument("--vgg19", required=True,
                 help="torchvision's VGG19 weights, vgg19-dcbb9e9d.pth.")
  p.add_argument("--out", required=True, help="The output .png.")
  p.add_argument("--gif", default=None,
                 help="The progress GIF (default: --out with .gif).")
  p.add_argument("--style_blend", default=None,
                 help="Weights of the style images, e.g. '0.7,0.3' "
                 "(normalised; default: equal).")
  p.add_argument("--size", type=int, default=None,
                 help="Working shorter side, keeping the aspect (default: "
                 f"the recipe's {st.RECIPE_SIZE} with a centre crop).")
  p.add_argument("--content_layers", default=",".join(st.CONTENT_LAYERS),
                 help="VGG19 content layers, comma-separated ('' for none).")
  p.add_argument("--style_layers", default=",".join(st.STYLE_LAYERS),
                 help="VGG19 style layers, comma-separated.")
  p.add_argument("--style_layer_weights", default=None,
                 help="One weight per style layer (default: 1 each).")
  p.add_argument("--content_weight", type=float, default=1.0,
                 help="Weight of the content loss.")
  p.add_argument("--style_weight", type=float, default=1.0,
                 help="Weight of the style loss (the PyTorch tutorial: "
                 f"{st.TUTORIAL_STYLE_WEIGHT:g}).")
  p.add_argument("--tv_weight", type=float, default=0.0,
                 help="Weight of the total-variation loss.")
  p.add_argument("--init", default="content", choices=st.INITS,
                 help="Start from the content image or uniform noise.")
  p.add_argument("--optimizer", default="lbfgs", choices=st.OPTIMIZERS,
                 help="L-BFGS with a line search, or Adam.")
  p.add_argument("--num_steps", type=int, default=st.NUM_STEPS,
                 help="Optimisation steps.")
  p.add_argument("--learning_rate", type=float,
                 default=st.ADAM_LEARNING_RATE,
                 help="Adam's step size (pixels in [0, 1]).")
  common.add_bool(p, "clip_every_step", False,
                  "Clip the image to [0, 1] after every step.")
  p.add_argument("--seed", type=int, default=0, help="Seed of --init noise.")
  p.add_argument("--progress_every", type=int, default=10,
                 help="Steps between GIF frames (0: no GIF).")
  p.add_argument("--log_every", type=int, default=50,
                 help="Steps between progress lines (0: none).")
  return p


def load_vgg19(path: str | os.PathLike) -> dict:
  """The VGG19 params, or a UserError naming the file to bring."""
  try:
    return weights.load("vgg19", path)
  except weights.WeightsError as e:
    raise UserError(str(e)) from None


def read_rgb(path: str | os.PathLike, flag: str) -> np.ndarray:
  """uint8 [H, W, 3] from an image file, or a one-line UserError."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise UserError(f"{flag} {path} does not exist — name an image file")
  try:
    return images.read_image(path)
  except images.READ_ERRORS as e:
    raise UserError(f"cannot read {flag} {path} ({e}) — give an image "
                    "file pillow reads (PNG, JPEG, ...)") from None


def parse_floats(text: str | None, flag: str) -> tuple[float, ...] | None:
  """'0.7,0.3' -> (0.7, 0.3); None stays None."""
  if text is None:
    return None
  try:
    return tuple(float(v) for v in text.split(","))
  except ValueError:
    raise UserError(f"bad {flag} {text!r} — give comma-separated numbers, "
                    "e.g. '0.7,0.3'") from None


def parse_layers(text: str) -> tuple[str, ...]:
  return tuple(n.strip() for n in text.split(",") if n.strip())


def _run(args) -> None:
  st = style_transfer
  if not 0 <= args.num_steps <= MAX_STEPS:
    raise UserError(f"--num_steps must be in [0, {MAX_STEPS}], got "
                    f"{args.num_steps}")
  if args.size is not None and not st.MIN_SIZE <= args.size <= st.MAX_SIZE:
    raise UserError(f"--size must be in [{st.MIN_SIZE}, {st.MAX_SIZE}], "
                    f"got {args.size}")
  if args.progress_every < 0 or args.log_every < 0:
    raise UserError("--progress_every and --log_every must be >= 0")
  if args.progress_every and (
      args.num_steps // args.progress_every + 2 > MAX_FRAMES):
    raise UserError(f"--progress_every {args.progress_every} gives over "
                    f"{MAX_FRAMES} GIF frames — raise it")
  if len(args.style) > MAX_STYLES:
    raise UserError(f"{len(args.style)} style images — give at most "
                    f"{MAX_STYLES}")
  if not (np.isfinite(args.learning_rate) and args.learning_rate > 0):
    raise UserError(f"--learning_rate must be > 0, got {args.learning_rate}")
  recipe = st.Recipe(
      content_layers=parse_layers(args.content_layers),
      style_layers=parse_layers(args.style_layers),
      content_weight=args.content_weight, style_weight=args.style_weight,
      style_layer_weights=parse_floats(args.style_layer_weights,
                                       "--style_layer_weights"),
      tv_weight=args.tv_weight)
  recipe.check()
  blend = parse_floats(args.style_blend, "--style_blend")
  st.blend_weights(len(args.style), blend)
  out = pathlib.Path(args.out)
  if out.suffix.lower() != ".png":
    raise UserError(f"--out {out} is not a .png file — name e.g. "
                    "out/styled.png")
  common.check_output_file(out)
  if args.gif and not args.progress_every:
    raise UserError("--gif needs GIF frames — give --progress_every > 0")
  gif = None
  if args.progress_every:
    gif = pathlib.Path(args.gif) if args.gif else out.with_suffix(".gif")
    common.check_output_file(gif)
  numbers = out.with_suffix(".json")

  content = read_rgb(args.content, "--content")
  styles = [read_rgb(s, "--style") for s in args.style]
  crop = args.size is None
  work = st.working_shape(content.shape, args.size or st.RECIPE_SIZE, crop)
  if gif is not None:
    frames = args.num_steps // args.progress_every + 2
    common.check_memory(frames * work[0] * work[1] * 3.0, "the GIF frames")
  vgg_params = load_vgg19(args.vgg19)
  h, w = content.shape[:2]
  print(f"styling {args.content} ({w}x{h}) with "
        f"{', '.join(args.style)}: working size {work[1]}x{work[0]}"
        f"{' (centre crop)' if crop else ''}, {args.optimizer} "
        f"{args.num_steps} steps, weights content {args.content_weight:g} "
        f"style {args.style_weight:g} tv {args.tv_weight:g}", flush=True)
  result = st.transfer(
      vgg_params, content, styles, recipe=recipe, style_blend=blend,
      size=args.size or st.RECIPE_SIZE, crop=crop, init=args.init,
      optimizer=args.optimizer, num_steps=args.num_steps,
      learning_rate=args.learning_rate,
      clip_every_step=args.clip_every_step, seed=args.seed,
      progress_every=args.progress_every, log_every=args.log_every)

  images.save_png(result.image, out)
  written = [out]
  if gif is not None:
    images.write_gif(result.frames, gif, fps=10)
    written.append(gif)
  report = {
      "content": str(args.content), "styles": list(args.style),
      "style_blend": st.blend_weights(len(styles), blend).tolist(),
      "recipe": dataclasses.asdict(recipe),
      "size": args.size, "working_size": [work[0], work[1]],
      "output_size": list(result.image.shape[:2]),
      "init": args.init, "optimizer": args.optimizer,
      "num_steps": args.num_steps, "seconds": round(result.seconds, 2),
      "loss_start": float(result.losses[0]),
      "loss_end": float(result.losses[-1]),
      "scores": result.scores.as_dict(),
      "content_scores": result.content_scores.as_dict()}
  with images.atomic_path(numbers) as tmp:
    tmp.write_text(json.dumps(report, indent=1) + "\n")
  written.append(numbers)
  s, c = result.scores, result.content_scores
  for i, path in enumerate(args.style):
    print(f"style similarity to {path} (Gram-matrix distance, lower is "
          f"closer): {s.style_distance[i]:.6g} (content image: "
          f"{c.style_distance[i]:.6g})")
  print(f"content preservation (feature distance to the content image, "
        f"{','.join(recipe.content_layers) or 'no layers'}): "
        f"{s.content_distance:.6g}")
  print(f"SSIM to the content image: {s.ssim:.4f}")
  print(f"total loss {result.losses[0]:.6g} -> {result.losses[-1]:.6g} in "
        f"{result.seconds:.1f}s; wrote {', '.join(map(str, written))}")


def main(argv: Sequence[str] | None = None) -> None:
  common.run(_run, build_parser(), argv)


if __name__ == "__main__":
  main()
