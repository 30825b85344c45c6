"""VGG19 parity with torchvision and the style-transfer tutorial (fixtures),
plus VGG16's layer naming and fc2 features on hand-made weights.

Tolerances are the issue's, against max |ref| (losses: relative): conv
outputs and pool_16 1e-5 (measured <= 1.1e-6), Gram matrices, content and
style losses and the weighted total 1e-5 (measured <= 4e-7), the gradient of
the total w.r.t. the image 1e-4 (measured 1.9e-6).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax.features import style_losses
from stylegan_jax.features import vgg
from stylegan_jax.features import weights
from tests.features import common

STYLE_LAYERS = ("conv_1", "conv_2", "conv_3", "conv_4", "conv_5")
CONTENT_LAYER = "conv_4"


@pytest.fixture(scope="module", params=common.fixture_cases("vgg19"))
def loaded(request, tmp_path_factory):
  expected, weights_path = common.require_case(request.param)
  params = weights.load("vgg19", weights_path,
                        cache_dir=tmp_path_factory.mktemp("cache"))
  with np.load(expected) as f:
    ref = {k: f[k] for k in f.files}
  return params, ref


def _nhwc(x):
  return jnp.asarray(np.asarray(x).transpose(0, 2, 3, 1))


def _nchw(x):
  return np.asarray(x).transpose(0, 3, 1, 2)


def _assert_close(name, ours, ref, tol):
  err = float(np.max(np.abs(np.asarray(ours) - ref)))
  scale = float(np.max(np.abs(ref)))
  assert err <= tol * scale, f"{name}: {err:.3g} > {tol} * {scale:.3g}"


@functools.partial(jax.jit, static_argnames="names")
def _features(params, images, names):
  return vgg.features(params, images, names)


def _total_loss(params, x, content, style):
  """The tutorial's 1e6 * sum(style) + 1 * content, and its parts."""
  acts = vgg.features(params, jnp.concatenate([x, content, style]),
                      STYLE_LAYERS)
  content_loss = style_losses.content_loss(acts[CONTENT_LAYER][:1],
                                           acts[CONTENT_LAYER][1:2])
  style = jnp.stack([
      style_losses.style_loss(acts[k][:1],
                              style_losses.gram_matrix(acts[k][2:3]))
      for k in STYLE_LAYERS])
  grams = {k: style_losses.gram_matrix(acts[k][2:3])
           for k in ("conv_1", "conv_5")}
  return 1e6 * jnp.sum(style) + content_loss, (content_loss, style, grams)


def test_features_match_torchvision(loaded):
  params, ref = loaded
  names = tuple(k[len("out/content/"):] for k in ref
                if k.startswith("out/content/"))
  assert "conv_16" in names and "pool_16" in names
  out = _features(params, _nhwc(ref["in/content"]), names)
  for name in names:
    _assert_close(name, _nchw(out[name]), ref[f"out/content/{name}"], 1e-5)


def test_style_losses_and_gradient_match_the_tutorial(loaded):
  params, ref = loaded
  x, content, style = (_nhwc(ref[f"in/{k}"]) for k in ("x", "content",
                                                       "style"))
  grad_fn = jax.jit(jax.value_and_grad(_total_loss, argnums=1, has_aux=True))
  (total, (content_loss, style, grams)), grad = grad_fn(params, x, content,
                                                        style)
  for k in ("conv_1", "conv_5"):
    _assert_close(f"gram {k}", grams[k], ref[f"out/gram/style_{k}"], 1e-5)
  np.testing.assert_allclose(content_loss, ref["loss/content_conv_4"],
                             rtol=1e-5)
  np.testing.assert_allclose(style, ref["loss/style_conv_1_5"], rtol=1e-5)
  np.testing.assert_allclose(total, ref["loss/total_w1e6_1"], rtol=1e-5)
  _assert_close("grad", _nchw(grad), ref["grad/x_total"], 1e-4)


def test_torch_shapes_are_the_fixture_keys(loaded):
  # The fixture holds exactly torchvision's vgg19.features state dict.
  _, ref = loaded
  required, optional = vgg.torch_shapes(19)
  assert [k for k in required if k.endswith(".weight")][-1] == (
      "features.34.weight")
  assert len(required) == 32 and set(optional) == {
      f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")}
  assert ref["out/content/pool_16"].shape[1] == required[
      "features.34.weight"][0]


# --------------------------------------------------------------------------
# Naming, Gram maths and VGG16 fc2 on hand-made weights.


def test_layer_names_follow_the_tutorial():
  names16, names19 = vgg.layer_names(16), vgg.layer_names(19)
  assert names16[:5] == ("conv_1", "relu_1", "conv_2", "relu_2", "pool_2")
  assert names16[-3:] == ("conv_13", "relu_13", "pool_13")
  assert names19[-3:] == ("conv_16", "relu_16", "pool_16")
  assert len(names16) == 13 * 2 + 5 and len(names19) == 16 * 2 + 5
  required16, _ = vgg.torch_shapes(16)
  assert "features.28.weight" in required16  # conv_13 = features[28]
  assert required16["features.28.weight"] == (512, 512, 3, 3)


def test_gram_matrix_matches_numpy_for_a_batch():
  # a > 1 views [a, b, c, d] as [a b, c d], mixing images, as the tutorial.
  f = np.random.default_rng(0).normal(size=(2, 3, 5, 4)).astype(np.float32)
  flat = f.transpose(0, 3, 1, 2).reshape(2 * 4, 3 * 5).astype(np.float64)
  ref = flat @ flat.T / (2 * 4 * 3 * 5)
  np.testing.assert_allclose(style_losses.gram_matrix(jnp.asarray(f)), ref,
                             rtol=1e-5, atol=1e-7)


def test_fc2_matches_numpy_classifier():
  # Small fc layers (torchvision's are 4096 wide) on 64x64 images: pool_13
  # is 2x2, which the adaptive pool spreads over 7x7 before the NCHW-order
  # flatten that torchvision's classifier.0 expects.
  rng = np.random.default_rng(1)
  sd = common.random_vgg16_state_dict(rng, fc_dims=(16, 8))
  params = {k: jnp.asarray(v) for k, v in vgg.from_torch(sd, 16).items()}
  images = jnp.asarray(rng.uniform(size=(2, 64, 64, 3)).astype(np.float32))
  ours = np.asarray(jax.jit(vgg.fc2)(params, images))
  pool = np.asarray(vgg.features(params, images, ["pool_13"])["pool_13"])
  pool = pool.transpose(0, 3, 1, 2).astype(np.float64)  # [2, 512, 2, 2]
  rows = [(i * 2 // 7, -(-(i + 1) * 2 // 7)) for i in range(7)]
  pooled = np.stack([np.stack([pool[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
                               for w0, w1 in rows], -1)
                     for h0, h1 in rows], -2)  # [2, 512, 7, 7]
  hidden = np.maximum(pooled.reshape(2, -1) @ sd["classifier.0.weight"].T
                      + sd["classifier.0.bias"], 0)
  ref = np.maximum(hidden @ sd["classifier.3.weight"].T
                   + sd["classifier.3.bias"], 0)
  assert (ref > 0).any() and (ref == 0).any()  # ReLU active both ways
  np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5 * ref.max())


def test_fc2_needs_the_classifier():
  rng = np.random.default_rng(2)
  params = vgg.from_torch(common.random_vgg16_state_dict(rng), 16)
  with pytest.raises(ValueError, match="classifier"):
    vgg.fc2(params, jnp.zeros((1, 32, 32, 3)))


def test_activations_reject_unknown_layers():
  rng = np.random.default_rng(3)
  params = vgg.from_torch(common.random_vgg16_state_dict(rng), 16)
  with pytest.raises(ValueError, match="unknown VGG16 layers"):
    vgg.features(params, jnp.zeros((1, 32, 32, 3)), ["conv_16"])
