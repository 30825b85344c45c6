"""The classic baselines: MLP (keras/torch), DCGAN-style and vanilla GANs.

Layer shapes and parameter counts are checked against the recipes, counted by
hand here (shapes come from `jax.eval_shape`, so large configs cost no
compute). Forward passes of small configs, with random NumPy parameters, are
checked against NumPy re-implementations of each recipe's layers (Keras
'same' convs and nearest upsampling, PyTorch's padded and transposed convs),
and initialisers against their frameworks' bounds.

Compilation dominates on CPU, so forward passes are jitted whole, and the
initialisers run in one jitted function with `rbg` keys (threefry's random
bits take far longer to compile; the distributions do not depend on it).
"""

import math

from flax import traverse_util
import jax
import numpy as np
import pytest

from stylegan_jax.nets import classic
from stylegan_jax.nets import dcgan
from stylegan_jax.nets import mlp
from stylegan_jax.nets import vanilla


def _shapes(module, *args):
  """{'layer/param': shape} of module's params, without computing them."""
  variables = jax.eval_shape(module.init, jax.random.key(0), *args)
  flat = traverse_util.flatten_dict(variables["params"], sep="/")
  return {k: tuple(v.shape) for k, v in flat.items()}


def _count(shapes):
  return sum(math.prod(s) for s in shapes.values())


def _z(n=2, z_dim=100):
  return np.zeros((n, z_dim), np.float32)


def _img(n=2, res=28, ch=1):
  return np.zeros((n, res, res, ch), np.float32)


def _params(variables):
  return {k: np.asarray(v, np.float64) for k, v in
          traverse_util.flatten_dict(variables["params"], sep="/").items()}


def _random_variables(module, *args, seed=0):
  """Variables of `module` filled with N(0, 1 / fan_in) NumPy draws."""
  rng = np.random.default_rng(seed)
  shapes = jax.eval_shape(module.init, jax.random.key(0), *args)
  return jax.tree.map(
      lambda s: np.float32(rng.normal(size=s.shape)
                           / math.sqrt(math.prod(s.shape[:-1]) or 1)), shapes)


def _forward(module, *args, seed=0):
  """(module(*args) as NumPy, its variables), with random variables.

  The whole forward pass is one jitted call; checks then run in NumPy.
  """
  variables = _random_variables(module, *args, seed=seed)
  return np.asarray(jax.jit(module.apply)(variables, *args)), variables


# --------------------------------------------------------------------- MLP --


@pytest.mark.parametrize("variant", mlp.MLP_VARIANTS)
def test_mlp_layers_match_the_recipe(variant):
  g = _shapes(mlp.MLPGenerator(variant=variant), _z())
  assert g == {"fc0/kernel": (100, 128), "fc0/bias": (128,),
               "fc1/kernel": (128, 128), "fc1/bias": (128,),
               "out/kernel": (128, 784), "out/bias": (784,)}
  assert _count(g) == 100 * 128 + 128 + 128 * 128 + 128 + 128 * 784 + 784
  d = _shapes(mlp.MLPDiscriminator(variant=variant), _img())
  assert d == {"fc0/kernel": (784, 128), "fc0/bias": (128,),
               "fc1/kernel": (128, 128), "fc1/bias": (128,),
               "out/kernel": (128, 1), "out/bias": (1,)}
  assert _count(d) == 784 * 128 + 128 + 128 * 128 + 128 + 128 + 1


def test_mlp_other_sizes_and_labels():
  g = _shapes(mlp.MLPGenerator(z_dim=16, c_dim=10, img_resolution=16,
                               img_channels=3, hidden=(64,)),
              _z(z_dim=16), np.zeros((2, 10), np.float32))
  assert g == {"fc0/kernel": (26, 64), "fc0/bias": (64,),
               "out/kernel": (64, 768), "out/bias": (768,)}
  d = _shapes(mlp.MLPDiscriminator(c_dim=10, img_resolution=16,
                                   img_channels=3, hidden=(64, 32, 8)),
              _img(res=16, ch=3), np.zeros((2, 10), np.float32))
  assert d["fc0/kernel"] == (16 * 16 * 3 + 10, 64)
  assert d["fc2/kernel"] == (32, 8) and d["out/kernel"] == (8, 1)


def _np_mlp(params, x, act, layers):
  for i, name in enumerate(layers):
    x = x @ params[f"{name}/kernel"] + params[f"{name}/bias"]
    if i < len(layers) - 1:
      x = act(x)
  return x


@pytest.mark.parametrize("variant", mlp.MLP_VARIANTS)
def test_mlp_forward_matches_numpy_recipe(variant):
  n, res, ch = 3, 8, 2
  kwargs = dict(variant=variant, img_resolution=res, img_channels=ch,
                hidden=(16, 16))
  g, d = mlp.MLPGenerator(z_dim=5, **kwargs), mlp.MLPDiscriminator(**kwargs)
  z = np.random.default_rng(1).normal(size=(n, 5)).astype(np.float32)
  img, g_vars = _forward(g, z, seed=2)
  logits, d_vars = _forward(d, img, seed=3)
  if variant == "keras":
    act = lambda x: np.maximum(x, 0)
  else:
    act = lambda x: np.where(x > 0, x, 0.2 * x)
  layers = ["fc0", "fc1", "out"]
  a = _np_mlp(_params(g_vars), np.asarray(z, np.float64), act, layers)
  if variant == "keras":  # Keras sigmoid y in [0, 1] -> 2y - 1.
    expected = 2 / (1 + np.exp(-a)) - 1
  else:
    expected = np.tanh(a)
  expected = expected.reshape(n, res, res, ch)  # Row-major H, W, C.
  np.testing.assert_allclose(img, expected, rtol=1e-5, atol=1e-6)
  x = np.asarray(img, np.float64).reshape(n, -1)
  if variant == "keras":
    x = (x + 1) / 2  # The keras D is fed the recipe's [0, 1] pixels.
  np.testing.assert_allclose(
      logits, _np_mlp(_params(d_vars), x, act, layers), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant", mlp.MLP_VARIANTS)
def test_mlp_output_range(variant):
  g = mlp.MLPGenerator(variant=variant, z_dim=4, hidden=(8,))
  z = 1e3 * np.random.default_rng(0).normal(size=(16, 4))  # Saturates.
  img, _ = _forward(g, z.astype(np.float32))
  assert img.shape == (16, 28, 28, 1)
  assert np.all(np.abs(img) <= 1) and np.isfinite(img).all()
  assert np.abs(img).max() > 0.999  # Reaches both ends.
  assert float(img.min()) < 0 < float(img.max())


# ------------------------------------------------------------ initialisers --


def _check_uniform(w, bound):
  """w looks like U(-bound, bound): inside, reaching the edges, right std."""
  w = np.asarray(w).ravel()
  assert np.abs(w).max() <= bound
  # P(max |w| < 0.95 bound) = 0.95^n, below 1e-20 for n >= 1000.
  assert np.abs(w).max() > 0.95 * bound
  # The sample variance's relative sd is sqrt(0.8 / n) (<= 0.9% for
  # n >= 10^4), so 5% is over 5 sigma.
  np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.05)


def test_initialisers_match_their_frameworks():
  z, key = _z(n=1), jax.random.key(0, impl="rbg")
  nets = {
      "mlp_keras_g": (mlp.MLPGenerator(variant="keras"), z),
      "mlp_torch_d": (mlp.MLPDiscriminator(variant="torch", img_resolution=8),
                      _img(n=1, res=8)),
      "dcgan_d": (dcgan.DCGANDiscriminator(img_resolution=16, channels=32),
                  _img(n=1, res=16, ch=3)),
      "vanilla_g": (vanilla.VanillaGenerator(img_resolution=16, channels=64),
                    z),
  }
  inits = jax.jit(lambda key: {k: m.init(key, x) for k, (m, x) in
                               nets.items()})(key)
  # Keras: glorot_uniform kernels, zero biases.
  p = _params(inits["mlp_keras_g"])
  _check_uniform(p["out/kernel"], math.sqrt(6 / (128 + 784)))
  assert not np.any(p["fc0/bias"]) and not np.any(p["out/bias"])
  # Keras conv fans count the 3x3 field.
  p = _params(inits["dcgan_d"])
  _check_uniform(p["conv1/kernel"], math.sqrt(6 / (9 * (32 + 64))))
  # PyTorch: U(+-1 / sqrt(fan_in)) weights and biases; the ConvTranspose2d
  # fan-in is out_channels * k * k.
  p = _params(inits["vanilla_g"])
  _check_uniform(p["fc/kernel"], 1 / math.sqrt(100))
  assert np.abs(p["fc/bias"]).max() <= 1 / math.sqrt(100)
  assert np.abs(p["fc/bias"]).max() > 0.9 / math.sqrt(100)  # Not zero.
  _check_uniform(p["up0/kernel"], 1 / math.sqrt(32 * 16))
  p = _params(inits["mlp_torch_d"])
  _check_uniform(p["fc0/kernel"], 1 / math.sqrt(64))
  _check_uniform(p["fc1/kernel"], 1 / math.sqrt(128))


# ------------------------------------------------------------------- DCGAN --


def test_dcgan_layers_match_the_recipe():
  g = _shapes(dcgan.DCGANGenerator(img_resolution=32, img_channels=3), _z())
  assert g == {
      "fc/kernel": (100, 256 * 4 * 4), "fc/bias": (4096,),
      "conv0/kernel": (3, 3, 256, 128), "conv0/bias": (128,),
      "conv1/kernel": (3, 3, 128, 64), "conv1/bias": (64,),
      "conv2/kernel": (3, 3, 64, 32), "conv2/bias": (32,),
      "torgb/kernel": (3, 3, 32, 3), "torgb/bias": (3,)}
  assert _count(g) == (100 * 4096 + 4096 + 9 * 256 * 128 + 128
                       + 9 * 128 * 64 + 64 + 9 * 64 * 32 + 32 + 9 * 32 * 3 + 3)
  d = _shapes(dcgan.DCGANDiscriminator(img_resolution=32, img_channels=3),
              _img(res=32, ch=3))
  assert d == {
      "conv0/kernel": (3, 3, 3, 64), "conv0/bias": (64,),
      "conv1/kernel": (3, 3, 64, 128), "conv1/bias": (128,),
      "conv2/kernel": (3, 3, 128, 256), "conv2/bias": (256,),
      "out/kernel": (4 * 4 * 256, 1), "out/bias": (1,)}
  # 28 x 28 starts at 7 x 7: 7 -> 14 -> 28, and D halves back to 7 x 7.
  g = _shapes(dcgan.DCGANGenerator(img_resolution=28, img_channels=1), _z())
  assert g["fc/kernel"] == (100, 256 * 7 * 7)
  assert g["conv1/kernel"] == (3, 3, 128, 64)
  assert g["torgb/kernel"] == (3, 3, 64, 1) and "conv2/kernel" not in g
  d = _shapes(dcgan.DCGANDiscriminator(img_resolution=28, img_channels=1),
              _img())
  assert d["out/kernel"] == (7 * 7 * 128, 1) and "conv2/kernel" not in d
  # 64 x 64: four steps, channels halving from 128 to 16.
  g = _shapes(dcgan.DCGANGenerator(img_resolution=64), _z())
  assert g["conv3/kernel"] == (3, 3, 32, 16)
  d = _shapes(dcgan.DCGANDiscriminator(img_resolution=64), _img(res=64, ch=3))
  assert d["conv3/kernel"] == (3, 3, 256, 256)  # Capped at channel_max.


def _np_conv_same(x, w, b, stride):
  """Keras Conv2D(padding='same'): TF padding puts the odd pixel after."""
  n, h, _, _ = x.shape
  k = w.shape[0]
  out = -(-h // stride)
  total = max((out - 1) * stride + k - h, 0)
  lo = total // 2
  xp = np.pad(x, ((0, 0), (lo, total - lo), (lo, total - lo), (0, 0)))
  y = np.zeros((n, out, out, w.shape[3]))
  for i in range(k):
    for j in range(k):
      patch = xp[:, i:i + stride * out:stride, j:j + stride * out:stride]
      y += patch @ w[i, j]
  return y + b


def test_dcgan_forward_matches_numpy_recipe():
  n, res = 2, 14  # 7 -> 14: one upsampling step, one strided D conv.
  kwargs = dict(img_resolution=res, img_channels=3)
  g = dcgan.DCGANGenerator(z_dim=6, channels=8, **kwargs)
  d = dcgan.DCGANDiscriminator(channels=4, **kwargs)
  rng = np.random.default_rng(0)
  z = rng.normal(size=(n, 6)).astype(np.float32)
  img, g_vars = _forward(g, z, seed=1)
  real = rng.uniform(-1, 1, size=(n, res, res, 3)).astype(np.float32)
  logits, d_vars = _forward(d, real, seed=2)
  p = _params(g_vars)
  relu = lambda x: np.maximum(x, 0)
  x = np.asarray(z, np.float64) @ p["fc/kernel"] + p["fc/bias"]
  x = x.reshape(n, 7, 7, 8)  # Keras Reshape: row-major.
  x = x.repeat(2, axis=1).repeat(2, axis=2)  # UpSampling2D: nearest.
  x = relu(_np_conv_same(x, p["conv0/kernel"], p["conv0/bias"], 1))
  x = np.tanh(_np_conv_same(x, p["torgb/kernel"], p["torgb/bias"], 1))
  np.testing.assert_allclose(img, x, rtol=1e-4, atol=1e-5)
  p = _params(d_vars)
  x = relu(_np_conv_same(np.asarray(real, np.float64), p["conv0/kernel"],
                         p["conv0/bias"], 2))  # 14 -> 7
  expected = x.reshape(n, -1) @ p["out/kernel"] + p["out/bias"]
  np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)
  # Stride 2 on an odd map pads one pixel after only, as Keras does.
  x = np.arange(2 * 7 * 7, dtype=np.float64).reshape(1, 7, 7, 2) / 50
  conv = dcgan._conv(4, 2, "c")  # pylint: disable=protected-access
  got, variables = _forward(conv, np.float32(x))
  assert got.shape == (1, 4, 4, 4)
  p = _params(variables)
  np.testing.assert_allclose(got, _np_conv_same(x, p["kernel"], p["bias"], 2),
                             rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------- vanilla --


def test_vanilla_layers_match_the_recipe():
  g = _shapes(vanilla.VanillaGenerator(img_resolution=32), _z())
  # ConvTranspose kernels are [4, 4, out, in] (PyTorch's [in, out, 4, 4]).
  assert g == {
      "fc/kernel": (100, 256 * 16), "fc/bias": (4096,),
      "up0/kernel": (4, 4, 128, 256), "up0/bias": (128,),
      "up1/kernel": (4, 4, 64, 128), "up1/bias": (64,),
      "up2/kernel": (4, 4, 3, 64), "up2/bias": (3,)}
  assert _count(g) == (100 * 4096 + 4096 + 16 * 256 * 128 + 128
                       + 16 * 128 * 64 + 64 + 16 * 64 * 3 + 3)
  d = _shapes(vanilla.VanillaDiscriminator(img_resolution=32),
              _img(res=32, ch=3))
  assert d == {
      "conv0/kernel": (4, 4, 3, 64), "conv0/bias": (64,),
      "conv1/kernel": (4, 4, 64, 128), "conv1/bias": (128,),
      "conv2/kernel": (4, 4, 128, 256), "conv2/bias": (256,),
      "out/kernel": (4 * 4 * 256, 1), "out/bias": (1,)}
  g = _shapes(vanilla.VanillaGenerator(img_resolution=28, img_channels=1),
              _z())
  assert g["fc/kernel"] == (100, 256 * 49) and g["up1/kernel"] == (4, 4, 1, 128)
  d = _shapes(vanilla.VanillaDiscriminator(img_resolution=28,
                                           img_channels=1), _img())
  assert d["out/kernel"] == (7 * 7 * 128, 1)


def _np_conv_transpose(x, w, b):
  """PyTorch ConvTranspose2d(k=4, s=2, p=1) by its scatter-add definition.

  w is PyTorch's [in, out, k, k]: out[2i + a - 1] += x[i] * w[:, :, a].
  """
  n, h, _, _ = x.shape
  k = w.shape[2]
  full = np.zeros((n, 2 * (h - 1) + k, 2 * (h - 1) + k, w.shape[1]))
  for i in range(h):
    for j in range(h):
      full[:, 2 * i:2 * i + k, 2 * j:2 * j + k] += np.einsum(
          "nc,coab->nabo", x[:, i, j], w)
  return full[:, 1:1 + 2 * h, 1:1 + 2 * h] + b


def _np_conv_stride2_pad1(x, w, b):
  """PyTorch Conv2d(k=4, s=2, p=1); w [k, k, in, out]."""
  n, h, _, _ = x.shape
  xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  out = h // 2
  y = np.zeros((n, out, out, w.shape[3]))
  for a in range(4):
    for c in range(4):
      y += xp[:, a:a + 2 * out:2, c:c + 2 * out:2] @ w[a, c]
  return y + b


def test_vanilla_forward_matches_pytorch_definitions():
  n, res = 2, 16  # 4 -> 8 -> 16.
  g = vanilla.VanillaGenerator(z_dim=6, img_resolution=res, img_channels=2,
                               channels=8, channel_min=2)
  d = vanilla.VanillaDiscriminator(img_resolution=res, img_channels=2,
                                   channels=4)
  z = np.random.default_rng(0).normal(size=(n, 6)).astype(np.float32)
  img, g_vars = _forward(g, z, seed=1)
  logits, d_vars = _forward(d, img, seed=2)
  p = _params(g_vars)
  relu = lambda x: np.maximum(x, 0)
  x = relu(np.asarray(z, np.float64) @ p["fc/kernel"] + p["fc/bias"])
  x = x.reshape(n, 4, 4, 8)
  torch_w = lambda k: k.transpose(3, 2, 0, 1)  # [k, k, out, in] -> torch.
  x = relu(_np_conv_transpose(x, torch_w(p["up0/kernel"]), p["up0/bias"]))
  assert x.shape == (n, 8, 8, 4)
  x = np.tanh(_np_conv_transpose(x, torch_w(p["up1/kernel"]), p["up1/bias"]))
  np.testing.assert_allclose(img, x, rtol=1e-4, atol=1e-5)
  p = _params(d_vars)
  lrelu = lambda x: np.where(x > 0, x, 0.2 * x)
  x = np.asarray(img, np.float64)
  x = lrelu(_np_conv_stride2_pad1(x, p["conv0/kernel"], p["conv0/bias"]))
  x = lrelu(_np_conv_stride2_pad1(x, p["conv1/kernel"], p["conv1/bias"]))
  expected = x.reshape(n, -1) @ p["out/kernel"] + p["out/bias"]
  np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------ all the baselines --

PAIRS = {
    "mlp": (mlp.MLPGenerator, mlp.MLPDiscriminator, dict(hidden=(8,))),
    "dcgan": (dcgan.DCGANGenerator, dcgan.DCGANDiscriminator,
              dict(channels=8)),
    "vanilla": (vanilla.VanillaGenerator, vanilla.VanillaDiscriminator,
                dict(channels=8)),
}


@pytest.mark.parametrize("name", PAIRS)
def test_conditional_forward(name):
  g_cls, d_cls, small = PAIRS[name]
  kwargs = dict(c_dim=3, img_resolution=8, img_channels=1, **small)
  g, d = g_cls(z_dim=4, **kwargs), d_cls(**kwargs)
  z = np.tile(np.random.default_rng(0).normal(size=(1, 4)), (3, 1))
  z = np.float32(z)
  c = np.eye(3, dtype=np.float32)
  img, _ = _forward(g, z, c)
  assert img.shape == (3, 8, 8, 1) and np.all(np.abs(img) <= 1)
  # One z, three labels: three different images.
  assert np.abs(img[0] - img[1]).max() > 1e-4
  assert np.abs(img[1] - img[2]).max() > 1e-4
  # Same image, three labels: three different scores.
  logits, _ = _forward(d, np.tile(img[:1], (3, 1, 1, 1)), c)
  assert logits.shape == (3, 1)
  assert len(set(logits.ravel().tolist())) == 3
  with pytest.raises(ValueError, match=r"labels c must be one-hot \[3, 3\]"):
    jax.eval_shape(g.init, jax.random.key(0), z)
  with pytest.raises(ValueError, match="labels c must be"):
    jax.eval_shape(d.init, jax.random.key(0), img, c[:, :2])


@pytest.mark.parametrize("name", PAIRS)
def test_user_mistakes(name):
  g_cls, d_cls, small = PAIRS[name]
  g = g_cls(z_dim=4, img_resolution=8, img_channels=1, **small)
  d = d_cls(img_resolution=8, img_channels=1, **small)
  key = jax.random.key(0)
  with pytest.raises(ValueError, match=r"z must be \[N, 4\]"):
    jax.eval_shape(g.init, key, np.zeros((2, 5)))
  with pytest.raises(ValueError, match=r"images must be \[N, 8, 8, 1\]"):
    jax.eval_shape(d.init, key, np.zeros((2, 8, 8, 3)))
  with pytest.raises(ValueError, match="unconditional"):
    jax.eval_shape(d.init, key, np.zeros((2, 8, 8, 1)), np.ones((2, 3)))
  if name != "mlp":
    with pytest.raises(ValueError, match="4, 5, 6 or 7 times a power of two"):
      jax.eval_shape(g_cls(img_resolution=30).init, key, _z())


def test_unknown_mlp_variant():
  with pytest.raises(ValueError, match=r"one of \('keras', 'torch'\)"):
    jax.eval_shape(mlp.MLPGenerator(variant="tf").init, jax.random.key(0),
                   _z())


def test_upsampling_chain():
  assert classic.upsampling_chain(28) == (7, 2)
  assert classic.upsampling_chain(32) == (4, 3)
  assert classic.upsampling_chain(48) == (6, 3)
  assert classic.upsampling_chain(8) == (4, 1)
  for bad in (4, 7, 30, 36 * 3):
    with pytest.raises(ValueError, match="img_resolution"):
      classic.upsampling_chain(bad)
