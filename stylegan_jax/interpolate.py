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
import pathlib
import shutil
import subprocess

from absl import app
from absl import flags
import numpy as np
from PIL import Image

from stylegan_jax import cli_utils
from stylegan_jax import images
from stylegan_jax import model_io

SPACES = ("w", "z")

_SPACE = flags.DEFINE_enum("space", "w", SPACES, "Walk in W (lerp) or Z "
                           "(slerp).")
_FRAMES_PER_SEED = flags.DEFINE_integer("frames_per_seed", 24, "Frames from "
                                        "one seed to the next.")
_LOOP = flags.DEFINE_bool("loop", False, "Walk back to the first seed.")
_FPS = flags.DEFINE_integer("fps", 24, "Frames per second of the GIF/MP4.")
_MP4 = flags.DEFINE_bool("mp4", True, "Also write walk.mp4 if ffmpeg is "
                         "available.")

for _name in ("model", "seeds", "truncation_psi", "truncation_cutoff", "class",
              "noise_mode", "batch_size", "outdir"):
  flags.declare_key_flag(_name)


def lerp(a, b, t):
  """(1 - t) a + t b; exact at t = 0 and t = 1.

  Args:
    a, b: arrays of one shape, e.g. ws [num_ws, w_dim].
    t: a float, or an array broadcastable against a.
  """
  a, b = np.asarray(a), np.asarray(b)
  return ((1 - t) * a + t * b).astype(np.result_type(a, b))


def slerp(a, b, t, eps: float = 1e-7):
  """Spherical interpolation along the last axis; exact at t = 0 and 1.

  Follows the great circle between a's and b's directions, with weights
  sin((1 - t) theta) / sin(theta) and sin(t theta) / sin(theta) on a and b
  themselves, so unit-norm inputs stay unit norm and the angle to a grows
  linearly in t. Nearly parallel inputs fall back to `lerp`.

  Args:
    a, b: [..., D].
    t: a float, or an array broadcastable against a[..., :1].

  Returns:
    [..., D], in a's and b's dtype.
  """
  a, b = np.asarray(a), np.asarray(b)
  dtype = np.result_type(a, b)
  a64, b64 = a.astype(np.float64), b.astype(np.float64)
  t = np.asarray(t, np.float64)
  if t.ndim:
    t = t[..., None] if t.shape[-1:] != (1,) else t
  na = np.linalg.norm(a64, axis=-1, keepdims=True)
  nb = np.linalg.norm(b64, axis=-1, keepdims=True)
  cos = np.sum(a64 * b64, axis=-1, keepdims=True) / np.maximum(na * nb, 1e-30)
  theta = np.arccos(np.clip(cos, -1.0, 1.0))
  sin = np.sin(theta)
  parallel = sin < eps
  safe = np.where(parallel, 1.0, sin)
  wa = np.where(parallel, 1 - t, np.sin((1 - t) * theta) / safe)
  wb = np.where(parallel, t, np.sin(t * theta) / safe)
  return (wa * a64 + wb * b64).astype(dtype)


def walk_schedule(num_seeds: int, frames_per_seed: int,
                  loop: bool) -> list[tuple[int, int, float]]:
  """(from index, to index, t) for every frame.

  (k - 1) * frames_per_seed + 1 frames for k seeds, or k * frames_per_seed
  with `loop`.
  """
  if num_seeds < 2:
    raise ValueError(f"a walk needs at least 2 seeds, got {num_seeds}")
  if frames_per_seed < 1:
    raise ValueError(f"frames_per_seed must be >= 1, got {frames_per_seed}")
  segments = num_seeds if loop else num_seeds - 1
  out = [(i, (i + 1) % num_seeds, j / frames_per_seed)
         for i in range(segments) for j in range(frames_per_seed)]
  if not loop:
    out.append((num_seeds - 1, num_seeds - 1, 0.0))
  return out


def interpolation_frames(model: model_io.Model, seeds: Sequence[int], *,
                         space: str = "w", frames_per_seed: int = 24,
                         loop: bool = False, truncation_psi: float = 1.0,
                         truncation_cutoff: int | None = None,
                         class_label: str | int | None = None,
                         noise_mode: str = "const",
                         batch_size: int = 8) -> np.ndarray:
  """Renders a latent walk through `seeds`.

  Args:
    model: a loaded `model_io.Model`.
    seeds: k >= 2 seeds, visited in order.
    space: 'w' (lerp of mapped ws) or 'z' (slerp of z, then mapped).
    frames_per_seed: frames per step from one seed to the next.
    loop: also walk from the last seed back to the first.
    truncation_psi, truncation_cutoff: applied when mapping.
    class_label: class name or index (conditional models only).
    noise_mode: 'const', 'random' (one noise draw, keyed by the first seed,
      for every frame, so the walk does not flicker) or 'none'.
    batch_size: frames per generator call.

  Returns:
    uint8 [T, H, W, C]; T as in `walk_schedule`.
  """
  if space not in SPACES:
    raise ValueError(f"space must be one of {SPACES}, got {space!r}")
  schedule = walk_schedule(len(seeds), frames_per_seed, loop)
  if space == "w":
    keys = cli_utils.map_seeds(model, seeds, class_label, truncation_psi,
                               truncation_cutoff, batch_size)
    ws = np.stack([lerp(keys[i], keys[j], t) for i, j, t in schedule])
  else:
    keys = cli_utils.z_from_seeds(seeds, model.G.z_dim)
    z = np.stack([slerp(keys[i], keys[j], t) for i, j, t in schedule])
    c = cli_utils.labels(model, class_label, len(z))
    ws = cli_utils.map_z(model, z, c, truncation_psi, truncation_cutoff,
                         batch_size)
  noise_seeds = [seeds[0]] * len(ws)
  return cli_utils.synthesize(model, ws, noise_mode, noise_seeds, batch_size)


def _frames_for_pil(frames: np.ndarray) -> list[Image.Image]:
  if frames.shape[-1] == 1:
    frames = frames[..., 0]
  return [Image.fromarray(f) for f in frames]


def write_gif(frames: np.ndarray, path, fps: int = 24) -> pathlib.Path:
  """uint8 [T, H, W, C] -> an endlessly looping animated GIF."""
  path = pathlib.Path(path)
  first, *rest = _frames_for_pil(frames)
  first.save(path, save_all=True, append_images=rest,
             duration=max(20, round(1000 / fps)), loop=0)
  return path


def write_mp4(frames: np.ndarray, path, fps: int = 24) -> pathlib.Path | None:
  """uint8 [T, H, W, C] -> H.264 MP4 via ffmpeg; None if ffmpeg is absent."""
  ffmpeg = shutil.which("ffmpeg")
  if ffmpeg is None:
    return None
  path = pathlib.Path(path)
  if frames.shape[-1] == 1:
    frames = np.repeat(frames, 3, axis=-1)
  t, h, w, _ = frames.shape
  # yuv420p (what players expect) needs even sizes; pad by edge pixels.
  frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), "edge")
  cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-s", f"{w + w % 2}x{h + h % 2}",
         "-r", str(fps), "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         str(path)]
  result = subprocess.run(cmd, input=np.ascontiguousarray(frames).tobytes(),
                          capture_output=True, check=False)
  if result.returncode:
    raise RuntimeError(f"ffmpeg failed ({t} frames to {path}): "
                       f"{result.stderr.decode(errors='replace')[-1000:]}")
  return path


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    seeds = cli_utils.parse_range(cli_utils.SEEDS.value, "seeds")
    if _FPS.value < 1:
      raise ValueError(f"--fps must be >= 1, got {_FPS.value}")
    model = cli_utils.load(cli_utils.MODEL.value)
    frames = interpolation_frames(
        model, seeds, space=_SPACE.value,
        frames_per_seed=_FRAMES_PER_SEED.value, loop=_LOOP.value,
        **cli_utils.generation_kwargs())
  except (ValueError, FileNotFoundError) as e:
    raise app.UsageError(str(e)) from e
  out = cli_utils.outdir(cli_utils.OUTDIR.value)
  for i, frame in enumerate(frames):
    images.save_png(frame, out / f"frame{i:05d}.png")
  print(f"wrote {len(frames)} frames to {out.resolve()}/frame*.png")
  print(f"wrote {write_gif(frames, out / 'walk.gif', _FPS.value).resolve()}")
  if _MP4.value:
    mp4 = write_mp4(frames, out / "walk.mp4", _FPS.value)
    if mp4 is None:
      print("no ffmpeg on PATH: skipped walk.mp4")
    else:
      print(f"wrote {mp4.resolve()}")


if __name__ == "__main__":
  app.run(main)
