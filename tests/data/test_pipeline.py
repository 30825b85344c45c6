"""Tests for the tf.data input pipeline: batches, shards, flips, resuming."""

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from stylegan_jax import configs
from stylegan_jax.data import embedded
from stylegan_jax.data import pipeline
from stylegan_jax.data import tfds_builders

N = 30  # Embedded images: small, and not a multiple of the batch sizes used.


def _data_cfg(**kwargs) -> pipeline.DataConfig:
  """The default `data` section with `kwargs` set, as a DataConfig."""
  data = configs.base_config().data
  data.update(kwargs)
  return pipeline.DataConfig.from_config(data)


def _cfg(**kwargs) -> pipeline.DataConfig:
  kwargs = {"source": "embedded", "resolution": 8, "embedded_num_images": N,
            "shuffle_buffer": 64, **kwargs}
  return _data_cfg(**kwargs)


def _take(cfg, num_batches, **kwargs):
  it = pipeline.create_input_iterator(cfg, **kwargs)
  return it, [next(it) for _ in range(num_batches)]


def _scaled(images: np.ndarray) -> np.ndarray:
  return images.astype(np.float32) / 127.5 - 1.0


def test_batches_shapes_dtypes_and_range():
  it, batches = _take(_cfg(), 3, batch_size=4)
  for b in batches:
    assert b["image"].shape == (4, 8, 8, 3) and b["image"].dtype == np.float32
    assert b["label"].shape == (4,) and b["label"].dtype == np.int32
    assert -1.0 <= b["image"].min() and b["image"].max() <= 1.0
    assert (b["label"] == 0).all()
  assert it.position == 12 and it.num_examples == N
  assert it.num_classes == 0 and it.class_names == ()


def test_conditional_labels_match_images():
  images, labels = embedded.make_dataset(N, 8)
  by_bytes = {_scaled(im).tobytes(): lab for im, lab in zip(images, labels)}
  it, batches = _take(_cfg(conditional=True), 4, batch_size=5)
  assert it.num_classes == len(embedded.STYLE_NAMES)
  assert it.label_counts.tolist() == [N // 5] * 5
  assert it.class_names == embedded.STYLE_NAMES
  for b in batches:
    for image, label in zip(b["image"], b["label"]):
      assert by_bytes[image.tobytes()] == label


def test_each_epoch_is_a_new_permutation():
  images, _ = embedded.make_dataset(N, 8)
  want = sorted(_scaled(im).tobytes() for im in images)
  _, batches = _take(_cfg(), 2, batch_size=N)
  epochs = [[im.tobytes() for im in b["image"]] for b in batches]
  assert sorted(epochs[0]) == want and sorted(epochs[1]) == want
  assert epochs[0] != epochs[1]


@pytest.mark.parametrize("xflip", [False, True])
def test_resume_is_bit_identical(xflip):
  cfg = _cfg(xflip=xflip, seed=5)
  # 7 examples a batch over 30 a epoch: batches 4, 8, 12 straddle epochs.
  _, reference = _take(cfg, 14, batch_size=7)
  for start in (1, 4, 5, 9, 13):
    it, resumed = _take(cfg, 14 - start, batch_size=7,
                        start_example=7 * start)
    assert it.position == 14 * 7
    for want, got in zip(reference[start:], resumed):
      np.testing.assert_array_equal(want["image"], got["image"])
      np.testing.assert_array_equal(want["label"], got["label"])


def test_seed_changes_the_order():
  _, a = _take(_cfg(seed=0), 1, batch_size=8)
  _, b = _take(_cfg(seed=1), 1, batch_size=8)
  assert not np.array_equal(a[0]["image"], b[0]["image"])


def test_process_shards_are_disjoint():
  seen = []
  for index in range(2):
    it, batches = _take(_cfg(), 1, batch_size=N // 2, process_index=index,
                        process_count=2)
    assert it.num_examples == N // 2
    seen.append({im.tobytes() for im in batches[0]["image"]})
  assert len(seen[0]) == len(seen[1]) == N // 2
  assert not seen[0] & seen[1]


def test_xflip_mirrors_about_half():
  images, _ = embedded.make_dataset(N, 8)
  plain = {_scaled(im).tobytes() for im in images}
  mirrored = {_scaled(im[:, ::-1]).tobytes() for im in images}
  _, off = _take(_cfg(), 4, batch_size=N)
  assert all(im.tobytes() in plain for b in off for im in b["image"])
  _, on = _take(_cfg(xflip=True), 4, batch_size=N)
  flipped = [im.tobytes() in mirrored for b in on for im in b["image"]]
  assert all(im.tobytes() in plain | mirrored for b in on for im in b["image"])
  assert 0.3 < np.mean(flipped) < 0.7


def test_preprocess_center_crop_and_pad():
  image = np.full((8, 16, 3), 200, np.uint8)  # Wide: h=8, w=16.
  image[:, :4] = 10  # Left quarter dark: cut away by the centre crop.
  center = pipeline.preprocess(tf.constant(image), 8, "center").numpy()
  np.testing.assert_allclose(center, 200 / 127.5 - 1)
  pad = pipeline.preprocess(tf.constant(image), 8, "pad").numpy()
  # Padded to 16x16 (black bands of 4 rows) and box-shrunk by 2.
  assert pad.shape == (8, 8, 3)
  np.testing.assert_allclose(pad[:2], -1.0)
  np.testing.assert_allclose(pad[6:], -1.0)
  np.testing.assert_allclose(pad[2:6, :2], 10 / 127.5 - 1, atol=1e-6)
  np.testing.assert_allclose(pad[2:6, 2:], 200 / 127.5 - 1, atol=1e-6)
  # Smaller squares are enlarged.
  up = pipeline.preprocess(tf.constant(image[:4, :4]), 8, "center").numpy()
  np.testing.assert_allclose(up, 10 / 127.5 - 1, atol=1e-6)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
  """An image folder: two labelled subfolders of distinct non-square images."""
  root = tmp_path_factory.mktemp("folder")
  rng = np.random.default_rng(0)
  for label, count in (("cats", 7), ("dogs", 6)):
    (root / label).mkdir()
    for i in range(count):
      image = rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)
      Image.fromarray(image).save(root / label / f"{i}.png")
  (root / "cats" / "broken.jpg").write_bytes(b"\xff\xd8 not really")
  return root, tmp_path_factory.mktemp("tfds")


def _folder_cfg(folder, **kwargs):
  root, tfds_dir = folder
  return _data_cfg(
      source="image_folder", data_dir=str(root), tfds_dir=str(tfds_dir),
      resolution=8, **kwargs)


def test_image_folder_pipeline(folder):
  it, batches = _take(_folder_cfg(folder, conditional=True), 4, batch_size=5)
  assert it.num_examples == 13 and it.class_names == ("cats", "dogs")
  assert it.label_counts.tolist() == [7, 6]
  labels = np.concatenate([b["label"] for b in batches])
  assert set(labels.tolist()) == {0, 1}
  for b in batches:
    assert b["image"].shape == (5, 8, 8, 3)
  # Resuming works for TFDS sources too, across the 13-image epoch.
  cfg = _folder_cfg(folder, xflip=True)
  _, reference = _take(cfg, 8, batch_size=5)
  _, resumed = _take(cfg, 5, batch_size=5, start_example=15)
  for want, got in zip(reference[3:], resumed):
    np.testing.assert_array_equal(want["image"], got["image"])


def test_image_folder_shards_are_disjoint(folder):
  seen = []
  for index in range(2):
    it, batches = _take(_folder_cfg(folder), 1, batch_size=6,
                        process_index=index, process_count=2)
    assert it.num_examples == 6
    seen.append({im.tobytes() for im in batches[0]["image"]})
  assert len(seen[0]) == len(seen[1]) == 6
  assert not seen[0] & seen[1]


def test_pad_keeps_the_whole_picture(folder):
  # 12x20 images padded to 20x20: black bands top and bottom.
  _, [padded] = _take(_folder_cfg(folder, crop="pad"), 1, batch_size=13)
  assert (padded["image"][:, 0] == -1).all()
  assert (padded["image"][:, -1] == -1).all()
  _, [cropped] = _take(_folder_cfg(folder), 1, batch_size=13)
  assert (cropped["image"][:, 0] != -1).any()


def test_missing_folder_names_path_and_layout(tmp_path):
  cfg = _data_cfg(source="wikiart", data_dir=str(tmp_path / "nope"),
                            tfds_dir=str(tmp_path / "tfds"))
  with pytest.raises(FileNotFoundError) as info:
    pipeline.create_input_iterator(cfg, batch_size=2)
  assert str(tmp_path / "nope") in str(info.value)
  assert tfds_builders.WIKIART_LAYOUT in str(info.value)


def test_bad_config():
  with pytest.raises(ValueError, match="source"):
    _data_cfg(source="imagenet")
  with pytest.raises(ValueError, match="crop"):
    _cfg(crop="stretch")
  with pytest.raises(ValueError, match="data_dir"):
    _data_cfg(source="wikiart")
  with pytest.raises(ValueError, match="genre"):
    pipeline.create_input_iterator(
        _cfg(conditional=True, label_key="genre"), batch_size=2)


def test_wikiart_genre_labels_with_unknown_class(tmp_path):
  root = tmp_path / "wikiart"
  (root / "Baroque").mkdir(parents=True)
  rng = np.random.default_rng(3)
  for name in ("rembrandt_a", "rembrandt_b", "vermeer_c"):
    image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(image).save(root / "Baroque" / f"{name}.png")
  (root / "genre_class.txt").write_text("0 portrait\n1 genre_painting\n")
  (root / "genre_train.csv").write_text(
      "Baroque/rembrandt_a.png,1\nBaroque/vermeer_c.png,0\n")
  cfg = _data_cfg(
      source="wikiart", data_dir=str(root), tfds_dir=str(tmp_path / "tfds"),
      resolution=8, conditional=True, label_key="genre")
  it, [batch] = _take(cfg, 1, batch_size=3)
  assert it.class_names == ("portrait", "genre_painting", "<unknown>")
  assert it.num_classes == 3
  assert it.label_counts.tolist() == [1, 1, 1]
  assert sorted(batch["label"].tolist()) == [0, 1, 2]


def test_added_images_are_used_on_the_next_run(tmp_path, caplog):
  root = tmp_path / "art"
  root.mkdir()
  rng = np.random.default_rng(0)

  def add(names):
    for name in names:
      image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
      Image.fromarray(image).save(root / f"{name}.png")

  add(range(5))
  cfg = _data_cfg(source="image_folder", data_dir=str(root),
                  tfds_dir=str(tmp_path / "tfds"), resolution=8)
  assert pipeline.create_input_iterator(cfg, batch_size=1).num_examples == 5
  add(range(5, 8))
  kept = _data_cfg(source="image_folder", data_dir=str(root),
                   tfds_dir=str(tmp_path / "tfds"), resolution=8,
                   on_change="use_prepared")
  with caplog.at_level("WARNING"):
    assert pipeline.create_input_iterator(kept,
                                          batch_size=1).num_examples == 5
  assert "3 added, 0 removed, 0 modified" in caplog.text
  # The default prepares again and sees all 8.
  assert pipeline.create_input_iterator(cfg, batch_size=1).num_examples == 8
  (root / "0.png").unlink()
  assert pipeline.create_input_iterator(cfg, batch_size=1).num_examples == 7
