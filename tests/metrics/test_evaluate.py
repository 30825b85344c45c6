"""metrics: swd of a saved model, paired folders, corrupt files, errors.

The Inception metrics end to end are in tests/evaluators/test_inception.py.
"""

import json
import math

import numpy as np
from PIL import Image
import pytest

from stylegan_jax import images as images_lib
from stylegan_jax import model_io
from stylegan_jax.data import embedded
from stylegan_jax.evaluators import reals as reals_lib
from stylegan_jax.metrics import evaluate
from stylegan_jax.tools import metrics as metrics_tool
from tests.tools import make_model
from tests.tools import user_error


def _run_cli(argv, lines):
  """The metrics command on `argv`, printing into `lines`."""
  args = metrics_tool.build_parser().parse_args(argv)
  return metrics_tool.run(args, print_fn=lines.append)

# Few directions keep the SWD sort cheap on CPU.
_SWD_FAST = {"swd_directions": 16}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
  return model_io.save_model(tmp_path_factory.mktemp("m") / "g.npz",
                           make_model(c_dim=0))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
  """A folder of 6 PNGs (one in a subfolder) and a noised copy of it."""
  root = tmp_path_factory.mktemp("pairs")
  clean, noisy = root / "clean", root / "noisy"
  images, _ = embedded.make_dataset(6, 32, seed=3)
  rng = np.random.default_rng(0)
  for i, image in enumerate(images):
    name = f"sub/img{i}.png" if i == 5 else f"img{i}.png"
    for folder, x in [(clean, image),
                      (noisy, image + rng.normal(0, 20, image.shape))]:
      (folder / name).parent.mkdir(parents=True, exist_ok=True)
      Image.fromarray(np.clip(x, 0, 255).astype(np.uint8)).save(folder / name)
  return clean, noisy


def test_swd_model_vs_embedded_cli(model_path, tmp_path):
  out = tmp_path / "r.json"
  lines = []
  record = _run_cli([
      "--metrics", "swd", "--model", str(model_path), "--data", "embedded",
      "--num_images", "64", "--swd_directions", "16", "--json_out", str(out)],
                    lines)
  values = record["metrics"]
  # 8x8 images: one pyramid level (7x7 patches fit no coarser one).
  assert list(values) == ["swd/8", "swd/avg"]
  assert all(math.isfinite(v) and v > 0 for v in values.values())
  assert lines[0] == f"swd/8 {values['swd/8']:.4f}"
  assert any(line.startswith("swd/avg ") for line in lines)
  saved = json.loads(out.read_text())
  assert saved["metrics"] == pytest.approx(values)
  assert saved["model"] == str(model_path) and saved["data"] == "embedded"
  assert saved["counts"] == {"swd/generated": 64, "swd/real": 64}
  for key in ("date", "device", "jax_version"):
    assert saved[key]


def test_swd_is_seeded_and_reads_short_folders(model_path, folders):
  model = model_io.load_model(model_path)
  kwargs = dict(model=model, data="embedded", log=lambda _: None)
  a = evaluate.evaluate(["swd"], evals=dict(_SWD_FAST, max_images=32),
                        **kwargs)["metrics"]
  b = evaluate.evaluate(["swd"], evals=dict(_SWD_FAST, max_images=32),
                        **kwargs)["metrics"]
  assert a == b
  c = evaluate.evaluate(["swd"], evals=dict(_SWD_FAST, max_images=32, seed=1),
                        **kwargs)["metrics"]
  assert c != a
  # Real images from a folder: fewer than asked, so all are used, said once.
  record = evaluate.evaluate(["swd"], model=model, data=folders[0],
                             evals=dict(_SWD_FAST, max_images=32),
                             log=lambda _: None)
  assert record["counts"] == {"swd/generated": 6, "swd/real": 6}
  assert sum("only 6 readable real images" in n for n in record["notes"]) == 1


def test_paired_identical_and_noised(folders):
  clean, noisy = folders
  metrics = ["psnr", "ssim", "ms_ssim"]
  same = evaluate.evaluate(metrics, data=clean, data2=clean)
  assert same["metrics"]["psnr"] == math.inf
  assert same["metrics"]["ssim"] == pytest.approx(1.0, abs=1e-5)
  assert same["metrics"]["ms_ssim"] == pytest.approx(1.0, abs=1e-5)
  assert same["counts"]["pairs"] == 6
  noised = evaluate.evaluate(metrics, data=clean, data2=noisy)["metrics"]
  assert 10 < noised["psnr"] < 40
  assert noised["ssim"] < 0.95 and noised["ms_ssim"] < 0.98


def test_paired_cli_writes_strict_json(folders, tmp_path):
  clean, _ = folders
  out = tmp_path / "p.json"
  lines = []
  _run_cli(["--metrics", "psnr,ssim", "--data", str(clean),
            "--data2", str(clean), "--json_out", str(out)], lines)
  assert lines[:2] == ["psnr inf", "ssim 1.0000"]
  saved = json.loads(out.read_text())  # Strict: no bare Infinity.
  assert saved["metrics"]["psnr"] == "inf" and saved["model"] is None


def test_corrupt_files_are_skipped_and_counted(folders, tmp_path):
  clean, _ = folders
  mixed = tmp_path / "mixed"
  mixed.mkdir()
  for i in range(4):
    (mixed / f"img{i}.png").write_bytes((clean / f"img{i}.png").read_bytes())
  (mixed / "bad0.png").write_bytes(b"not an image")
  (mixed / "bad1.jpg").write_bytes((clean / "img0.png").read_bytes()[:40])
  (mixed / "notes.txt").write_text("ignored: not an image extension")
  reals = reals_lib.RealImages("folder", path=str(mixed))
  skipped = []
  images = reals.read(100, 8, 3, skipped)
  assert images.shape == (4, 8, 8, 3) and images.dtype == np.uint8
  assert reals.count == 6
  assert sorted(skipped) == ["bad0.png", "bad1.jpg"]
  record = evaluate.evaluate(["psnr"], data=clean, data2=mixed)
  # img4 and sub/img5 only in clean; bad0 and bad1 only in mixed.
  assert record["counts"] == {"pairs": 4, "pairs/skipped": 0,
                              "pairs/unmatched": 4}
  (mixed / "img3.png").write_bytes(b"broken")
  record = evaluate.evaluate(["psnr"], data=clean, data2=mixed)
  assert record["counts"]["pairs"] == 3
  assert record["counts"]["pairs/skipped"] == 1
  [note] = [n for n in record["notes"] if "unreadable" in n]
  assert note.startswith("skipped 1 unreadable file in") and "img3.png" in note


def test_read_image_crops_and_resizes(tmp_path):
  wide = np.zeros((20, 40, 4), np.uint8)
  wide[:, 10:30] = (255, 0, 0, 255)  # the centre square is opaque red
  Image.fromarray(wide, "RGBA").save(tmp_path / "w.png")
  x = images_lib.read_image(tmp_path / "w.png", 8)
  assert x.shape == (8, 8, 3)
  np.testing.assert_array_equal(x[4, 4], [255, 0, 0])
  assert images_lib.read_image(tmp_path / "w.png", 8,
                               channels=1).shape == (8, 8, 1)


@pytest.mark.parametrize("metrics,kwargs,match", [
    (["psnr"], {"data": "embedded"}, "psnr needs paired images"),
    (["ssim", "swd"], {"data": "embedded"}, "--data2"),
    (["swd"], {"data": "embedded", "model": None}, "pass --model"),
    (["fid"], {"data": "embedded"}, "unknown metrics"),
    (["swd"], {}, "--data is required"),
    (["psnr"], {"data": "embedded", "data2": "embedded"}, "no pairs"),
])
def test_errors(model_path, metrics, kwargs, match):
  kwargs = {"model": model_path, **kwargs}
  with pytest.raises(ValueError, match=match):
    evaluate.evaluate(metrics, **kwargs)


@pytest.mark.parametrize("argv, match", [
    (["--metrics", "psnr", "--data", "embedded"], "paired images"),
    (["--data", "/nonexistent/folder"], "not a folder"),
    (["--data", "embedded", "--swd_directions", "0"], "swd_directions"),
    (["--data", "embedded", "--swd_directions", "1000000000"],
     "swd_directions"),
    (["--data", "embedded", "--truncation_psi", "nan"], "finite"),
])
def test_cli_errors_are_one_line(model_path, argv, match, capsys):
  line = user_error(metrics_tool.main, ["--model", str(model_path), *argv],
                    capsys)
  assert match in line
