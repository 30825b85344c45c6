"""Generator/Discriminator shapes, wiring, w_avg, truncation, noise, clamping.

Networks are tiny (16 channels at every resolution, z = w = 16, 2 mapping
layers) and run eagerly: with one channel count, every resolution reuses the
same compiled primitives, which is far cheaper on CPU than compiling each
network whole. Initialised variables are shared through module-scoped
fixtures.
"""

import math

import flax
from flax import traverse_util
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax.nets import Discriminator
from stylegan_jax.nets import Generator
from stylegan_jax.nets.modules import Conv2d
from stylegan_jax.nets.synthesis import SynthesisLayer
from stylegan_jax.nets.synthesis import ToRGBLayer

N = 4
DIM = 16
SMALL = dict(channel_base=512, channel_max=16)  # 16 channels up to 32x32.


def make_g(res=8, **kwargs):
  return Generator(z_dim=DIM, w_dim=DIM, img_resolution=res,
                   mapping_layers=2, **SMALL, **kwargs)


def make_d(res=8, **kwargs):
  return Discriminator(img_resolution=res, mapping_layers=2, **SMALL,
                       **kwargs)


def _z(seed=0):
  return jax.random.normal(jax.random.key(seed), (N, DIM))


def _labels(classes, c_dim=3):
  return jax.nn.one_hot(jnp.asarray(classes), c_dim)


def _names(variables, collection="params"):
  return set(traverse_util.flatten_dict(variables[collection], sep="/"))


def _set_leaves(tree, name, fn):
  """Copy of `tree` with every leaf called `name` replaced by fn(leaf)."""
  flat = traverse_util.flatten_dict(flax.core.unfreeze(tree))
  flat = {k: fn(v) if k[-1] == name else v for k, v in flat.items()}
  return traverse_util.unflatten_dict(flat)


@pytest.fixture(scope="module")
def g_init():
  """(G, variables, image) for a G config, each built once per module."""
  cache = {}

  def get(res=8, **kwargs):
    key = (res, tuple(sorted(kwargs.items())))
    if key not in cache:
      g = make_g(res, **kwargs)
      c = _labels([0, 1, 2, 0], kwargs["c_dim"]) if "c_dim" in kwargs else None
      img, variables = g.init_with_output(
          {"params": jax.random.key(1), "noise": jax.random.key(2)}, _z(), c,
          noise_mode="const")
      cache[key] = (g, variables, img)
    return cache[key]

  return get


@pytest.fixture(scope="module")
def d_init():
  """(D, variables, logits) for a D config, each built once per module."""
  cache = {}

  def get(res=8, **kwargs):
    key = (res, tuple(sorted(kwargs.items())))
    if key not in cache:
      d = make_d(res, **kwargs)
      img = jax.random.uniform(jax.random.key(3), (N, res, res, 3),
                               minval=-1, maxval=1)
      c = _labels([0, 1, 2, 0], kwargs["c_dim"]) if "c_dim" in kwargs else None
      logits, variables = d.init_with_output(jax.random.key(4), img, c)
      cache[key] = (d, variables, logits, img)
    return cache[key]

  return get


# Shapes and resolutions ---------------------------------------------------


@pytest.mark.parametrize("res", [8, 16, 32])
def test_generator_shapes(g_init, res):
  g, variables, img = g_init(res)
  assert img.shape == (N, res, res, 3)
  assert np.all(np.isfinite(img))
  ws = g.apply(variables, _z(), method=Generator.map)
  assert g.num_ws == 2 * int(math.log2(res)) - 2
  assert ws.shape == (N, g.num_ws, DIM)


@pytest.mark.parametrize("res", [8, 16, 32])
def test_discriminator_shapes(d_init, res):
  _, _, logits, _ = d_init(res)
  assert logits.shape == (N, 1)
  assert np.all(np.isfinite(logits))


@pytest.mark.parametrize("res", [24, 2, 0])
def test_bad_resolution_raises(res):
  with pytest.raises(ValueError, match="power of two"):
    make_g(res).init(jax.random.key(0), _z())
  with pytest.raises(ValueError, match="power of two"):
    make_d(res).init(jax.random.key(0), jnp.zeros((N, res, res, 3)))


def test_discriminator_rejects_wrong_image_shape(d_init):
  d, variables, _, _ = d_init(8)
  with pytest.raises(ValueError, match="NHWC"):
    d.apply(variables, jnp.zeros((N, 3, 8, 8)))


def test_num_ws_formula():
  for log2 in range(2, 11):
    assert make_g(2**log2).num_ws == 2 * log2 - 2


def test_wrong_ws_shape_raises(g_init):
  g, variables, _ = g_init(8)
  for shape in [(N, g.num_ws - 1, DIM), (N, g.num_ws + 1, DIM),
                (N, g.num_ws, DIM + 1)]:
    with pytest.raises(ValueError, match="ws must be"):
      g.apply(variables, jnp.zeros(shape), "const",
              method=Generator.synthesize)


@pytest.mark.parametrize("architecture", ["skip", "orig"])
def test_ws_indexing(g_init, architecture):
  # Which ws entries change each layer's own output: layer j of the conv
  # sequence reads ws[:, j], and a block's toRGB shares its w with the next
  # block's conv0 (so the last toRGB reads the last w).
  g, variables, _ = g_init(16, architecture=architecture)
  ws = g.apply(variables, _z(), method=Generator.map)
  kinds = (SynthesisLayer, ToRGBLayer)

  def outputs(ws):
    return _capture(g, variables, (ws,), kinds, method=Generator.synthesize,
                    noise_mode="const")

  base = outputs(ws)
  deps = {name: set() for name in base}
  for i in range(g.num_ws):
    for name, out in outputs(ws.at[:, i].add(1.0)).items():
      if np.max(np.abs(out - base[name])) > 1e-6:
        deps[name].add(i)
  last_w = {"b4/conv1": 0, "b4/torgb": 1, "b8/conv0": 1, "b8/conv1": 2,
            "b8/torgb": 3, "b16/conv0": 3, "b16/conv1": 4, "b16/torgb": 5}
  if architecture == "orig":
    del last_w["b4/torgb"], last_w["b8/torgb"]
  assert g.num_ws == 6
  assert deps == {f"synthesis/{k}": set(range(v + 1))
                  for k, v in last_w.items()}


# Architectures ------------------------------------------------------------


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_generator_architectures(g_init, architecture):
  _, variables, img = g_init(16, architecture=architecture)
  assert img.shape == (N, 16, 16, 3) and np.all(np.isfinite(img))
  names = _names(variables)
  torgb = {r for r in (4, 8, 16)
           if f"synthesis/b{r}/torgb/weight" in names}
  skip = {r for r in (4, 8, 16) if f"synthesis/b{r}/skip/weight" in names}
  if architecture == "skip":
    assert torgb == {4, 8, 16}
  else:
    assert torgb == {16}
  if architecture == "resnet":
    assert skip == {8, 16}
    assert "synthesis/b8/skip/weight" in names
    assert "synthesis/b8/skip/bias" not in names
  else:
    assert not any("skip" in n for n in names)
  for r in (8, 16):
    assert f"synthesis/b{r}/conv0/weight" in names
    assert f"synthesis/b{r}/conv0/noise_strength" in names
  assert "synthesis/b4/const" in names
  assert "synthesis/b4/conv0/weight" not in names
  assert {"mapping/fc0/weight", "mapping/fc1/weight"} <= names
  assert not any(n.startswith("mapping/fc2") for n in names)
  assert _names(variables, "buffers") >= {
      "mapping/w_avg", "synthesis/b16/conv0/noise_const"}


@pytest.mark.parametrize("architecture", ["orig", "skip", "resnet"])
def test_discriminator_architectures(d_init, architecture):
  _, variables, logits, _ = d_init(16, architecture=architecture)
  assert logits.shape == (N, 1) and np.all(np.isfinite(logits))
  names = _names(variables)
  fromrgb = {r for r in (4, 8, 16) if f"b{r}/fromrgb/weight" in names}
  skip = {r for r in (4, 8, 16) if f"b{r}/skip/weight" in names}
  if architecture == "skip":
    assert fromrgb == {4, 8, 16}
  else:
    assert fromrgb == {16}
  if architecture == "resnet":
    assert skip == {8, 16}
  else:
    assert not any("skip" in n for n in names)
  assert {"b4/conv/weight", "b4/fc/weight", "b4/out/weight"} <= names
  assert variables["params"]["b4"]["out"]["weight"].shape == (16, 1)
  # mbstd adds one channel in front of the 4x4 conv.
  assert variables["params"]["b4"]["conv"]["weight"].shape == (3, 3, 17, 16)
  assert not any(n.startswith("mapping") for n in names)


def test_unknown_architecture_raises():
  with pytest.raises(ValueError, match="architecture"):
    make_d(8, architecture="dense").init(jax.random.key(0),
                                         jnp.zeros((N, 8, 8, 3)))
  with pytest.raises(ValueError, match="architecture"):
    make_g(8, architecture="dense").init(jax.random.key(0), _z())


# w_avg and truncation -----------------------------------------------------


@pytest.fixture(scope="module")
def g_w_avg(g_init):
  """G 8x8 with a non-zero w_avg, so truncation and updates are visible."""
  g, variables, _ = g_init(8)
  w_avg = jax.random.normal(jax.random.key(5), (DIM,))
  variables = flax.core.unfreeze(variables)
  variables["buffers"] = _set_leaves(variables["buffers"], "w_avg",
                                     lambda _: w_avg)
  return g, variables, np.asarray(w_avg)


def test_w_avg_update_only_when_requested(g_w_avg):
  g, variables, w_avg = g_w_avg
  ws = g.apply(variables, _z(), method=Generator.map)
  w = np.asarray(ws[:, 0], np.float64)
  np.testing.assert_array_equal(ws, np.broadcast_to(ws[:, :1], ws.shape))

  ws2, state = g.apply(variables, _z(), update_w_avg=True,
                       mutable=["buffers"], method=Generator.map)
  np.testing.assert_array_equal(ws2, ws)
  new = np.asarray(state["buffers"]["mapping"]["w_avg"])
  mean = w.mean(axis=0)
  want = mean + 0.995 * (w_avg - mean)
  np.testing.assert_allclose(new, want, rtol=1e-5, atol=1e-6)
  assert np.max(np.abs(new - w_avg)) > 1e-4

  _, state = g.apply(variables, _z(), update_w_avg=False,
                     mutable=["buffers"], method=Generator.map)
  np.testing.assert_array_equal(state["buffers"]["mapping"]["w_avg"], w_avg)
  # The full generator call forwards update_w_avg too.
  _, state = g.apply(variables, _z(), noise_mode="const", update_w_avg=True,
                     mutable=["buffers"])
  np.testing.assert_allclose(state["buffers"]["mapping"]["w_avg"], want,
                             rtol=1e-5, atol=1e-6)
  # Without a mutable `buffers` collection an update is an error, not a
  # silent no-op.
  with pytest.raises(flax.errors.ModifyScopeVariableError):
    g.apply(variables, _z(), update_w_avg=True, method=Generator.map)


def test_truncation(g_w_avg):
  g, variables, w_avg = g_w_avg
  ws = np.asarray(g.apply(variables, _z(), method=Generator.map))
  cutoff = 2
  ws_t = np.asarray(g.apply(variables, _z(), truncation_psi=0.5,
                            truncation_cutoff=cutoff, method=Generator.map))
  np.testing.assert_array_equal(ws_t[:, cutoff:], ws[:, cutoff:])
  np.testing.assert_allclose(ws_t[:, :cutoff],
                             w_avg + 0.5 * (ws[:, :cutoff] - w_avg),
                             rtol=1e-5, atol=1e-6)
  ws_0 = np.asarray(g.apply(variables, _z(), truncation_psi=0.0,
                            truncation_cutoff=cutoff, method=Generator.map))
  np.testing.assert_allclose(ws_0[:, :cutoff],
                             np.broadcast_to(w_avg, ws_0[:, :cutoff].shape),
                             rtol=1e-6, atol=1e-6)
  np.testing.assert_array_equal(ws_0[:, cutoff:], ws[:, cutoff:])
  ws_all = np.asarray(g.apply(variables, _z(), truncation_psi=0.0,
                              method=Generator.map))
  np.testing.assert_allclose(ws_all, np.broadcast_to(w_avg, ws.shape),
                             rtol=1e-6, atol=1e-6)
  # Traced psi and cutoff (e.g. from a jitted sampler) behave the same.
  fn = jax.jit(lambda psi, cut: g.apply(variables, _z(), truncation_psi=psi,
                                        truncation_cutoff=cut,
                                        method=Generator.map))
  np.testing.assert_allclose(fn(0.5, cutoff), ws_t, rtol=1e-5, atol=1e-6)


# Noise ---------------------------------------------------------------------


def test_noise_modes(g_init):
  g, variables, _ = g_init(8)
  ws = g.apply(variables, _z(), method=Generator.map)

  def synth(variables, mode, seed=None):
    rngs = {} if seed is None else {"noise": jax.random.key(seed)}
    return np.asarray(g.apply(variables, ws, mode, rngs=rngs,
                              method=Generator.synthesize))

  # noise_strength starts at 0: every mode gives the same image.
  const = synth(variables, "const")
  np.testing.assert_allclose(synth(variables, "none"), const, atol=1e-6)
  np.testing.assert_allclose(synth(variables, "random", 0), const, atol=1e-6)

  noisy = flax.core.unfreeze(variables)
  noisy["params"] = _set_leaves(noisy["params"], "noise_strength",
                                lambda s: jnp.full_like(s, 0.5))
  const = synth(noisy, "const")
  np.testing.assert_array_equal(synth(noisy, "const", 7), const)
  rand_a, rand_b = synth(noisy, "random", 0), synth(noisy, "random", 1)
  np.testing.assert_array_equal(synth(noisy, "random", 0), rand_a)
  assert np.max(np.abs(rand_a - rand_b)) > 1e-3
  assert np.max(np.abs(rand_a - const)) > 1e-3
  none = synth(noisy, "none")
  assert np.max(np.abs(none - const)) > 1e-3
  np.testing.assert_allclose(none, synth(variables, "none"), atol=1e-6)
  with pytest.raises(ValueError, match="noise_mode"):
    synth(noisy, "fixed")


# Conditioning --------------------------------------------------------------


def test_conditional_generator_and_discriminator(g_init, d_init):
  g, g_vars, img = g_init(8, c_dim=3)
  assert img.shape == (N, 8, 8, 3)
  assert "mapping/embed/weight" in _names(g_vars)
  img_a = g.apply(g_vars, _z(), _labels([0, 0, 0, 0]), noise_mode="const")
  img_b = g.apply(g_vars, _z(), _labels([1, 1, 1, 1]), noise_mode="const")
  assert np.max(np.abs(img_a - img_b)) > 1e-4

  d, d_vars, logits, real = d_init(8, c_dim=3)
  assert logits.shape == (N, 1)
  names = _names(d_vars)
  assert {"mapping/embed/weight", "mapping/fc0/weight",
          "mapping/fc1/weight"} <= names
  # cmap_dim defaults to the 4x4 channel count.
  assert d_vars["params"]["b4"]["out"]["weight"].shape == (16, 16)
  outs = [np.asarray(d.apply(d_vars, real, _labels([k] * N)))
          for k in range(3)]
  for a in range(3):
    for b in range(a + 1, 3):
      assert np.max(np.abs(outs[a] - outs[b])) > 1e-4
  # Per-sample labels pick the matching row of each one-label run.
  mixed = np.asarray(d.apply(d_vars, real, _labels([0, 1, 2, 0])))
  np.testing.assert_allclose(mixed[:, 0],
                             [outs[0][0, 0], outs[1][1, 0], outs[2][2, 0],
                              outs[0][3, 0]], rtol=1e-5, atol=1e-6)


# conv_clamp ------------------------------------------------------------------

CLAMP = 0.01


def _capture(model, variables, args, kinds, **kwargs):
  """Runs `model` and returns {module path: output} for modules of `kinds`."""
  _, state = model.apply(
      variables, *args, **kwargs, mutable=["intermediates"],
      capture_intermediates=lambda mdl, method: (
          method == "__call__" and isinstance(mdl, kinds)))
  flat = traverse_util.flatten_dict(state["intermediates"], sep="/")
  return {k.rsplit("/__call__", 1)[0]: np.asarray(v[0])
          for k, v in flat.items()}


@pytest.mark.parametrize("architecture", ["skip", "resnet"])
def test_generator_conv_clamp(g_init, architecture):
  g, variables, img = g_init(16, architecture=architecture, conv_clamp=CLAMP)
  outs = _capture(g, variables, (_z(),), (SynthesisLayer, ToRGBLayer),
                  noise_mode="const")
  num_torgb = 3 if architecture == "skip" else 1
  assert sum("torgb" in k for k in outs) == num_torgb
  assert sum(k.endswith(("conv0", "conv1")) for k in outs) == 5
  hit = 0
  for name, out in outs.items():
    gain = 1.0
    if (architecture == "resnet" and name.endswith("conv1")
        and not name.endswith("b4/conv1")):
      gain = math.sqrt(0.5)
    bound = CLAMP * gain
    assert np.max(np.abs(out)) <= bound * (1 + 1e-6), name
    hit += np.max(np.abs(out)) >= bound * (1 - 1e-6)
  assert hit >= len(outs) - 1  # Clamping really engages (nearly) everywhere.
  # The image is a sum of toRGB outputs, each upsampled by a non-negative
  # filter whose phases sum to 1 (so |upsample(img)| <= max|img|).
  img = np.asarray(img)
  assert np.max(np.abs(img)) <= num_torgb * CLAMP * (1 + 1e-5)
  # Without clamping the same network's image is far larger.
  _, _, free_img = g_init(16, architecture=architecture)
  assert np.max(np.abs(free_img)) > 10 * num_torgb * CLAMP


@pytest.mark.parametrize("architecture", ["resnet", "skip"])
def test_discriminator_conv_clamp(d_init, architecture):
  d, variables, logits, img = d_init(16, architecture=architecture,
                                     conv_clamp=CLAMP)
  assert np.all(np.isfinite(logits))
  outs = _capture(d, variables, (img,), (Conv2d,))
  clamped = [k for k in outs if not k.endswith("skip") and k != "b4/fromrgb"]
  want = {"b16/fromrgb", "b16/conv0", "b16/conv1", "b8/conv0", "b8/conv1",
          "b4/conv"}
  if architecture == "skip":
    want |= {"b8/fromrgb"}
  assert set(clamped) == want
  for name in clamped:
    gain = 1.0
    if architecture == "resnet" and name.endswith("conv1"):
      gain = math.sqrt(0.5)
    out = np.abs(outs[name])
    assert out.max() <= CLAMP * gain * (1 + 1e-6), name
    if name in ("b16/fromrgb", "b16/conv0"):  # Later inputs are tiny.
      assert out.max() >= CLAMP * gain * (1 - 1e-6), name  # Engages.
  if architecture == "skip":
    # The epilogue's own fromRGB is built without conv_clamp.
    assert np.max(np.abs(outs["b4/fromrgb"])) > 10 * CLAMP
  else:
    # The resnet skip convs are never clamped either.
    assert max(np.max(np.abs(outs[f"b{r}/skip"])) for r in (8, 16)) > CLAMP
