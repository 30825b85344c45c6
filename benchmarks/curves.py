"""Training curves of finished runs, for the benchmarks: read and draw.

Owns reading a scalar that `train.loop` logged to a run's TensorBoard
event files (`logged_curve`) and a simple pillow line plot of several such
curves against kimg (`plot_curves`). The benchmark scripts import it as a
sibling module (each puts its own folder on `sys.path`).
"""

import math
import pathlib

from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),
           (148, 103, 189), (140, 86, 75), (227, 119, 194)]


def logged_curve(workdir: pathlib.Path, tag: str) -> list[tuple[float, float]]:
  """(kimg, value) of a scalar the loop logged to TensorBoard, by kimg."""
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=g-import-not-at-top
  from tensorboard.util import tensor_util  # pylint: disable=g-import-not-at-top
  points = {}
  for f in sorted((pathlib.Path(workdir) / "logs").glob(
      "events.out.tfevents.*")):
    acc = event_accumulator.EventAccumulator(str(f), size_guidance={
        event_accumulator.TENSORS: 0, event_accumulator.SCALARS: 0})
    acc.Reload()
    tags = acc.Tags()
    if tag in tags.get("tensors", []):
      for e in acc.Tensors(tag):
        points[e.step] = float(tensor_util.make_ndarray(e.tensor_proto))
    if tag in tags.get("scalars", []):
      for e in acc.Scalars(tag):
        points[e.step] = float(e.value)
  return [(step / 1000, value) for step, value in sorted(points.items())]


def font():
  """Pillow's default font (no font files needed)."""
  return ImageFont.load_default()


def plot_curves(curves: dict[str, list[tuple[float, float]]],
                path: pathlib.Path, title: str,
                size: tuple[int, int] = (720, 440)) -> pathlib.Path:
  """A line plot of value against kimg per model, as a PNG."""
  w, h = size
  left, right, top, bottom = 70, 150, 40, 50
  img = Image.new("RGB", size, "white")
  draw = ImageDraw.Draw(img)
  ft = font()
  values = [(x, y) for c in curves.values() for x, y in c if math.isfinite(y)]
  x_max = max([x for x, _ in values if x > 0] or [1.0])
  y_max = max([y for _, y in values if y > 0] or [1.0]) * 1.05

  def to_px(x, y):
    return (left + x / x_max * (w - left - right),
            h - bottom - y / y_max * (h - top - bottom))

  draw.rectangle([left, top, w - right, h - bottom], outline="black")
  for i in range(6):
    xv, yv = x_max * i / 5, y_max * i / 5
    px, _ = to_px(xv, 0)
    _, py = to_px(0, yv)
    draw.line([px, h - bottom, px, h - bottom + 4], fill="black")
    draw.text((px - 12, h - bottom + 8), f"{xv:.3g}", fill="black", font=ft)
    draw.line([left - 4, py, left, py], fill="black")
    draw.text((8, py - 6), f"{yv:.3g}", fill="black", font=ft)
  draw.text((left, 12), title, fill="black", font=ft)
  draw.text(((w - right + left) // 2 - 15, h - 18), "kimg", fill="black",
            font=ft)
  for i, (name, curve) in enumerate(curves.items()):
    colour = COLOURS[i % len(COLOURS)]
    pts = [to_px(x, y) for x, y in curve if math.isfinite(y)]
    if len(pts) > 1:
      draw.line(pts, fill=colour, width=2)
    for px, py in pts:
      draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
    ly = top + 10 + 18 * i
    draw.line([w - right + 10, ly + 6, w - right + 30, ly + 6], fill=colour,
              width=3)
    draw.text((w - right + 36, ly), name, fill="black", font=ft)
  path.parent.mkdir(parents=True, exist_ok=True)
  img.save(path)
  return path
