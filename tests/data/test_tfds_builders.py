"""Tests for the WikiArt and image-folder builders, on folders made here."""

import logging
import pathlib

import numpy as np
from PIL import Image
import pytest
import tensorflow_datasets as tfds

from stylegan_jax import images
from stylegan_jax.data import tfds_builders

RES = 32  # Stored shorter side; the small test images stay at native size.


class _Records(logging.Handler):

  def __init__(self):
    super().__init__()
    self.messages = []

  def emit(self, record):
    self.messages.append(record.getMessage())


def _rgb(rng, h=20, w=24):
  return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def make_art_folder(root: pathlib.Path) -> dict[str, np.ndarray]:
  """Writes a tiny WikiArt-style folder full of awkward files.

  Returns:
    The RGB pixels each readable lossless file should come back as, by path.
  """
  rng = np.random.default_rng(0)
  (root / "Cubism").mkdir(parents=True)
  (root / "Impressionism").mkdir()
  expect = {}

  x = _rgb(rng)
  Image.fromarray(x).save(root / "Impressionism/claude-monet_water-lilies.png")
  expect["Impressionism/claude-monet_water-lilies.png"] = x
  # A large JPEG, shrunk to a shorter side of RES.
  Image.fromarray(_rgb(rng, 64, 80)).save(
      root / "Impressionism/claude-monet_haystacks-1890.jpg", quality=95)
  gray = rng.integers(0, 256, (20, 24), dtype=np.uint8)
  Image.fromarray(gray, "L").save(root / "Impressionism/edgar-degas_gray.png")
  expect["Impressionism/edgar-degas_gray.png"] = np.repeat(
      gray[..., None], 3, -1)

  rgba = np.dstack([_rgb(rng), np.full((20, 24, 1), 255, np.uint8)])
  rgba[:10, :, 3] = 0  # Top half fully transparent: white after compositing.
  Image.fromarray(rgba, "RGBA").save(root / "Cubism/pablo-picasso_rgba.png")
  want = rgba[..., :3].copy()
  want[:10] = 255
  expect["Cubism/pablo-picasso_rgba.png"] = want

  pal = Image.fromarray(_rgb(rng)).convert("P")
  pal.save(root / "Cubism/pablo-picasso_palette.png")
  expect["Cubism/pablo-picasso_palette.png"] = np.asarray(pal.convert("RGB"))

  deep = rng.integers(0, 65536, (20, 24)).astype(np.uint16)
  img16 = Image.fromarray(deep)
  assert img16.mode.startswith("I;16")
  img16.save(root / "Cubism/georges-braque_deep.png")
  scaled = np.rint(deep * (255 / 65535)).astype(np.uint8)
  expect["Cubism/georges-braque_deep.png"] = np.repeat(scaled[..., None], 3, -1)

  Image.fromarray(_rgb(rng)).convert("CMYK").save(
      root / "Cubism/juan-gris_cmyk.jpg")

  # Unreadable: random bytes named .jpg, and a JPEG cut in half.
  (root / "Cubism/bad_noise.jpg").write_bytes(rng.bytes(600))
  Image.fromarray(_rgb(rng, 64, 64)).save(root / "Cubism/bad_cut.jpg")
  data = (root / "Cubism/bad_cut.jpg").read_bytes()
  (root / "Cubism/bad_cut.jpg").write_bytes(data[:len(data) // 2])
  (root / "Cubism/notes.txt").write_text("not an image")
  return expect


NUM_GOOD = 7
NUM_FILES = 9


def _prepare(cls, manual_dir, data_dir, resolution=RES):
  builder = cls(config=tfds_builders.make_config(resolution, str(manual_dir)),
                data_dir=str(data_dir))
  handler = _Records()
  logging.getLogger("absl").addHandler(handler)
  try:
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=str(manual_dir)))
  finally:
    logging.getLogger("absl").removeHandler(handler)
  return builder, handler.messages


def _examples(builder, split="train"):
  return {
      ex["filename"].decode(): ex
      for ex in tfds.as_numpy(builder.as_dataset(split=split))
  }


@pytest.fixture(scope="module")
def art(tmp_path_factory):
  root = tmp_path_factory.mktemp("art")
  expect = make_art_folder(root)
  tfds_dir = tmp_path_factory.mktemp("tfds")
  wikiart, wikiart_log = _prepare(tfds_builders.WikiArt, root, tfds_dir)
  folder, folder_log = _prepare(tfds_builders.ImageFolder, root, tfds_dir)
  return dict(root=root, tfds_dir=tfds_dir, expect=expect, wikiart=wikiart,
              wikiart_log=wikiart_log, folder=folder, folder_log=folder_log)


@pytest.mark.parametrize("which", ["wikiart", "folder"])
def test_bad_files_are_skipped_and_counted_in_one_line(art, which):
  builder = art[which]
  assert builder.info.splits["train"].num_examples == NUM_GOOD
  assert builder.info.metadata["num_files"] == NUM_FILES
  assert builder.info.metadata["num_skipped"] == 2
  summary = [m for m in art[f"{which}_log"] if "skipped" in m]
  assert len(summary) == 1, art[f"{which}_log"]
  assert "skipped 2 of 9 files" in summary[0]
  assert "bad_noise.jpg" in summary[0] and "bad_cut.jpg" in summary[0]


@pytest.mark.parametrize("which", ["wikiart", "folder"])
def test_every_mode_becomes_rgb(art, which):
  examples = _examples(art[which])
  assert len(examples) == NUM_GOOD
  for name, ex in examples.items():
    assert ex["image"].dtype == np.uint8 and ex["image"].shape[-1] == 3, name
    if name in art["expect"]:
      np.testing.assert_array_equal(ex["image"], art["expect"][name], name)
  # Shrunk so the shorter side is RES, aspect ratio kept.
  big = examples["Impressionism/claude-monet_haystacks-1890.jpg"]["image"]
  assert big.shape == (RES, 40, 3)
  assert examples["Cubism/juan-gris_cmyk.jpg"]["image"].shape == (20, 24, 3)


def test_wikiart_labels_styles_and_artists(art):
  builder = art["wikiart"]
  styles = builder.info.features["style"].names
  assert styles == ["Cubism", "Impressionism"]
  examples = _examples(builder)
  for name, ex in examples.items():
    style, file = name.split("/")
    assert styles[ex["style"]] == style
    assert ex["artist"].decode() == file.split("_")[0]
    assert ex["genre"] == -1  # No CSVs here.
  assert examples["Cubism/pablo-picasso_rgba.png"]["artist"] == b"pablo-picasso"
  assert list(builder.info.splits.keys()) == ["train"]


def test_image_folder_labels_from_subfolders(art):
  builder = art["folder"]
  assert builder.info.features["label"].names == ["Cubism", "Impressionism"]
  for name, ex in _examples(builder).items():
    assert ex["label"] == ["Cubism", "Impressionism"].index(name.split("/")[0])


def test_image_folder_without_subfolders_has_no_labels(tmp_path):
  root = tmp_path / "flat"
  (root / "sub").mkdir(parents=True)
  rng = np.random.default_rng(1)
  Image.fromarray(_rgb(rng)).save(root / "a.png")
  Image.fromarray(_rgb(rng)).save(root / "sub" / "b.webp")
  builder, _ = _prepare(tfds_builders.ImageFolder, root, tmp_path / "tfds")
  assert builder.info.features["label"].num_classes == 0
  examples = _examples(builder)
  assert sorted(examples) == ["a.png", "sub/b.webp"]
  assert all(ex["label"] == -1 for ex in examples.values())


def test_prepared_data_reloads_without_the_images(art):
  builder = tfds_builders.WikiArt(
      config=tfds_builders.make_config(RES, str(art["root"])),
      data_dir=str(art["tfds_dir"]))
  assert builder.info.features["style"].names == ["Cubism", "Impressionism"]
  assert builder.info.metadata["num_skipped"] == 2
  assert builder.info.splits["train"].num_examples == NUM_GOOD


def test_wikiart_csv_genres_and_splits(tmp_path):
  root = tmp_path / "wikiart"
  rng = np.random.default_rng(2)
  names = [
      "Baroque/rembrandt_night-watch.jpg",
      "Baroque/rembrandt_self-portrait.jpg",
      "Baroque/caravaggio_bacchus.jpg",
      "Romanticism/caspar-david-friedrich_wanderer.jpg",
      "Romanticism/william-turner_no-genre.jpg",
  ]
  for name in names:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_rgb(rng)).save(root / name)
  csv_dir = root / tfds_builders.CSV_DIRNAME
  csv_dir.mkdir()
  (csv_dir / "genre_class.txt").write_text(
      "0 portrait\n1 landscape\n2 religious_painting\n")
  (csv_dir / "genre_train.csv").write_text(
      f"{names[0]},2\n{names[1]},0\n{names[3]},1\n")
  (csv_dir / "genre_val.csv").write_text(f"{names[2]},0\n")
  (csv_dir / "style_train.csv").write_text(
      f"{names[0]},0\n{names[1]},0\n{names[3]},1\n{names[4]},1\n")
  (csv_dir / "style_val.csv").write_text(f"{names[2]},0\n")
  builder, _ = _prepare(tfds_builders.WikiArt, root, tmp_path / "tfds")

  genres = builder.info.features["genre"].names
  assert genres == ["portrait", "landscape", "religious_painting"]
  assert builder.info.splits["train"].num_examples == 4
  assert builder.info.splits["validation"].num_examples == 1
  train, val = _examples(builder, "train"), _examples(builder, "validation")
  assert list(val) == [names[2]]
  assert val[names[2]]["genre"] == 0
  assert [train[n]["genre"] for n in (names[0], names[1], names[3], names[4])
         ] == [2, 0, 1, -1]
  assert builder.info.metadata["unlabelled"] == {"genre": 1}
  assert builder.info.metadata["label_counts"]["genre"] == {
      "-1": 1, "0": 2, "1": 1, "2": 1}
  assert train[names[3]]["artist"] == b"caspar-david-friedrich"


@pytest.mark.parametrize("cls", [tfds_builders.WikiArt, tfds_builders.ImageFolder])
def test_missing_directory_names_path_and_layout(tmp_path, cls):
  missing = tmp_path / "nowhere"
  with pytest.raises(FileNotFoundError) as info:
    _prepare(cls, missing, tmp_path / "tfds")
  assert str(missing) in str(info.value)
  assert cls.LAYOUT in str(info.value)


@pytest.mark.parametrize("cls", [tfds_builders.WikiArt, tfds_builders.ImageFolder])
def test_directory_without_images_names_path_and_layout(tmp_path, cls):
  empty = tmp_path / "empty"
  empty.mkdir()
  (empty / "README.txt").write_text("images go here")
  with pytest.raises(FileNotFoundError, match="no images found") as info:
    _prepare(cls, empty, tmp_path / "tfds")
  assert str(empty) in str(info.value)
  assert cls.LAYOUT in str(info.value)


def test_to_rgb_odd_modes():
  one_bit = Image.fromarray(np.eye(4, dtype=bool))
  assert np.array_equal(
      np.asarray(images.to_rgb(one_bit))[..., 0], np.eye(4) * 255)
  la = Image.fromarray(np.array([[[10, 0], [10, 255]]], np.uint8), "LA")
  assert np.asarray(images.to_rgb(la)).tolist() == [
      [[255, 255, 255], [10, 10, 10]]]
  f = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), "F")
  assert np.asarray(images.to_rgb(f))[0, :, 0].tolist() == [0, 128, 255]


def test_folder_of_only_corrupt_files_says_so(tmp_path):
  root = tmp_path / "bad"
  (root / "Style").mkdir(parents=True)
  (root / "Style" / "someone_noise.jpg").write_bytes(b"\x00" * 100)
  with pytest.raises(ValueError, match="no readable images") as info:
    _prepare(tfds_builders.WikiArt, root, tmp_path / "tfds")
  assert "someone_noise.jpg" in str(info.value)
