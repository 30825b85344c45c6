"""Style transfer (`stylegan_jax.style_transfer`) with the fixture's VGG19.

The objective is checked against torch's numbers in the VGG19 fixture (the
tutorial's 1e6:1 total, each style layer, the content loss), the recipe's
preprocessing against torchvision's size rules, and the optimisation on
small procedural images: under L-BFGS with the recipe the total loss falls
at every step (the zoom line search's sufficient-decrease condition), both
with the material's 1:1 weights and the tutorial's 1e6 style weight.
The fixture's weights are random (ternary), so only the plumbing and the
maths are tested, not how the pictures look.
"""

import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest

from stylegan_jax import style_transfer as st
from stylegan_jax.data import embedded
from stylegan_jax.errors import UserError
from stylegan_jax.features import weights
from tests import reference

VGG19_FILE = "vgg19_features_ternary_zip.pth.xz"
SIZE = 24  # Working shorter side of the optimisation tests.
STEPS = 6


@pytest.fixture(scope="module")
def vgg_params(tmp_path_factory):
  path = reference.require(reference.reference_dir() / VGG19_FILE)
  return weights.load("vgg19", path,
                      cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def fixture_arrays():
  path = reference.require(reference.reference_dir() /
                           "vgg19_features_ternary_expected.npz")
  with np.load(path) as f:
    return {k: f[k] for k in f.files}


def _hwc(x):
  return np.asarray(x)[0].transpose(1, 2, 0)  # [1, C, H, W] -> [H, W, C]


def content_and_style():
  """A 40x30 (H x W) 'circles' content and a 36x36 'stripes' style."""
  content = embedded.render(1, 3, 40)[:, 5:35]  # [40, 30, 3]
  style = embedded.render(2, 5, 36)
  return content, style


# --------------------------------------------------------------------------
# Preprocessing.


def test_preprocess_follows_torchvision_sizes():
  rng = np.random.default_rng(0)
  wide = rng.integers(0, 256, (30, 47, 3), dtype=np.uint8)
  # Resize(16): the shorter side 30 -> 16, the longer int(16 * 47 / 30) =
  # int(25.07) = 25 (truncated, as torchvision).
  full = st.preprocess(wide, 16, crop=False)
  assert full.shape == (16, 25, 3) and full.dtype == np.float32
  ref = np.asarray(Image.fromarray(wide).resize(
      (25, 16), Image.Resampling.BILINEAR), np.float32) / 255
  np.testing.assert_array_equal(full, ref)
  # CenterCrop(16): left = int(round((25 - 16) / 2)) = round(4.5) = 4.
  np.testing.assert_array_equal(st.preprocess(wide, 16), full[:, 4:20])
  tall = st.preprocess(wide.transpose(1, 0, 2), 16, crop=False)
  assert tall.shape == (25, 16, 3)
  assert st.working_shape(wide.shape, 16, crop=False) == (16, 25)
  assert st.working_shape(wide.shape, 16) == (16, 16)
  # Already the right size: the pixels / 255, untouched; gray -> RGB.
  square = rng.integers(0, 256, (16, 16, 1), dtype=np.uint8)
  np.testing.assert_array_equal(st.preprocess(square, 16),
                                np.repeat(square, 3, -1) / np.float32(255))
  assert st.output_size((40, 30, 3), crop=True) == (30, 30)
  assert st.output_size((40, 30, 3), crop=False) == (40, 30)


# --------------------------------------------------------------------------
# The objective against torch (the fixture).


def test_objective_matches_the_fixture_losses(vgg_params, fixture_arrays):
  ref = fixture_arrays
  content, style, x = (_hwc(ref[f"in/{k}"]) for k in ("content", "style",
                                                      "x"))
  x = jnp.asarray(x)[None]
  tutorial = st.loss_terms(st.make_objective(
      vgg_params, content, [style],
      st.Recipe(style_weight=st.TUTORIAL_STYLE_WEIGHT)), x)
  # Measured: <= 4e-7 relative (float32 sums in another order than torch).
  np.testing.assert_allclose(tutorial["total"], ref["loss/total_w1e6_1"],
                             rtol=1e-5)
  np.testing.assert_allclose(tutorial["style"][0], ref["loss/style_conv_1_5"],
                             rtol=1e-5)
  np.testing.assert_allclose(tutorial["content"], ref["loss/content_conv_4"],
                             rtol=1e-5)
  # The material's 1:1 default, and a TV term on top.
  recipe = st.loss_terms(st.make_objective(
      vgg_params, content, [style], st.Recipe(tv_weight=2.0)), x)
  xs = np.asarray(x, np.float64)
  tv = (np.mean(np.square(np.diff(xs, axis=1)))
        + np.mean(np.square(np.diff(xs, axis=2))))
  np.testing.assert_allclose(recipe["tv"], tv, rtol=1e-5)
  want = (ref["loss/content_conv_4"] + ref["loss/style_conv_1_5"].sum()
          + 2.0 * tv)
  np.testing.assert_allclose(recipe["total"], want, rtol=1e-5)


def test_several_styles_and_layer_weights(vgg_params, fixture_arrays):
  ref = fixture_arrays
  content, style, x = (_hwc(ref[f"in/{k}"]) for k in ("content", "style",
                                                      "x"))
  x = jnp.asarray(x)[None]
  # Blend 3:1 (normalised to 0.75, 0.25) of the style and the content image
  # as a second style, per-layer weights 1, 0, 2, 0, 1.
  layer_w = np.array([1.0, 0.0, 2.0, 0.0, 1.0])
  recipe = st.Recipe(style_weight=10.0, style_layer_weights=tuple(layer_w))
  terms = st.loss_terms(st.make_objective(
      vgg_params, content, [style, content], recipe, blend=[3, 1]), x)
  second = st.loss_terms(st.make_objective(vgg_params, content, [content]),
                         x)
  np.testing.assert_allclose(terms["style"][0], ref["loss/style_conv_1_5"],
                             rtol=1e-5)
  np.testing.assert_allclose(terms["style"][1], second["style"][0],
                             rtol=1e-6)
  want = ref["loss/content_conv_4"] + 10.0 * (
      0.75 * layer_w @ ref["loss/style_conv_1_5"]
      + 0.25 * layer_w @ np.asarray(second["style"][0], np.float64))
  np.testing.assert_allclose(terms["total"], want, rtol=1e-5)
  # Style only (the projector's target): no content term.
  only = st.loss_terms(st.style_objective(vgg_params, [style], weight=1e6),
                       x)
  np.testing.assert_allclose(only["total"],
                             1e6 * ref["loss/style_conv_1_5"].sum(),
                             rtol=1e-5)


# --------------------------------------------------------------------------
# The optimisation.


@pytest.fixture(scope="module")
def recipe_runs(vgg_params):
  """The recipe (1:1) and the tutorial's weights (1e6:1): one program."""
  content, style = content_and_style()
  return {w: st.transfer(vgg_params, content, [style], size=SIZE,
                         crop=False, num_steps=STEPS, progress_every=2,
                         recipe=st.Recipe(style_weight=w))
          for w in (1.0, st.TUTORIAL_STYLE_WEIGHT)}


@pytest.mark.parametrize("style_weight", [1.0, st.TUTORIAL_STYLE_WEIGHT])
def test_lbfgs_lowers_the_recipe_loss_at_every_step(recipe_runs,
                                                    style_weight):
  result = recipe_runs[style_weight]
  losses = result.losses
  print(f"style weight {style_weight:g}: losses {losses}, "
        f"scores {result.scores}, content image {result.content_scores}")
  assert losses.shape == (STEPS + 1,) and np.all(np.isfinite(losses))
  # Sufficient decrease at every step; on float32 a step may also gain
  # nothing, but never lose.
  assert np.all(np.diff(losses) <= 0), np.diff(losses)
  # Measured on this pair: 1:1 falls 0.11% in 6 steps (the start, the
  # content image, is the minimum of the content term, and the style term
  # is small at these weights), 1e6:1 90%; the floors are about half.
  min_drop = 0.0005 if style_weight == 1.0 else 0.5
  assert losses[-1] < (1 - min_drop) * losses[0]
  # The style term went down: the result is closer to the style's Grams
  # than the content image was.
  assert result.scores.style_distance[0] < (
      result.content_scores.style_distance[0])
  assert result.content_scores.content_distance == 0.0
  assert result.content_scores.ssim == pytest.approx(1.0, abs=1e-6)
  assert 0.0 < result.scores.ssim <= 1.0


def test_result_sizes_and_frames(recipe_runs):
  result = recipe_runs[1.0]
  content, _ = content_and_style()
  h, w = st.working_shape(content.shape, SIZE, crop=False)
  assert (h, w) == (32, 24)
  assert result.image.shape == (40, 30, 3) and result.image.dtype == np.uint8
  assert result.working_image.shape == (h, w, 3)
  assert 0.0 <= result.working_image.min() <= result.working_image.max() <= 1
  assert result.frames.shape == (STEPS // 2 + 1, h, w, 3)  # 0, 2, 4, end
  np.testing.assert_array_equal(result.frames[0],
                                st.to_uint8(result.content))
  np.testing.assert_array_equal(result.frames[-1],
                                st.to_uint8(result.working_image))


def test_crop_works_on_the_centre_square(vgg_params):
  # The recipe's crop at a small size, no steps: the result is the content
  # image's centre square (30x30 of 40x30), up to the resampling there
  # (24 px) and back.
  content, style = content_and_style()
  result = st.transfer(vgg_params, content, [style], size=SIZE, num_steps=0)
  assert result.working_image.shape == (SIZE, SIZE, 3)
  assert result.image.shape == (30, 30, 3) and result.frames.shape[0] == 0
  assert result.losses.shape == (1,)
  assert result.scores == result.content_scores
  # Measured: mean |error| 6.8 (of 255) against the centre square, 16.8
  # against the square one pixel off, so 10 checks the alignment.
  error = np.abs(result.image.astype(np.float32) - content[5:35])
  assert error.mean() < 10.0, error.mean()


@pytest.mark.slow  # Compiles Adam's step (~5 s on 2 cores).
def test_adam_from_noise_with_tv_and_clipping(vgg_params):
  content, style = content_and_style()
  result = st.transfer(vgg_params, content, [style, content],
                       style_blend=[1, 1], size=SIZE, crop=False,
                       num_steps=5,
                       optimizer="adam", init="noise", learning_rate=0.02,
                       clip_every_step=True,
                       recipe=st.Recipe(style_weight=1e6, tv_weight=1.0))
  assert result.losses.shape == (6,)
  assert result.losses[-1] < result.losses[0]
  assert len(result.scores.style_distance) == 2
  # Starting from noise the result is far from the content image.
  assert result.scores.ssim < 0.5


@pytest.mark.parametrize("kwargs, match", [
    ({"recipe": st.Recipe(style_layers=("conv_1", "conv_99"))},
     r"unknown VGG19 style layers \['conv_99'\]"),
    ({"recipe": st.Recipe(style_layer_weights=(1.0,))},
     "1 style layer weights for 5 style layers"),
    ({"recipe": st.Recipe(content_weight=-1.0)}, "content weight"),
    ({"style_blend": [1, 2]}, "2 style blend weights for 1 style images"),
    ({"size": 8}, r"size must be in \[16, 2048\]"),
    ({"init": "zeros"}, "unknown init"),
    ({"optimizer": "sgd"}, "unknown optimizer"),
])
def test_mistakes_are_user_errors(kwargs, match):
  content, style = content_and_style()
  with pytest.raises(UserError, match=match):
    st.transfer({}, content, [style], num_steps=1, **kwargs)
