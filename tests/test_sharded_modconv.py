"""The fused modulated conv on a batch-sharded mesh equals one device.

The fused form folds the batch into feature groups, which XLA's SPMD
partitioner gets wrong when the batch is sharded; `modconv` then runs it per
device under `shard_map`. Here a tiny G and D (8 channels) are
evaluated three ways: fused on one device (the reference), fused with every
per-sample input split over the 4 fake CPU devices' `data` mesh (traced under
`jax.set_mesh`, as the training steps must be), and non-fused on one device.
Everything the training phases compute is compared: G and D forward passes,
G-loss gradients through D, D-loss gradients, R1 (double backprop) and the
path-length penalty's gradients. Tolerance: 1e-4 of the reference's max
|value| per quantity (over a whole gradient tree: a scalar such as a
`noise_strength` gradient is a sum that cancels to 4e-4 of the tree's max,
so its own relative error is meaningless); float32 sums in a different order
differ by ~1e-6 relative.

Each network variant costs a ~6 s compile on a 2-core CPU, so the default
run checks one configuration (8 px, unconditional, G `skip`, D `resnet`)
sharded; the conditional 16 px one (G `resnet`, D `skip`) and the fused vs
non-fused comparisons are marked slow. The op-level tests at the end are
fast and cover the shapes that broke (a 1x1 conv with 3 outputs).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax import losses
from stylegan_jax import sharding
from stylegan_jax.nets import Discriminator
from stylegan_jax.nets import Generator
from stylegan_jax.ops import filters
from stylegan_jax.ops import modconv

N = 8  # Two samples per device; the path-length batch has one.
DIM = 8
SMALL = dict(channel_base=128, channel_max=8)
CONFIGS = {  # name: (resolution, c_dim, G architecture, D architecture)
    "uncond8_skip_resnet": (8, 0, "skip", "resnet"),
    "cond16_resnet_skip": (16, 3, "resnet", "skip"),
}
FAST = ["uncond8_skip_resnet"]
# lrelu's kink makes a gradient jump where a pre-activation lies within
# rounding of 0 (a D fromrgb pre-activation of 3e-7, flipped by the ~1e-6
# forward difference between the two forms, moved that layer's gradient by
# 2e-3 with another draw of parameters). These draws have no such point.
SEED = 0
# Halves XLA:CPU's compile time; the HLO (and so the arithmetic) is the same.
FAST_COMPILE = {"xla_backend_optimization_level": 0,
                "xla_llvm_disable_expensive_passes": True}
PARAMS = [name if name in FAST else pytest.param(name, marks=pytest.mark.slow)
          for name in CONFIGS]


def _networks(res, c_dim, g_arch, d_arch, fused):
  g = Generator(z_dim=DIM, w_dim=DIM, c_dim=c_dim, mapping_layers=2,
                img_resolution=res, architecture=g_arch, fused_modconv=fused,
                **SMALL)
  d = Discriminator(c_dim=c_dim, img_resolution=res, architecture=d_arch,
                    mapping_layers=2, mbstd_group_size=4, **SMALL)
  return g, d


def _inputs(res, c_dim, seed=SEED):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, max(c_dim, 1), N)
  c = (np.eye(c_dim, dtype=np.float32)[labels] if c_dim
       else np.zeros((N, 0), np.float32))
  return {
      "z": rng.normal(size=(N, DIM)).astype(np.float32),
      "c": c,
      "real": rng.uniform(-1, 1, (N, res, res, 3)).astype(np.float32),
      "pl_noise": (rng.normal(size=(N // 2, res, res, 3))
                   / res).astype(np.float32),
  }


def _random_variables(module, seed, *args, **kwargs):
  """Variables shaped as `module.init` makes them, drawn in NumPy.

  Cheaper than running `init` (no compilation) and with no zero or unit
  values hiding a code path: weights, `const`, `noise_const` and `w_avg`
  N(0, 1) (mapping weights N(0, 100), their init for lr_multiplier 0.01),
  biases N(0, 0.2^2) (style-affine biases around 1), noise strengths
  N(0, 0.3^2).
  """
  shapes = jax.eval_shape(
      functools.partial(module.init, **kwargs), jax.random.key(0), *args)
  rng = np.random.default_rng(seed)

  def draw(path, leaf):
    names = [str(getattr(k, "key", k)) for k in path]
    x = rng.normal(size=leaf.shape)
    if names[-1] == "bias":
      x = x * 0.2 + (1.0 if "affine" in names else 0.0)
    elif names[-1] == "noise_strength":
      x = x * 0.3
    elif names[-1] == "weight" and "mapping" in names:
      x = x * 100
    return x.astype(leaf.dtype)

  return jax.tree_util.tree_map_with_path(draw, shapes)


def _everything(g, d, g_vars, d_params, batch):
  """Every quantity the four training phases differentiate or report."""
  z, c, real = batch["z"], batch["c"], batch["real"]

  def generate(g_params, z, c):
    variables = {**g_vars, "params": g_params}
    ws = g.apply(variables, z, c, method=Generator.map)
    synth = lambda ws: g.apply(variables, ws, noise_mode="const",
                               method=Generator.synthesize)
    return synth, ws

  def d_fn(d_params, img, c):
    return d.apply({"params": d_params}, img, c)

  def g_loss(g_params):
    synth, ws = generate(g_params, z, c)
    return losses.g_main_loss(d_fn(d_params, synth(ws), c))[0]

  synth, ws = generate(g_vars["params"], z, c)
  fake = jax.lax.stop_gradient(synth(ws))

  def d_loss(d_params):
    return losses.d_main_loss(d_fn(d_params, fake, c),
                              d_fn(d_params, real, c))[0]

  def r1_loss(d_params):
    return losses.r1_penalty(functools.partial(d_fn, d_params), real, c,
                             r1_gamma=1.0)[0]

  def pl_loss(g_params):
    half = N // 2
    synth, ws = generate(g_params, z[:half], c[:half])
    return losses.path_length_penalty(synth, ws, batch["pl_noise"],
                                      jnp.float32(0.5))[0]

  return {
      "g_forward": fake,
      "d_forward": d_fn(d_params, real, c),
      "g_main_grads": jax.grad(g_loss)(g_vars["params"]),
      "d_main_grads": jax.grad(d_loss)(d_params),
      "r1_grads": jax.grad(r1_loss)(d_params),
      "pl_loss": pl_loss(g_vars["params"]),
      "pl_grads": jax.grad(pl_loss)(g_vars["params"]),
  }


def _evaluate(name, fused, mesh=None):
  res, c_dim, g_arch, d_arch = CONFIGS[name]
  g, d = _networks(res, c_dim, g_arch, d_arch, fused)
  batch = _inputs(res, c_dim)
  g_vars = _random_variables(g, 1, batch["z"], batch["c"], noise_mode="const")
  d_params = _random_variables(d, 2, batch["real"], batch["c"])["params"]
  fn = functools.partial(_everything, g, d)
  if mesh is None:
    return jax.device_get(jax.jit(fn, compiler_options=FAST_COMPILE)(
        g_vars, d_params, batch))
  rep, split = sharding.replicated(mesh), sharding.batch_sharding(mesh)
  with jax.set_mesh(mesh):
    out = jax.jit(fn, in_shardings=(rep, rep, split),
                  compiler_options=FAST_COMPILE)(g_vars, d_params, batch)
  return jax.device_get(out)


def _assert_close(got, want, what):
  """Each quantity (an array or a gradient tree) within 1e-4 of its max."""
  for name in want:
    paths = jax.tree_util.tree_leaves_with_path(want[name])
    leaves = [np.asarray(a, np.float64) for _, a in paths]
    scale = max(np.max(np.abs(a)) for a in leaves)
    assert scale > 0, f"{what}{name} is all zeros"
    errors = [np.max(np.abs(np.asarray(b, np.float64) - a)) / scale
              for a, b in zip(leaves, jax.tree.leaves(got[name]))]
    worst = int(np.argmax(errors))
    assert errors[worst] < 1e-4, (
        f"{what}{name}{jax.tree_util.keystr(paths[worst][0])}: error "
        f"{errors[worst]:.3g} of max |ref|")


@pytest.fixture(scope="module")
def reference():
  cache = {}

  def get(name):
    if name not in cache:
      cache[name] = _evaluate(name, fused=True)
    return cache[name]

  return get


@pytest.mark.parametrize("name", PARAMS)
def test_fused_sharded_equals_one_device(reference, name):
  mesh = sharding.create_mesh(4)
  got = _evaluate(name, fused=True, mesh=mesh)
  _assert_close(got, reference(name), f"{name} sharded fused ")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CONFIGS))
def test_fused_equals_non_fused(reference, name):
  got = _evaluate(name, fused=False)
  _assert_close(got, reference(name), f"{name} non-fused ")


def test_fused_op_sharded_toRGB_shape():
  """The 1x1 modconv with 3 outputs, which failed to compile when sharded."""
  mesh = sharding.create_mesh(4)
  rng = np.random.default_rng(3)
  x = rng.normal(size=(N, 4, 4, 5)).astype(np.float32)
  weight = rng.normal(size=(1, 1, 5, 3)).astype(np.float32)
  styles = rng.normal(size=(N, 5)).astype(np.float32)
  fn = functools.partial(modconv.modulated_conv2d, demodulate=False,
                         fused=True)
  want = np.einsum("nhwi,io->nhwo", x * styles[:, None, None, :],
                   weight[0, 0].astype(np.float64))
  split, rep = sharding.batch_sharding(mesh), sharding.replicated(mesh)
  with jax.set_mesh(mesh):
    got = jax.jit(fn, in_shardings=(split, rep, split))(x, weight, styles)
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_batch_not_divisible_by_devices_falls_back():
  """6 samples on 4 devices: the plain form runs, same numbers."""
  mesh = sharding.create_mesh(4)
  rng = np.random.default_rng(4)
  x = rng.normal(size=(6, 5, 5, 4)).astype(np.float32)
  weight = rng.normal(size=(3, 3, 4, 2)).astype(np.float32)
  styles = rng.normal(size=(6, 4)).astype(np.float32)
  f = filters.setup_filter([1, 3, 3, 1])
  fn = jax.jit(functools.partial(modconv.modulated_conv2d, fused=True, f=f,
                                 up=2))
  want = fn(x, weight, styles)
  with jax.set_mesh(mesh):
    assert modconv.batch_mesh_axes(jnp.asarray(x)) == ("data",)
    got = fn(x, weight, styles)
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("axis_type", ["Auto", "Explicit"])
def test_fused_op_gradients_on_batch_sharded_mesh(axis_type):
  """Upsampling 3x3 modconv and its gradients, with either axis type."""
  mesh = jax.make_mesh((4,), (sharding.DATA_AXIS,),
                       axis_types=(getattr(jax.sharding.AxisType,
                                           axis_type),),
                       devices=jax.devices()[:4])
  rng = np.random.default_rng(5)
  x = rng.normal(size=(N, 5, 5, 4)).astype(np.float32)
  weight = rng.normal(size=(3, 3, 4, 3)).astype(np.float32)
  styles = rng.normal(size=(N, 4)).astype(np.float32)
  f = filters.setup_filter([1, 3, 3, 1])

  def loss(x, weight, styles):
    y = modconv.modulated_conv2d(x, weight, styles, fused=True, f=f, up=2)
    return jnp.sum(jnp.square(y) * jnp.arange(y.size).reshape(y.shape) / y.size)

  grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
  want = grads(x, weight, styles)
  split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
  with jax.set_mesh(mesh):
    got = grads(jax.device_put(x, split), weight, jax.device_put(styles, split))
  for g, w in zip(got, want):
    np.testing.assert_allclose(g, w, rtol=0, atol=1e-5 * np.abs(w).max())
