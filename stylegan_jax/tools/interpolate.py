r"""Latent walks between seeds: frame PNGs, an animated GIF and an MP4.

  python -m stylegan_jax.interpolate --model workdirs/demo --seeds 0,5,9 \
      --space w --frames_per_seed 24 --loop --outdir out

walks from each seed to the next (and back to the first with `--loop`):
linearly in W (the default; ws mapped with truncation and class, then
lerped) or along great circles in Z (slerp, then mapped). Writes
`frame00000.png`..., `walk.gif`, and `walk.mp4` when `ffmpeg` is on the
PATH (skipped, with a note, otherwise). Without `--loop` the first frame is
the first seed's image and the last frame the last seed's; with it the walk
ends one step before the first seed, so the animation repeats seamlessly.
"""

from collections.abc import Sequence

from stylegan_jax import images
from stylegan_jax import sampling
from stylegan_jax.errors import UserError
from stylegan_jax.tools import common


def build_parser() -> common.ArgumentParser:
  p = common.parser("python -m stylegan_jax.interpolate", __doc__)
  common.add_model_args(p)
  p.add_argument("--seeds", required=True, help="Seeds to visit, e.g. "
                 "'0,5,9'.")
  p.add_argument("--space", default="w", choices=sampling.SPACES,
                 help="Walk in W (lerp) or Z (slerp).")
  p.add_argument("--frames_per_seed", type=int, default=24,
                 help="Frames from one seed to the next.")
  common.add_bool(p, "loop", False, "Walk back to the first seed.")
  p.add_argument("--fps", type=int, default=24,
                 help="Frames per second of the GIF/MP4.")
  common.add_bool(p, "mp4", True, "Also write walk.mp4 if ffmpeg is there.")
  common.add_generation_args(p)
  common.add_outdir(p)
  return p


def _run(args) -> None:
  seeds = common.parse_range(args.seeds, "seeds", max_count=10_000)
  if args.fps < 1:
    raise UserError(f"--fps must be >= 1, got {args.fps}")
  if args.frames_per_seed < 1:
    raise UserError(f"--frames_per_seed must be >= 1, got "
                    f"{args.frames_per_seed}")
  frames_total = len(seeds) * args.frames_per_seed
  if frames_total > common.MAX_IMAGES:
    raise UserError(f"{frames_total:,} frames is over the "
                    f"{common.MAX_IMAGES:,}-frame limit — use fewer seeds or "
                    "--frames_per_seed")
  kwargs = common.generation_kwargs(args)
  out = common.prepare_outdir(args.outdir)
  model = common.load_model(args)
  res, ch = model.G.img_resolution, model.G.img_channels
  common.check_memory(2.0 * frames_total * res * res * ch, "this walk")
  frames = sampling.interpolation_frames(
      model, seeds, space=args.space, frames_per_seed=args.frames_per_seed,
      loop=args.loop, **kwargs)
  for i, frame in enumerate(frames):
    images.save_png(frame, out / f"frame{i:05d}.png")
  print(f"wrote {len(frames)} frames to {out.resolve()}/frame*.png")
  gif = images.write_gif(frames, out / "walk.gif", args.fps)
  print(f"wrote {gif.resolve()}")
  if args.mp4:
    mp4 = images.write_mp4(frames, out / "walk.mp4", args.fps)
    print("no ffmpeg on PATH: skipped walk.mp4" if mp4 is None
          else f"wrote {mp4.resolve()}")


def main(argv: Sequence[str] | None = None) -> None:
  common.run(_run, build_parser(), argv)


if __name__ == "__main__":
  main()
