"""Mixed precision (`num_fp16_res`): block dtypes, accuracy, float16 safety.

Networks are the tiny ones of `test_shapes` (16 channels, 8x8 or 16x16) run
eagerly. Tolerances follow from the dtypes' unit roundoff u (half the
spacing of numbers near 1): bfloat16 keeps 8 significant bits, u = 2^-8;
float16 keeps 11, u = 2^-11. Every low-precision layer rounds its input,
its weight and its output by at most u each, and a 16x16 G or D has about
six such layers in line (two blocks of two convs, plus toRGB / fromRGB and
the skip sums); most of those errors cancel in the sums over channels and
taps, so 8u relative to max |float32 output| bounds them with room (seen:
at most 3.1u for bfloat16 and 3.7u for float16 over four seeds).
"""

import math

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax import configs
from stylegan_jax.errors import ConfigError
from stylegan_jax.nets import Discriminator
from stylegan_jax.nets import Generator
from stylegan_jax.nets import discriminator
from stylegan_jax.nets import synthesis
from stylegan_jax.ops import modconv

N = 4
DIM = 16
SMALL = dict(channel_base=512, channel_max=16)  # 16 channels up to 32x32.
RES = 16
UNIT_ROUNDOFF = {"bfloat16": 2.0**-8, "float16": 2.0**-11}


def make_g(**kwargs):
  return Generator(z_dim=DIM, w_dim=DIM, c_dim=3, img_resolution=RES,
                   mapping_layers=2, **SMALL, **kwargs)


def make_d(**kwargs):
  return Discriminator(c_dim=3, img_resolution=RES, mapping_layers=2,
                       **SMALL, **kwargs)


def _dtypes(features):
  """{'res16': dtype, ...} of a sown `features` collection."""
  flat = flax.traverse_util.flatten_dict(features, sep="/")
  return {k.rsplit("/", 1)[-1]: v[0].dtype for k, v in flat.items()}


@pytest.fixture(scope="module")
def inputs():
  """Float32 variables and inputs: z, c, g_vars, d_vars, images."""
  z = jax.random.normal(jax.random.key(0), (N, DIM))
  c = jax.nn.one_hot(jnp.arange(N) % 3, 3)
  img = jax.random.normal(jax.random.key(3), (N, RES, RES, 3))
  g_vars = jax.jit(lambda key: make_g().init({"params": key}, z, c,
                                             noise_mode="const"))(
                                                 jax.random.key(1))
  d_vars = jax.jit(lambda key: make_d().init(key, img, c))(jax.random.key(2))
  return z, c, g_vars, d_vars, img


# name -> (num_fp16_res, fp16_dtype); 2: blocks 8 and 16, 1: block 16.
PRECISIONS = {"float32": (0, "bfloat16"), "bfloat16": (2, "bfloat16"),
              "float16": (2, "float16"), "bfloat16_1": (1, "bfloat16")}


@pytest.fixture(scope="module")
def outputs(inputs):
  """{precision: (image, G features, logits, D features)}; G's entries are
  None for 'bfloat16_1' (D only)."""
  z, c, g_vars, d_vars, img = inputs
  out = {}
  for name, (n, dtype) in PRECISIONS.items():
    kwargs = dict(num_fp16_res=n, fp16_dtype=dtype)
    fake = g_feats = None
    if name != "bfloat16_1":
      fake, g_feats = jax.jit(lambda v, kw=kwargs: make_g(**kw).apply(
          v, z, c, noise_mode="const", mutable=["features"]))(g_vars)
      g_feats = g_feats["features"]["synthesis"]
    logits, d_feats = jax.jit(lambda v, kw=kwargs: make_d(**kw).apply(
        v, img, c, mutable=["features"]))(d_vars)
    out[name] = (fake, g_feats, logits, d_feats["features"])
  return out


def test_block_dtype_follows_the_official_rule():
  def low(res, n):
    return [r for r in synthesis.block_resolutions(res)
            if synthesis.block_dtype(r, res, n) == jnp.bfloat16]
  assert low(32, 0) == []
  assert low(32, 1) == [32]
  assert low(32, 2) == [16, 32]
  # Never below 8x8: the official cifar preset's 4 at 32 px means 8 to 32.
  assert low(32, 4) == low(32, 9) == [8, 16, 32]
  assert synthesis.block_dtype(16, 16, 1, "float16") == jnp.float16
  with pytest.raises(ValueError, match="fp16_dtype"):
    synthesis.block_dtype(16, 16, 1, "float8")
  assert configs.FP16_DTYPES == tuple(synthesis.FP16_DTYPES)


def test_low_precision_blocks_and_float32_blocks(outputs):
  assert _dtypes(outputs["float32"][1]) == {
      "res4": jnp.float32, "res8": jnp.float32, "res16": jnp.float32}
  assert _dtypes(outputs["bfloat16"][1]) == {
      "res4": jnp.float32, "res8": jnp.bfloat16, "res16": jnp.bfloat16}
  assert _dtypes(outputs["float16"][1])["res16"] == jnp.float16
  # D's block `res` halves: its output at res 8 is in the 16 block's dtype.
  assert _dtypes(outputs["bfloat16"][3]) == {"res16": jnp.bfloat16,
                                             "res8": jnp.bfloat16}
  assert _dtypes(outputs["bfloat16_1"][3]) == {"res16": jnp.bfloat16,
                                               "res8": jnp.float32}
  for img, _, logits, _ in outputs.values():  # The image path and epilogue.
    assert img is None or img.dtype == jnp.float32
    assert logits.dtype == jnp.float32


def _max_err(ours, ref):
  return float(np.max(np.abs(np.asarray(ours, np.float32) - ref)))


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_forward_is_within_8_unit_roundoffs_of_float32(outputs, precision):
  tol = 8 * UNIT_ROUNDOFF[PRECISIONS[precision][1]]
  img, g_feats, logits, d_feats = outputs[precision]
  ref_img, ref_g_feats, ref_logits, ref_d_feats = outputs["float32"]
  pairs = [(img, ref_img), (g_feats["res16"][0], ref_g_feats["res16"][0]),
           (d_feats["res16"][0], ref_d_feats["res16"][0]),
           (d_feats["res8"][0], ref_d_feats["res8"][0])]
  for ours, ref in pairs:
    assert np.all(np.isfinite(np.asarray(ours, np.float32)))
    err, scale = _max_err(ours, ref), float(np.max(np.abs(ref)))
    assert 0 < err <= tol * scale, (err / scale, tol)  # Rounded, but close.
  # The logits (about 0.3 here) are a float32 sum of unit-scale features
  # that mostly cancel; their error keeps the features' absolute scale.
  assert 0 < _max_err(logits, ref_logits) <= tol * max(
      1.0, float(np.max(np.abs(ref_logits))))


def _cosines(grads, ref):
  """Per-leaf cosine of two gradient trees (None where ref is all zero)."""
  out = []
  for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(ref)):
    g, r = np.ravel(g).astype(np.float64), np.ravel(r).astype(np.float64)
    out.append(None if not np.any(r) else
               g @ r / (np.linalg.norm(g) * np.linalg.norm(r)))
  return out


def test_block_gradients_are_float32_finite_and_close():
  # One bfloat16 synthesis block and one D block (float32 params, float32
  # inputs): gradients come back float32 through the casts and point the
  # float32 gradients' way (rounding moves each by a few u = 0.4%).
  x = jax.random.normal(jax.random.key(0), (N, 4, 4, 16))
  ws = jax.random.normal(jax.random.key(1), (N, 3, DIM))
  img = jax.random.normal(jax.random.key(2), (N, 8, 8, 3))
  common = dict(in_channels=16, out_channels=16, resolution=8,
                img_channels=3, is_last=True, conv_clamp=256.0)
  g_block = synthesis.SynthesisBlock(**common)
  g_vars = g_block.init({"params": jax.random.key(3)}, x, None, ws,
                        "const")
  d_common = dict(first=True, tmp_channels=16, out_channels=16,
                  conv_clamp=256.0)
  d_block = discriminator.DiscriminatorBlock(**d_common)
  d_vars = d_block.init(jax.random.key(4), None, img)

  def loss(g_params, d_params, dtype):
    g = synthesis.SynthesisBlock(**common, dtype=dtype)
    feats, rgb = g.apply({"params": g_params, "buffers": g_vars["buffers"]},
                         x, None, ws, "const")
    d = discriminator.DiscriminatorBlock(**d_common, dtype=dtype)
    y, _ = d.apply({"params": d_params}, None, rgb)
    return (jnp.sum(jnp.square(feats.astype(jnp.float32)))
            + jnp.sum(y.astype(jnp.float32)))

  grad = jax.jit(jax.grad(loss, (0, 1)), static_argnums=2)
  ref = grad(g_vars["params"], d_vars["params"], jnp.float32)
  ours = grad(g_vars["params"], d_vars["params"], jnp.bfloat16)
  leaves = jax.tree.leaves(ours)
  assert all(g.dtype == jnp.float32 for g in leaves)
  assert all(np.all(np.isfinite(g)) for g in leaves)
  cosines = _cosines(ours, ref)
  assert all(c is not None and c > 0.98 for c in cosines), cosines


@pytest.mark.slow  # Differentiates a whole G and D twice (~30 s here).
def test_full_gradients_are_float32_finite_and_close(inputs):
  z, c, g_vars, d_vars, _ = inputs

  def loss(g_params, d_params, n):
    img = make_g(num_fp16_res=n).apply(
        {"params": g_params, "buffers": g_vars["buffers"]}, z, c,
        noise_mode="const")
    return jnp.sum(make_d(num_fp16_res=n).apply({"params": d_params}, img,
                                                c))

  grad = jax.jit(jax.grad(loss, (0, 1)), static_argnums=2)
  ours = grad(g_vars["params"], d_vars["params"], 2)
  ref = grad(g_vars["params"], d_vars["params"], 0)
  assert all(g.dtype == jnp.float32 and np.all(np.isfinite(g))
             for g in jax.tree.leaves(ours))
  cosines = _cosines(ours, ref)
  assert all(c is not None and c > 0.98 for c in cosines), cosines
  init = make_g(num_fp16_res=2).init({"params": jax.random.key(1)}, z, c,
                                     noise_mode="const")
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(init))


def test_float16_modulated_conv_prenormalises_against_overflow():
  # x * styles * weight reach ~1e7 here: beyond float16's 65504, unless the
  # weight and styles are rescaled first (demodulation undoes the scales).
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 4, 4, 8)).astype(np.float32) * 100
  weight = rng.normal(size=(3, 3, 8, 6)).astype(np.float32) * 1000
  styles = rng.normal(size=(2, 8)).astype(np.float32) * 1000
  ref = modconv.modulated_conv2d(jnp.asarray(x), weight, styles)
  for fused in (False, True):
    out = modconv.modulated_conv2d(jnp.asarray(x, jnp.float16), weight,
                                   styles, fused=fused)
    assert out.dtype == jnp.float16 and np.all(np.isfinite(out))
    err = np.max(np.abs(np.asarray(out, np.float32) - ref))
    assert err <= 8 * UNIT_ROUNDOFF["float16"] * np.max(np.abs(ref))
  # Without demodulation nothing is rescaled: float16 overflows, bfloat16
  # (float32's exponent range) does not.
  plain = modconv.modulated_conv2d(jnp.asarray(x, jnp.float16), weight,
                                   styles, demodulate=False)
  assert not np.all(np.isfinite(plain))
  plain = modconv.modulated_conv2d(jnp.asarray(x, jnp.bfloat16), weight,
                                   styles, demodulate=False)
  assert np.all(np.isfinite(np.asarray(plain, np.float32)))


def _config(**model):
  config = configs.base_config()
  config.data.resolution = 32
  for key, value in model.items():
    config.model[key] = value
  return config


@pytest.mark.parametrize("model, match", [
    (dict(num_fp16_res=-1), "model.num_fp16_res=-1 is invalid"),
    (dict(fp16_dtype="half"), "model.fp16_dtype='half' is invalid"),
    (dict(num_fp16_res=2, fp16_dtype="float16", conv_clamp=None),
     "model.conv_clamp=None is invalid — float16 layers overflow"),
    (dict(num_fp16_res=2, arch="stylegan2_progressive"),
     "mixed precision is for model.arch 'stylegan2'"),
])
def test_config_mistakes_are_one_line_errors(model, match):
  with pytest.raises(ConfigError, match=match) as info:
    configs.validate(_config(**model), check_paths=False)
  assert "\n" not in str(info.value)


def test_config_builds_mixed_precision_networks():
  from stylegan_jax.nets import factory  # pylint: disable=g-import-not-at-top
  config = _config(num_fp16_res=4, fp16_dtype="float16")
  configs.validate(config, check_paths=False)
  G, D = factory.create_networks(config, 0)
  assert (G.num_fp16_res, G.fp16_dtype) == (4, "float16")
  assert (D.num_fp16_res, D.fp16_dtype) == (4, "float16")
  # bfloat16 has float32's range: no clamping is the user's choice.
  configs.validate(_config(num_fp16_res=2, conv_clamp=None),
                   check_paths=False)
  G, D = factory.create_networks(configs.base_config(), 0)
  assert G.num_fp16_res == D.num_fp16_res == 0  # float32 by default.
  assert math.isclose(configs.base_config().model.conv_clamp, 256)
