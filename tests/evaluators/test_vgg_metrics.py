"""Precision/recall and PPL through the evaluators, on a tiny VGG16.

Real VGG16 weights are 500 MB and not ours; a VGG16 with 4 channels per
conv and 8-wide classifier layers (the layout `features.vgg` reads, loaded
in memory through `feature_params`) makes the same computations cheap. Each
metric is compared with its maths run directly on the same images or
latents without the sharded batching.
"""

import jax
import numpy as np
import pytest

from stylegan_jax import configs
from stylegan_jax import labels as labels_lib
from stylegan_jax import sharding
from stylegan_jax.data import embedded
from stylegan_jax.errors import UserError
from stylegan_jax.evaluators import Evaluation
from stylegan_jax.evaluators import RealImages
from stylegan_jax.features import lpips
from stylegan_jax.features import vgg
from stylegan_jax.metrics import ppl
from stylegan_jax.metrics import precision_recall
from stylegan_jax.nets import Generator
from stylegan_jax.nets.dcgan import DCGANGenerator
from tests.tools import make_model

WIDTH = 4
PROBS = (0.5, 0.25, 0.25)


def _tiny_vgg16(seed=0):
  rng = np.random.default_rng(seed)
  params, cin = {}, 3
  for name in vgg.layer_names(16):
    if name.startswith("conv_"):
      params[f"{name}/kernel"] = rng.normal(
          0, np.sqrt(2 / (9 * cin)), (3, 3, cin, WIDTH)).astype(np.float32)
      params[f"{name}/bias"] = rng.normal(0, 0.1, WIDTH).astype(np.float32)
      cin = WIDTH
  params["fc1/kernel"] = rng.normal(0, 0.1, (49 * WIDTH, 8)).astype(np.float32)
  params["fc1/bias"] = rng.normal(0, 0.1, 8).astype(np.float32)
  params["fc2/kernel"] = rng.normal(0, 0.3, (8, 8)).astype(np.float32)
  params["fc2/bias"] = rng.normal(0, 0.1, 8).astype(np.float32)
  return params


@pytest.fixture(scope="module")
def nets():
  heads = {f"lin{l}": np.random.default_rng(l).uniform(0, 1, WIDTH).astype(
      np.float32) for l in range(5)}
  return {"vgg16": _tiny_vgg16(), "lpips": heads}


def _evaluation(metrics, nets, G=None, **evals):
  e = configs.base_config().evals
  e.metrics, e.vgg16, e.lpips = metrics, "(in memory)", "(in memory)"
  e.batch_size, e.max_images = 4, 8
  for k, v in evals.items():
    e[k] = v
  return Evaluation(e, reals=RealImages("embedded", num_images=16),
                    class_probs=PROBS, mesh=sharding.create_mesh(), G=G,
                    feature_params=nets, check_paths=False, log=lambda _: None)


def test_precision_recall_matches_plain_features(nets):
  model = make_model(c_dim=3)
  evaluation = _evaluation("pr50k3_full", nets)
  [result] = evaluation(model.G, model.variables)
  assert result.counts == {"pr50k3_full/generated": 8,
                           "pr50k3_full/real": 8}
  ctx = evaluation.context
  fake = ctx.generated_images(8)
  real = embedded.make_dataset(16, 8, 0)[0][:8]

  @jax.jit
  def fc2(u8):  # The documented embedding: [0, 1], linear resize to 224.
    x = jax.image.resize(u8 / 255.0, (len(u8), 224, 224, 3), "linear",
                         antialias=True)
    return vgg.fc2(nets["vgg16"], x)

  want = precision_recall.precision_recall(fc2(real), fc2(fake), k=3)
  # Fractions of 8 from k-NN comparisons: float32 differences of ~1e-6
  # between the programs flip no comparison.
  assert (result.values["pr50k3_full_precision"],
          result.values["pr50k3_full_recall"]) == want
  assert 0 <= want[0] <= 1 and 0 <= want[1] <= 1


@pytest.fixture(scope="module")
def g16():
  """A tiny 16 px conditional generator (LPIPS-VGG needs 16 px)."""
  G = Generator(z_dim=8, w_dim=8, c_dim=3, img_resolution=16,
                channel_base=64, channel_max=8, mapping_layers=1)
  variables = G.init(jax.random.key(0), np.zeros((1, 8), np.float32),
                     np.zeros((1, 3), np.float32), noise_mode="const")
  variables = jax.tree_util.tree_map_with_path(
      lambda p, x: x + 0.5 if getattr(p[-1], "key", "") == "noise_strength"
      else x, variables)
  return G, variables


@pytest.mark.parametrize("name, space", [("ppl2_wend", "w"),
                                         ("ppl_zend", "z")])
def test_ppl_matches_the_maths_batch_by_batch(nets, g16, name, space):
  G, variables = g16
  evaluation = _evaluation(name, nets, G=G, noise_mode="const", seed=3)
  [result] = evaluation(G, variables)
  assert result.counts == {f"{name}/generated": 8}
  labels = evaluation.context.labels(8)

  @jax.jit
  def distances(key, c):  # One device, no sharding constraints.
    return ppl.sample_distances(
        key,
        mapping=lambda z, c: G.apply(variables, z, c, method=G.map),
        synthesis=lambda ws: G.apply(variables, ws, noise_mode="const",
                                     method=G.synthesize),
        distance=lambda a, b: lpips.distance(nets["vgg16"], nets["lpips"],
                                             a, b),
        num=4, z_dim=8, c=c, space=space, sampling="end")

  dists = [distances(  # Two batches of 4, keys folded from the seed.
      jax.random.split(jax.random.fold_in(jax.random.key(3), b))[0],
      labels_lib.one_hot(labels[4 * b:4 * b + 4], 3)) for b in range(2)]
  want = ppl.path_length(np.concatenate(dists))
  # d / eps^2 with eps = 1e-4 magnifies float32 rounding of the two images
  # (~1e-7 of values whose difference is ~1e-4): ~1e-3 between programs.
  np.testing.assert_allclose(result.values[name], want, rtol=1e-2)
  assert want > 0


def test_ppl_random_noise_is_shared_by_the_two_ends(nets, g16):
  G, variables = g16
  evaluation = _evaluation("ppl2_wend", nets, G=G, noise_mode="random")
  a = evaluation(G, variables)[0].values["ppl2_wend"]
  b = evaluation(G, variables)[0].values["ppl2_wend"]
  const = _evaluation("ppl2_wend", nets, G=G, noise_mode="const")(
      G, variables)[0].values["ppl2_wend"]
  assert a == b and np.isfinite(a) and a > 0
  # Noise differing between the two ends would dominate d / eps^2: the
  # random-noise PPL stays of the order of the constant-noise one.
  assert 0.1 < a / const < 10


def test_ppl_needs_16_px():
  with pytest.raises(UserError, match="at least 16 px; this generator makes "
                     "8 px"):
    _evaluation("ppl2_wend", {}, G=make_model().G)


def test_ppl_needs_a_mapping_network(nets):
  with pytest.raises(UserError, match="ppl_zend interpolates latents through "
                     "a mapping network, which DCGANGenerator has not"):
    _evaluation("ppl_zend", nets, G=DCGANGenerator(img_resolution=32))
