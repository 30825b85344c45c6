"""translate: a pix2pix workdir applied to folders, pairs scored, errors."""

import json
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from stylegan_jax import checkpoint
from stylegan_jax import images
from stylegan_jax import model_io
from stylegan_jax import sharding
from stylegan_jax import translate
from stylegan_jax import translation
from stylegan_jax.data import paired
from stylegan_jax.train import setup
from tests.tools import run_main
from tests.tools import user_error
from tests.train.test_pix2pix import RES
from tests.train.test_pix2pix import tiny_config


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  """A checkpoint of an (untrained) 16 px pix2pix, as training writes it."""
  path = tmp_path_factory.mktemp("p2p")
  config = tiny_config(1)
  state = setup.build(config, 0, sharding.create_mesh(1)).init()
  manager = checkpoint.create_manager(path)
  checkpoint.save(manager, 0, state, {
      "config": json.loads(config.to_json_best_effort()), "c_dim": 0,
      "class_names": []}, wait=True)
  return path


@pytest.fixture(scope="module")
def model(workdir):
  return model_io.load_model(str(workdir))


def test_translates_a_folder_at_the_models_resolution(workdir, model,
                                                      tmp_path):
  src, _ = paired.make_pairs(3, 24)
  inputs = tmp_path / "in"
  images.save_png(src[0], inputs / "a.png")
  images.save_png(src[1][:, :20], inputs / "sub" / "b.png")  # Not square.
  Image.fromarray(src[2]).save(inputs / "c.jpg")
  out = tmp_path / "out"
  run_main(translate.main, ["--model", str(workdir), "--input", str(inputs),
                            "--outdir", str(out), "--batch_size", "2"])
  names = ["a.png", "c.png", "sub/b.png"]
  assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == names
  sources = np.stack([images.read_image(inputs / n, RES)
                      for n in ("a.png", "c.jpg", "sub/b.png")])
  want = images.to_uint8(translation.translate(model,
                                               images.to_float(sources)))
  for name, expected in zip(names, want):
    got = np.asarray(Image.open(out / name))
    assert got.shape == (RES, RES, 3)
    # Batches of 2 here, of 3 above: at most one level of rounding apart.
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_side_by_side_pairs_are_scored(workdir, model, tmp_path, capsys):
  src, tgt = paired.make_pairs(3, RES)
  for i in range(3):
    images.save_png(np.concatenate([tgt[i], src[i]], axis=1),
                    tmp_path / "in" / f"{i}.png")  # B|A on disk.
  capsys.readouterr()
  run_main(translate.main, ["--model", str(workdir), "--input",
                            str(tmp_path / "in"), "--layout", "side_by_side",
                            "--direction", "BtoA", "--compare", "--outdir",
                            str(tmp_path / "out")])
  printed = capsys.readouterr().out
  fake = translation.translate(model, images.to_float(src))
  s = translation.scores(fake, images.to_float(tgt))
  assert s["ssim"] is not None
  assert (f"L1 {s['l1']:.4f}, PSNR {s['psnr']:.2f} dB, SSIM {s['ssim']:.4f}"
          in printed), printed
  compare = np.asarray(Image.open(tmp_path / "out" / "compare.png"))
  assert compare.shape == (3 * RES, 3 * RES, 3)  # source | result | target
  np.testing.assert_array_equal(compare[:RES, :RES], src[0])
  np.testing.assert_array_equal(compare[:RES, 2 * RES:], tgt[0])


def test_dropout_changes_the_result(workdir, tmp_path):
  src, _ = paired.make_pairs(2, RES)
  images.save_png(src[0], tmp_path / "in" / "a.png")
  outs = []
  for flag in ("--nodropout", "--dropout"):
    out = tmp_path / flag
    run_main(translate.main, ["--model", str(workdir), "--input",
                              str(tmp_path / "in" / "a.png"), flag,
                              "--outdir", str(out)])
    outs.append(np.asarray(Image.open(out / "a.png")))
  assert not np.array_equal(*outs)


def test_mistakes_are_one_line(workdir, tmp_path, capsys):
  line = user_error(translate.main, ["--model", str(workdir), "--input",
                                     str(tmp_path / "nothing")], capsys)
  assert "does not exist" in line
  (tmp_path / "empty").mkdir()
  line = user_error(translate.main, ["--model", str(workdir), "--input",
                                     str(tmp_path / "empty")], capsys)
  assert "holds no images" in line
  images.save_png(np.zeros((8, 8, 3), np.uint8), tmp_path / "x" / "a.png")
  images.save_png(np.zeros((8, 8, 3), np.uint8), tmp_path / "x" / "a.jpg")
  line = user_error(translate.main, ["--model", str(workdir), "--input",
                                     str(tmp_path / "x")], capsys)
  assert "would both be written as a.png" in line


def test_a_stylegan_model_is_refused(uncond_path, tmp_path, capsys):
  images.save_png(np.zeros((8, 8, 3), np.uint8), tmp_path / "a.png")
  line = user_error(translate.main, ["--model", str(uncond_path), "--input",
                                     str(tmp_path / "a.png"), "--outdir",
                                     str(tmp_path / "o")], capsys)
  assert "is not a pix2pix model" in line


def test_translating_imports_no_train_nor_tensorflow(workdir):
  code = (
      "import sys\n"
      "sys.modules['tensorflow'] = None\n"
      "import numpy as np\n"
      "from stylegan_jax.tools import translate\n"
      "from stylegan_jax import model_io, translation\n"
      f"model = model_io.load_model({str(workdir)!r})\n"
      f"out = translation.translate(model, np.zeros((2, {RES}, {RES}, 3)))\n"
      f"assert out.shape == (2, {RES}, {RES}, 3), out.shape\n"
      "loaded = sorted(m for m in sys.modules\n"
      "                if m.startswith(('stylegan_jax.train', 'tensorflow'))\n"
      "                and sys.modules[m] is not None)\n"
      "print('loaded:', loaded)\n")
  result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip().endswith("loaded: []"), result.stdout
