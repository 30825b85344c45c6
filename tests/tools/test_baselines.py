"""The tools on classic baseline models: export, generate, SWD, clear refusals.

The main model is a 1-channel 28 x 28 MLP generator (the MLP GAN's shape)
with random weights, exported and loaded back as the tools load it. What
needs W (style mixing, truncation, W walks, projection) must say in one line
that it needs a StyleGAN model.
"""

import json
import zipfile

import jax
import numpy as np
from PIL import Image
import pytest

from stylegan_jax import generate
from stylegan_jax import images
from stylegan_jax import interpolate
from stylegan_jax import model_io
from stylegan_jax import sampling
from stylegan_jax import style_mixing
from stylegan_jax.data import glyphs
from stylegan_jax.metrics import swd
from stylegan_jax.nets import dcgan
from stylegan_jax.nets import mlp
from stylegan_jax.nets import vanilla
from stylegan_jax.tools import metrics as metrics_tool
from tests.tools import run_main
from tests.tools import user_error


def _model(G, D, class_names=()):
  z = np.zeros((1, G.z_dim), np.float32)
  c = np.zeros((1, G.c_dim), np.float32)
  img = np.zeros((1, D.img_resolution, D.img_resolution, D.img_channels),
                 np.float32)
  return model_io.Model(G=G, variables=G.init(jax.random.key(0), z, c),
                        class_names=class_names, source="test baseline",
                        D=D, d_variables=D.init(jax.random.key(1), img, c))


@pytest.fixture(scope="module")
def gray(tmp_path_factory):
  """A 1-channel 28 x 28 MLP model, exported; (model, its .npz path)."""
  kwargs = dict(variant="torch", img_resolution=28, img_channels=1,
                hidden=(16,))
  model = _model(mlp.MLPGenerator(z_dim=8, **kwargs),
                 mlp.MLPDiscriminator(**kwargs))
  path = model_io.save_model(tmp_path_factory.mktemp("m") / "mlp.npz", model)
  return model, path


def test_export_round_trip(gray):
  model, path = gray
  loaded = model_io.load_model(path)
  assert loaded.family == "mlp" and not loaded.is_stylegan
  assert loaded.G == model.G and loaded.D == model.D
  assert set(loaded.variables) == {"params"}
  with zipfile.ZipFile(path) as archive:
    config = json.loads(str(np.load(archive.open("config.npy"))))
  assert config["family"] == "mlp" and config["generator"]["hidden"] == [16]
  z = sampling.z_from_seeds([3, 4], 8)
  np.testing.assert_array_equal(loaded.generate(z), model.generate(z))


@pytest.mark.parametrize("family,G,D", [
    ("dcgan", dcgan.DCGANGenerator(z_dim=4, c_dim=2, img_resolution=28,
                                   img_channels=1, channels=8,
                                   channel_min=4),
     dcgan.DCGANDiscriminator(c_dim=2, img_resolution=28, img_channels=1,
                              channels=4, channel_max=8)),
    ("vanilla", vanilla.VanillaGenerator(z_dim=4, c_dim=2, img_resolution=8,
                                         channels=8, channel_min=4),
     vanilla.VanillaDiscriminator(c_dim=2, img_resolution=8, channels=4,
                                  channel_max=8))])
def test_conv_exports_round_trip(family, G, D, tmp_path):
  model = _model(G, D, class_names=("a", "b"))
  loaded = model_io.load_model(model_io.save_model(tmp_path / "m.npz", model))
  assert loaded.family == family and loaded.G == G and loaded.D == D
  assert loaded.class_names == ("a", "b")
  got = sampling.generate_images(loaded, [0, 1], class_label="b")
  z = sampling.z_from_seeds([0, 1], 4)
  c = np.tile(np.float32([[0, 1]]), (2, 1))
  np.testing.assert_array_equal(got, images.to_uint8(model.generate(z, c)))


def _tamper(path, tmp_path, **changes):
  with zipfile.ZipFile(path) as archive:
    arrays = {n[:-4]: np.load(archive.open(n)) for n in archive.namelist()}
  config = json.loads(str(arrays.pop("config")))
  for key, value in changes.items():
    if key == "hidden":
      config["generator"]["hidden"] = value
    else:
      config[key] = value
  out = tmp_path / "tampered.npz"
  np.savez(out, config=np.asarray(json.dumps(config)), **arrays)
  return out


def test_tampered_baseline_exports_are_refused(gray, tmp_path):
  _, path = gray
  for changes, match in [({"family": "biggan"}, "unknown network family"),
                         ({"hidden": [16, "x"]}, "hidden is not a short"),
                         ({"hidden": [0]}, "hidden is not a short"),
                         ({"family": "stylegan2"}, "unknown generator")]:
    with pytest.raises(model_io.ModelFileError, match=match) as info:
      model_io.load_model(_tamper(path, tmp_path, **changes))
    assert "\n" not in str(info.value)


def test_generate_cli_writes_grayscale_28px(gray, tmp_path):
  model, path = gray
  run_main(generate.main, ["--model", str(path), "--seeds", "0-3",
                           "--batch_size", "3", "--outdir", str(tmp_path),
                           "--grid"])
  z = sampling.z_from_seeds([0, 1, 2, 3], 8)
  want = images.to_uint8(model.generate(z))  # [4, 28, 28, 1]
  for seed in range(4):
    with Image.open(tmp_path / f"seed{seed:04d}.png") as image:
      assert image.mode == "L" and image.size == (28, 28)
      np.testing.assert_array_equal(np.asarray(image), want[seed, ..., 0])
  with Image.open(tmp_path / "grid.png") as grid:
    assert grid.mode == "L" and grid.size == (56, 56)


def test_metrics_swd_on_glyphs(gray, tmp_path, capsys):
  model, path = gray
  out = tmp_path / "swd.json"
  run_main(metrics_tool.main, ["--metrics", "swd", "--model", str(path),
                               "--data", "glyphs", "--num_images", "32",
                               "--swd_directions", "64", "--json_out",
                               str(out)])
  record = json.loads(out.read_text())
  assert record["counts"] == {"swd/generated": 32, "swd/real": 32}
  # The same distance computed here from its definition's inputs.
  fakes = sampling.generate_images(model, range(32))
  reals, _ = glyphs.make_dataset(32, 0, 28)
  want = swd.swd(images.to_float(fakes), images.to_float(reals),
                 jax.random.key(0), num_directions=64)
  assert record["metrics"] == pytest.approx(want, rel=1e-6)
  assert f"swd/avg {want['swd/avg']:.4f}" in capsys.readouterr().out


def test_what_needs_w_says_so_in_one_line(gray, tmp_path, capsys):
  _, path = gray
  model = ["--model", str(path)]
  out = ["--outdir", str(tmp_path)]
  for main, args, what in [
      (style_mixing.main, ["--rows", "1-2", "--cols", "3"], "style mixing"),
      (interpolate.main, ["--seeds", "1,2"], "a walk in W"),
      (generate.main, ["--seeds", "0", "--truncation_psi", "0.5"],
       "truncation")]:
    line = user_error(main, model + args + out, capsys)
    assert line.startswith(f"error: {what} needs a StyleGAN model"), line
    assert "baseline (mlp)" in line
  assert not list(tmp_path.glob("*.png"))


def test_z_walk_works_for_a_baseline(gray, tmp_path):
  model, path = gray
  run_main(interpolate.main, ["--model", str(path), "--seeds", "1,2",
                              "--space", "z", "--frames_per_seed", "2",
                              "--nomp4", "--outdir", str(tmp_path)])
  frames = sorted(tmp_path.glob("frame*.png"))
  assert len(frames) == 3 and (tmp_path / "walk.gif").is_file()
  with Image.open(frames[-1]) as last:  # The walk ends on seed 2's image.
    np.testing.assert_array_equal(
        np.asarray(last), sampling.generate_images(model, [2])[0, ..., 0])
