"""Progressive networks: the fade-in blends, stable variables, used params.

Tiny networks (8 px at most, 8 channels) run op by op (no jit), so that
"exactly" means bit-equal: the low-resolution network and the fading one
execute the same kernels on the same values.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax import tree_util
from stylegan_jax.nets import progressive
from stylegan_jax.ops import filters

N = 4
G_KW = dict(z_dim=8, w_dim=8, mapping_layers=1, channel_base=64,
            channel_max=8, max_resolution=8, fused_modconv=False)
D_KW = dict(channel_base=64, channel_max=8, max_resolution=8)


def _randomised(variables, seed):
  """Variables with every parameter redrawn (biases, toRGB... non-zero)."""
  leaves, treedef = jax.tree.flatten(variables["params"])
  keys = jax.random.split(jax.random.key(seed), len(leaves))
  leaves = [jax.random.normal(k, x.shape) * 0.5 for k, x in zip(keys, leaves)]
  return {**variables, "params": jax.tree.unflatten(treedef, leaves)}


def _init_g(res):
  G = progressive.ProgressiveGenerator(img_resolution=res, **G_KW)
  return G.init({"params": jax.random.key(0)}, jnp.zeros((1, 8)),
                noise_mode="const")


def _init_d(res):
  D = progressive.ProgressiveDiscriminator(img_resolution=res, **D_KW)
  return D.init(jax.random.key(1), jnp.zeros((1, res, res, 3)))


@pytest.fixture(scope="module")
def g_init():
  return _init_g(4)


@pytest.fixture(scope="module")
def d_init():
  return _init_d(4)


@pytest.fixture(scope="module")
def g_variables(g_init):
  return _randomised(g_init, 1)


@pytest.fixture(scope="module")
def d_variables(d_init):
  return _randomised(d_init, 3)


def _synthesize(variables, res, fading, alpha, ws):
  G = progressive.ProgressiveGenerator(img_resolution=res, fading=fading,
                                       **G_KW)
  variables = {**variables, "buffers": {**variables["buffers"],
                                        "alpha": jnp.float32(alpha)}}
  return np.asarray(G.apply(variables, ws[:, :G.num_ws], noise_mode="const",
                            method=G.synthesize))


def test_every_stage_has_the_same_variables(g_init, d_init):
  """Parameters for all resolutions exist from the start: shapes and values
  of a 4x4 stage's init equal those of the final network's."""
  for small, full in [(g_init, _init_g(8)), (d_init, _init_d(8))]:
    assert jax.tree.structure(small) == jax.tree.structure(full)
    for a, b in zip(jax.tree.leaves(small), jax.tree.leaves(full)):
      np.testing.assert_array_equal(a, b)
  names = tree_util.flatten(g_init["params"])
  assert {"synthesis/b4/torgb/weight", "synthesis/b8/torgb/weight",
          "synthesis/b8/conv0/weight"} <= set(names)
  assert {"fromrgb4/weight", "fromrgb8/weight", "b8/conv1/weight"} <= set(
      tree_util.flatten(d_init["params"]))
  assert float(g_init["buffers"]["alpha"]) == 1.0


def test_generator_fade_endpoints(g_variables):
  res = 8
  ws = jax.random.normal(jax.random.key(4), (N, 4, 8))
  low = _synthesize(g_variables, res // 2, False, 1.0, ws)
  new = _synthesize(g_variables, res, False, 1.0, ws)
  at0 = _synthesize(g_variables, res, True, 0.0, ws)
  at1 = _synthesize(g_variables, res, True, 1.0, ws)
  assert at0.shape == new.shape == (N, res, res, 3)
  # alpha 0: the lower-resolution network's image, nearest-up-sampled.
  np.testing.assert_array_equal(at0, low.repeat(2, 1).repeat(2, 2))
  # alpha 1: the new block's image.
  np.testing.assert_array_equal(at1, new)
  assert not np.allclose(at0, at1)
  mid = _synthesize(g_variables, res, True, 0.25, ws)
  np.testing.assert_allclose(mid, 0.75 * at0 + 0.25 * at1, rtol=1e-6,
                             atol=1e-6)  # float32 rounding of the blend.


def _score(variables, res, fading, alpha, img):
  D = progressive.ProgressiveDiscriminator(img_resolution=res, fading=fading,
                                           **D_KW)
  return np.asarray(D.apply(variables, img, None, alpha))


def test_discriminator_fade_endpoints(d_variables):
  res = 8
  img = jax.random.uniform(jax.random.key(5), (N, res, res, 3), minval=-1)
  half = img.reshape(N, res // 2, 2, res // 2, 2, 3).mean(axis=(2, 4))
  low = _score(d_variables, res // 2, False, 1.0, half)
  new = _score(d_variables, res, False, 1.0, img)
  at0 = _score(d_variables, res, True, 0.0, img)
  at1 = _score(d_variables, res, True, 1.0, img)
  # alpha 0: the lower-resolution D on the box-down-sampled image.
  np.testing.assert_array_equal(at0, low)
  np.testing.assert_array_equal(at1, new)
  assert not np.allclose(at0, at1)


def _nonzero_grads(grads):
  return {k for k, g in tree_util.flatten(grads).items() if np.any(g != 0)}


@pytest.mark.parametrize("res", [4, 8])
def test_used_parameters_are_those_with_gradients(g_variables, d_variables,
                                                  res):
  fading = False
  z = jax.random.normal(jax.random.key(6), (N, 8))
  G = progressive.ProgressiveGenerator(img_resolution=res, fading=fading,
                                       **G_KW)
  buffers = {**g_variables["buffers"], "alpha": jnp.float32(0.5)}

  def g_loss(params):
    img = G.apply({"params": params, "buffers": buffers}, z,
                  noise_mode="const")
    return jnp.sum(img * jnp.cos(jnp.arange(img.size)).reshape(img.shape))

  grads = jax.jit(jax.grad(g_loss))(g_variables["params"])
  used = {k for k in tree_util.flatten(grads)
          if progressive.generator_uses(k, res, fading)}
  assert _nonzero_grads(grads) == used
  assert "mapping/fc0/weight" in used  # The mapping is always in use.

  D = progressive.ProgressiveDiscriminator(img_resolution=res, fading=fading,
                                           **D_KW)
  img = jax.random.uniform(jax.random.key(7), (N, res, res, 3), minval=-1)
  grads = jax.jit(jax.grad(
      lambda p: jnp.sum(D.apply({"params": p}, img, None, 0.5))))(
      d_variables["params"])
  used = {k for k in tree_util.flatten(grads)
          if progressive.discriminator_uses(k, res, fading)}
  assert _nonzero_grads(grads) == used
  # Unused: the 8x8 block at 4x4, the 4x4 toRGB / fromRGB at 8x8; while 8x8
  # fades in, everything is in use.
  assert ("fromrgb8/weight" in used) == (res == 8)
  assert ("fromrgb4/weight" in used) == (res == 4)
  assert all(progressive.discriminator_uses(k, 8, True) for k in grads)


def test_progressive_architecture_is_checked():
  G = progressive.ProgressiveGenerator(img_resolution=4, architecture="skip",
                                       **G_KW)
  with pytest.raises(ValueError, match="'orig' or 'resnet'"):
    G.init({"params": jax.random.key(0)}, jnp.zeros((1, 8)))
  D = progressive.ProgressiveDiscriminator(img_resolution=4, fading=True,
                                           **D_KW)
  with pytest.raises(ValueError, match="cannot fade"):
    D.init(jax.random.key(0), jnp.zeros((1, 4, 4, 3)))


def test_box_and_nearest_resampling():
  x = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
  down = filters.box_downsample(x)
  np.testing.assert_array_equal(
      down[0, 1, 0], (x[0, 2, 0] + x[0, 2, 1] + x[0, 3, 0] + x[0, 3, 1]) / 4)
  np.testing.assert_array_equal(filters.box_downsample(x, 4)[:, 0, 0],
                                x.mean(axis=(1, 2)))
  up = filters.nearest_upsample(down)
  assert up.shape == x.shape
  np.testing.assert_array_equal(up[:, 2:4, 0:2], np.broadcast_to(
      down[:, 1:2, 0:1], (2, 2, 2, 3)))
  # JAX arrays give the same values.
  np.testing.assert_array_equal(filters.box_downsample(jnp.asarray(x)), down)


def test_fully_grown_networks_convert_to_plain_stylegan2(g_variables,
                                                         d_variables):
  G = progressive.ProgressiveGenerator(img_resolution=8, **G_KW)
  D = progressive.ProgressiveDiscriminator(img_resolution=8, **D_KW)
  plain_g, g_vars, plain_d, d_vars = progressive.to_stylegan2(
      G, g_variables, D, d_variables)
  assert type(plain_g).__name__ == "Generator"
  assert plain_g.architecture == "orig" and plain_d.architecture == "orig"
  assert "torgb" not in g_vars["params"]["synthesis"]["b4"]
  assert "alpha" not in g_vars["buffers"]
  z = jax.random.normal(jax.random.key(8), (N, 8))
  np.testing.assert_array_equal(
      plain_g.apply(g_vars, z, noise_mode="const"),
      G.apply(g_variables, z, noise_mode="const"))
  img = jax.random.uniform(jax.random.key(9), (N, 8, 8, 3), minval=-1)
  np.testing.assert_array_equal(plain_d.apply(d_vars, img),
                                D.apply(d_variables, img))
  with pytest.raises(ValueError, match="fully grown"):
    progressive.to_stylegan2(G.clone(img_resolution=4), g_variables)
