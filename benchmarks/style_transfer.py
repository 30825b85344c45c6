r"""The style-transfer example of RESULTS.md: procedural content and style.

  python benchmarks/style_transfer.py [--vgg19 vgg19-dcbb9e9d.pth] \
      [--num_steps 300] [--outdir benchmarks/style_transfer]

Renders a content image ('circles') and a style image ('mondrian') of the
embedded art set at 256 px, runs `python -m stylegan_jax.style_transfer`
with the recipe's defaults on them, and writes into `--outdir` the strip
`<name>.png` (content | style | result) and `<name>.json` (the tool's
numbers: style similarity, content preservation, SSIM); the tool's own
outputs (result, GIF) go to `--workdir`. Without `--vgg19` it uses the
fixture's ternary random VGG19 (../shared/reference), so the picture shows
only that the plumbing runs; with torchvision's real weights it is the
familiar result.
"""

import argparse
import json
import pathlib
import sys
import tempfile

import numpy as np
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# pylint: disable=g-import-not-at-top,wrong-import-position
from stylegan_jax import images
from stylegan_jax.data import embedded
from stylegan_jax.tools import style_transfer as tool

FIXTURE = (ROOT.parent / "shared" / "reference" /
           "vgg19_features_ternary_zip.pth.xz")
CONTENT = (embedded.STYLE_NAMES.index("circles"), 3)  # (style, seed)
STYLE = (embedded.STYLE_NAMES.index("mondrian"), 5)
SIZE = 256


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawTextHelpFormatter)
  p.add_argument("--vgg19", default=str(FIXTURE))
  p.add_argument("--num_steps", type=int, default=300)
  p.add_argument("--outdir", default=str(ROOT / "benchmarks" /
                                         "style_transfer"))
  p.add_argument("--name", default="example",
                 help="Names the strip and numbers: <name>.png, .json.")
  p.add_argument("--workdir", default=None,
                 help="Where the tool writes (default: a temporary folder).")
  p.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                 help="More flags for the tool, e.g. --style_weight 1e6.")
  args = p.parse_args()
  outdir = pathlib.Path(args.outdir)
  outdir.mkdir(parents=True, exist_ok=True)
  work = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="gatys-"))
  work.mkdir(parents=True, exist_ok=True)
  content = embedded.render(*CONTENT, SIZE)
  style = embedded.render(*STYLE, SIZE)
  images.save_png(content, work / "content.png")
  images.save_png(style, work / "style.png")
  tool.main(["--content", str(work / "content.png"),
             "--style", str(work / "style.png"), "--vgg19", args.vgg19,
             "--out", str(work / "result.png"),
             "--num_steps", str(args.num_steps)] + args.extra)
  with Image.open(work / "result.png") as img:
    result = np.asarray(img.convert("RGB"))
  strip = np.concatenate([content, style, result], axis=1)  # [256, 768, 3]
  images.save_png(strip, outdir / f"{args.name}.png")
  report = json.loads((work / "result.json").read_text())
  report["content"] = "embedded %s, seed %d, %d px" % (
      embedded.STYLE_NAMES[CONTENT[0]], CONTENT[1], SIZE)
  report["styles"] = ["embedded %s, seed %d, %d px" % (
      embedded.STYLE_NAMES[STYLE[0]], STYLE[1], SIZE)]
  report["vgg19"] = ("the fixture's ternary random VGG19" if pathlib.Path(
      args.vgg19).resolve() == FIXTURE.resolve() else
                     pathlib.Path(args.vgg19).name)
  (outdir / f"{args.name}.json").write_text(
      json.dumps(report, indent=1) + "\n")
  print(f"wrote {outdir / args.name}.png and .json (tool outputs in "
        f"{work})")


if __name__ == "__main__":
  main()
