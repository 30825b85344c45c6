"""pix2pix's U-Net and PatchGAN: the paper's layer widths, shapes, dropout,
normalisation and the 70 x 70 receptive field (by a gradient footprint)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax.nets import pix2pix


def _count(tree) -> int:
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def test_unet_256_has_the_papers_layers():
  G = pix2pix.UNetGenerator()  # 256 px, ngf 64, as the paper.
  params = pix2pix.abstract_generator_variables(G)["params"]
  # Encoder C64-C128-C256-C512-C512-C512-C512-C512 (3 input channels).
  widths = [3, 64, 128, 256, 512, 512, 512, 512, 512]
  for i in range(8):
    assert params[f"down{i}"]["kernel"].shape == (4, 4, widths[i],
                                                  widths[i + 1])
    # No norm on the first nor the innermost (1x1) layer: they keep a bias.
    assert (f"down{i}_norm" in params) == (0 < i < 7)
    assert ("bias" in params[f"down{i}"]) == (i in (0, 7))
  # Decoder CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128 inputs (the
  # paper's U-Net widths, skip channels included) -> 3 channels.
  ins = [512, 1024, 1024, 1024, 1024, 512, 256, 128]
  outs = [512, 512, 512, 512, 256, 128, 64, 3]
  for j, i in enumerate(range(7, -1, -1)):
    assert params[f"up{i}"]["kernel"].shape == (4, 4, ins[j], outs[j])
    assert (f"up{i}_norm" in params) == (i > 0)
  # The reference implementation reports 54.414 M parameters for unet_256
  # with its norm layers (and 2.769 M for the 70x70 PatchGAN below).
  assert _count(params) == 54_414_531


def test_patchgan_256_layers_and_output():
  D = pix2pix.PatchDiscriminator()
  params = pix2pix.abstract_discriminator_variables(D)["params"]
  # C64-C128-C256-C512 on 3 + 3 channels, then one logit.
  shapes = [(4, 4, 6, 64), (4, 4, 64, 128), (4, 4, 128, 256),
            (4, 4, 256, 512)]
  for i, shape in enumerate(shapes):
    assert params[f"conv{i}"]["kernel"].shape == shape
    assert (f"conv{i}_norm" in params) == (i > 0)
  assert params["out"]["kernel"].shape == (4, 4, 512, 1)
  assert _count(params) == 2_768_705
  out = jax.eval_shape(
      lambda p: D.apply({"params": p}, jnp.zeros((2, 256, 256, 3)),
                        jnp.zeros((2, 256, 256, 3))), params)
  assert out.shape == (2, 30, 30, 1)  # 30 x 30 patches, as the paper.
  assert pix2pix.patch_output_size(256, 3) == 30


def test_receptive_field_from_the_layer_stack():
  assert pix2pix.patch_layers(3) == [(4, 2)] * 3 + [(4, 1)] * 2
  # r <- (r - 1) * s + k from one output: 4, 7, 16, 34, 70.
  assert pix2pix.receptive_field(pix2pix.patch_layers(3)) == 70
  assert pix2pix.PatchDiscriminator().receptive_field == 70
  assert pix2pix.receptive_field(pix2pix.patch_layers(1)) == 16
  assert pix2pix.receptive_field(pix2pix.patch_layers(2)) == 34


def test_receptive_field_gradient_footprint():
  """The pixels one logit depends on form exactly a 70 x 70 square.

  Normalisation is off here: its statistics span the whole image, which
  would make every pixel matter a little; the conv stack alone defines the
  patch. The expected square starts at j * 8 - 23 for patch j: the strides
  multiply to 8, and each layer's padding of 1 shifts the window by the
  stride product before it (1 + 2 + 4 + 8 + 8 = 23).
  """
  res = 128
  D = pix2pix.PatchDiscriminator(img_resolution=res, channels=2,
                                 channel_max=4, norm="none")
  rng = np.random.default_rng(0)
  source = jnp.asarray(rng.uniform(-1, 1, (1, res, res, 3)), jnp.float32)
  image = jnp.asarray(rng.uniform(-1, 1, (1, res, res, 3)), jnp.float32)
  params = D.init(jax.random.key(0), source, image)["params"]
  size = pix2pix.patch_output_size(res, 3)
  assert size == 14
  layers = pix2pix.patch_layers(3)
  jump = int(np.prod([s for _, s in layers]))
  shift, before = 0, 1
  for _, stride in layers:
    shift += 1 * before  # Padding 1 at this layer's input.
    before *= stride
  assert (jump, shift) == (8, 23)

  def logit(src, img, i, j):
    return D.apply({"params": params}, src, img)[0, i, j, 0]

  grad = jax.jit(jax.grad(logit, argnums=(0, 1)), static_argnums=(2, 3))
  for i, j in [(6, 7), (4, 9)]:  # Patches whose window is inside the image.
    g_src, g_img = grad(source, image, i, j)
    for g in (g_src, g_img):
      rows = np.flatnonzero(np.abs(np.asarray(g)[0]).sum(axis=(1, 2)))
      cols = np.flatnonzero(np.abs(np.asarray(g)[0]).sum(axis=(0, 2)))
      assert (rows[0], rows[-1]) == (i * jump - shift, i * jump - shift + 69)
      assert (cols[0], cols[-1]) == (j * jump - shift, j * jump - shift + 69)
      assert len(rows) == len(cols) == 70  # Every pixel inside counts.


@pytest.fixture(scope="module")
def small_unet():
  G = pix2pix.UNetGenerator(img_resolution=16, channels=4, channel_max=16)
  x = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, (3, 16, 16, 3)),
                  jnp.float32)
  params = jax.jit(G.init)(jax.random.key(0), x[:1])["params"]
  return G, params, x


def test_unet_output_shape_range_and_dropout(small_unet):
  G, params, x = small_unet
  apply = jax.jit(lambda p, x, key: (
      G.apply({"params": p}, x),
      G.apply({"params": p}, x, train=True, rngs={"dropout": key})))
  y, y_drop = apply(params, x, jax.random.key(1))
  y2, y_drop2 = apply(params, x, jax.random.key(2))
  assert y.shape == (3, 16, 16, 3) and float(jnp.max(jnp.abs(y))) < 1
  np.testing.assert_array_equal(y, y2)  # Evaluation: no dropout.
  assert not np.allclose(y_drop, y_drop2)  # Training: the key matters.
  # 16 px: 4 layers down to 1x1; dropout in up3, up2, up1 (all 3 inner).
  assert [k for k in params if k.startswith("down") and "norm" not in k] == [
      "down0", "down1", "down2", "down3"]


def test_instance_norm_is_per_image_batch_norm_is_not(small_unet):
  G, params, x = small_unet
  batch_G = pix2pix.UNetGenerator(img_resolution=16, channels=4,
                                  channel_max=16, norm="batch")

  @jax.jit
  def first_image(params):
    """G(x[:1]) and G(x)[:1] for both norms."""
    return [(net.apply({"params": params}, x[:1]),
             net.apply({"params": params}, x)[:1]) for net in (G, batch_G)]

  (alone, together), (batch_alone, batch_together) = first_image(params)
  np.testing.assert_allclose(alone, together, atol=1e-6)
  assert not np.allclose(batch_alone, batch_together, atol=1e-3)


def test_norm_matches_numpy():
  x = np.random.default_rng(2).normal(size=(2, 3, 3, 4)).astype(np.float32)
  for kind, axes in [("instance", (1, 2)), ("batch", (0, 1, 2))]:
    norm = pix2pix.Norm(kind)
    params = {"scale": np.arange(1, 5, dtype=np.float32),
              "bias": np.full(4, 0.5, np.float32)}
    got = norm.apply({"params": params}, x)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    want = (x - mean) / np.sqrt(var + 1e-5) * params["scale"] + 0.5
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_bad_inputs_are_clear():
  with pytest.raises(ValueError, match="power of two"):
    pix2pix.unet_channels(48, 64, 512)
  D = pix2pix.PatchDiscriminator(img_resolution=16, channels=2)
  with pytest.raises(ValueError, match="no patches"):
    D.init(jax.random.key(0), jnp.zeros((1, 16, 16, 3)),
           jnp.zeros((1, 16, 16, 3)))
  with pytest.raises(ValueError, match="norm must be one of"):
    pix2pix.UNetGenerator(img_resolution=8, norm="layer").init(
        jax.random.key(0), jnp.zeros((1, 8, 8, 3)))
