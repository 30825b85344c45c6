"""Paired data: the embedded line-drawing set, folders of pairs, jitter,
flips, held-out splits and resuming."""

import numpy as np
import pytest

from stylegan_jax import configs
from stylegan_jax import images
from stylegan_jax.data import embedded
from stylegan_jax.data import paired
from stylegan_jax.data import pipeline
from stylegan_jax.errors import UserError

N = 12


def _cfg(**kwargs) -> pipeline.DataConfig:
  data = configs.base_config().data
  data.update({"source": "embedded_paired", "resolution": 16,
               "embedded_num_images": N, "shuffle_buffer": 64,
               "paired_eval_images": 3, **kwargs})
  return pipeline.DataConfig.from_config(data)


def test_line_drawing_by_hand():
  img = np.zeros((1, 4, 5, 3), np.uint8)
  img[:, :, 3:] = [255, 0, 0]  # A red block: a full step between x=2 and 3.
  img[:, 3, :, 1] = 51  # A faint bottom row: a green step of 0.2 at y=2/3.
  got = paired.line_drawing(img)
  assert got.shape == img.shape and got.dtype == np.uint8
  assert (got[..., 0] == got[..., 1]).all() and (
      got[..., 0] == got[..., 2]).all()
  want = np.full((4, 5), 255)
  want[:, 2] = 0  # Ink left of the vertical edge (step 1 >= INK_STEP).
  want[2, [0, 1, 3, 4]] = np.rint((1 - 0.2 / paired.INK_STEP) * 255)
  np.testing.assert_array_equal(got[0, ..., 0], want)


def test_make_pairs_draws_the_embedded_images_and_continues_with_start():
  src, tgt = paired.make_pairs(7, 16, seed=3)
  images_, _ = embedded.make_dataset(7, 16, 3)
  np.testing.assert_array_equal(tgt, images_)
  np.testing.assert_array_equal(src, paired.line_drawing(images_))
  # start=4 continues the same stream (image i = image start + i).
  src2, tgt2 = paired.make_pairs(3, 16, seed=3, start=4)
  np.testing.assert_array_equal(tgt2, tgt[4:])
  np.testing.assert_array_equal(src2, src[4:])
  # Every style draws some ink and keeps white paper.
  assert all(s.min() < 100 and s.max() == 255 for s in src)


def test_embedded_pairs_batches_and_held_out_split():
  it = pipeline.create_input_iterator(_cfg(), batch_size=4)
  src, tgt = paired.make_pairs(N, 16)
  by_target = {images.to_float(t).tobytes(): images.to_float(s)
               for s, t in zip(src, tgt)}
  seen = set()
  for _ in range(3):  # One epoch.
    b = next(it)
    assert set(b) == {"source", "image", "label"}
    assert b["source"].shape == b["image"].shape == (4, 16, 16, 3)
    assert (b["label"] == 0).all()
    for s, t in zip(b["source"], b["image"]):
      np.testing.assert_array_equal(by_target[t.tobytes()], s)
      seen.add(t.tobytes())
  assert len(seen) == N and it.num_classes == 0
  held = pipeline.paired_eval_set(_cfg())
  hs, ht = paired.make_pairs(3, 16, start=N)  # The drawings after N.
  np.testing.assert_array_equal(held["source"], images.to_float(hs))
  np.testing.assert_array_equal(held["image"], images.to_float(ht))
  assert not seen & {t.tobytes() for t in held["image"]}


def test_direction_swaps_source_and_target():
  a = pipeline.paired_eval_set(_cfg())
  b = pipeline.paired_eval_set(_cfg(paired_direction="BtoA"))
  np.testing.assert_array_equal(a["source"], b["image"])
  np.testing.assert_array_equal(a["image"], b["source"])


@pytest.fixture(scope="module")
def side_by_side(tmp_path_factory):
  """8 A|B files (A: drawing, B: painting) at 24 x 48 px."""
  root = tmp_path_factory.mktemp("sbs")
  src, tgt = paired.make_pairs(8, 24)
  for i in range(8):
    images.save_png(np.concatenate([src[i], tgt[i]], axis=1),
                    root / f"p{i}.png")
  return root, src, tgt


def test_side_by_side_folder_splits_and_holds_out_the_last(side_by_side):
  root, src, tgt = side_by_side
  cfg = _cfg(source="paired", data_dir=str(root), resolution=24,
             paired_eval_images=2)
  it = pipeline.create_input_iterator(cfg, batch_size=6)
  b = next(it)
  assert it.num_examples == 6
  order = sorted(images.to_float(t).tobytes() for t in tgt[:6])
  assert sorted(t.tobytes() for t in b["image"]) == order
  by_target = {images.to_float(t).tobytes(): images.to_float(s)
               for s, t in zip(src, tgt)}
  for s, t in zip(b["source"], b["image"]):
    np.testing.assert_array_equal(by_target[t.tobytes()], s)
  held = pipeline.paired_eval_set(cfg)
  np.testing.assert_array_equal(held["image"], images.to_float(tgt[6:]))
  np.testing.assert_array_equal(held["source"], images.to_float(src[6:]))


def test_folders_layout_matches_names(tmp_path):
  src, tgt = paired.make_pairs(4, 16)
  for i in range(4):
    images.save_png(src[i], tmp_path / "A" / f"{i}.png")
    images.save_png(tgt[i], tmp_path / "B" / f"{i}.png")
  images.save_png(tgt[0], tmp_path / "B" / "stray.png")  # No partner.
  cfg = _cfg(source="paired", data_dir=str(tmp_path),
             paired_layout="folders", paired_eval_images=1)
  held = pipeline.paired_eval_set(cfg)
  np.testing.assert_array_equal(held["source"], images.to_float(src[3:]))
  np.testing.assert_array_equal(held["image"], images.to_float(tgt[3:]))
  b = next(pipeline.create_input_iterator(cfg, batch_size=3))
  assert sorted(t.tobytes() for t in b["image"]) == sorted(
      images.to_float(t).tobytes() for t in tgt[:3])


def test_jitter_and_flip_move_both_images_alike(tmp_path):
  # A == B: any difference after augmentation would mean they moved apart.
  _, tgt = paired.make_pairs(6, 16)
  for i in range(6):
    images.save_png(np.concatenate([tgt[i], tgt[i]], axis=1),
                    tmp_path / f"{i}.png")
  plain = _cfg(source="paired", data_dir=str(tmp_path), paired_eval_images=1,
               shuffle_buffer=1)
  jittered = _cfg(source="paired", data_dir=str(tmp_path),
                  paired_eval_images=1, shuffle_buffer=1, paired_jitter=True,
                  xflip=True)
  assert pipeline.jitter_size(256) == 286 and pipeline.jitter_size(16) == 18
  a = next(pipeline.create_input_iterator(plain, batch_size=5))
  b = next(pipeline.create_input_iterator(jittered, batch_size=5))
  np.testing.assert_array_equal(b["source"], b["image"])
  assert not np.array_equal(a["image"], b["image"])
  # Held-out pairs are never augmented.
  np.testing.assert_array_equal(pipeline.paired_eval_set(jittered)["image"],
                                pipeline.paired_eval_set(plain)["image"])


def test_paired_stream_resumes_bit_identically(side_by_side):
  root, _, _ = side_by_side
  cfg = _cfg(source="paired", data_dir=str(root), resolution=24,
             paired_eval_images=1, paired_jitter=True, xflip=True)
  it = pipeline.create_input_iterator(cfg, batch_size=3)
  batches = [next(it) for _ in range(4)]
  resumed = pipeline.create_input_iterator(cfg, batch_size=3,
                                           start_example=6)
  for want in batches[2:]:
    got = next(resumed)
    for key in ("source", "image"):
      np.testing.assert_array_equal(got[key], want[key])


def test_mistakes_are_one_line(tmp_path):
  with pytest.raises(UserError, match="no image pairs"):
    pipeline.create_input_iterator(
        _cfg(source="paired", data_dir=str(tmp_path)), batch_size=1)
  src, _ = paired.make_pairs(2, 16)
  for i in range(2):
    images.save_png(src[i], tmp_path / f"{i}.png")
  with pytest.raises(UserError, match="would hold out all of them"):
    pipeline.create_input_iterator(
        _cfg(source="paired", data_dir=str(tmp_path), paired_eval_images=2),
        batch_size=1)
