"""The one definition of the generated and the real images of every metric."""

import jax
import numpy as np
from PIL import Image
import pytest

from stylegan_jax import configs
from stylegan_jax import labels as labels_lib
from stylegan_jax import sampling
from stylegan_jax import sharding
from stylegan_jax.data import embedded
from stylegan_jax.errors import UserError
from stylegan_jax.evaluators import context as context_lib
from stylegan_jax.evaluators import generated
from stylegan_jax.evaluators import reals as reals_lib
from stylegan_jax.nets.dcgan import DCGANGenerator
from tests.tools import make_model


def _official_u8(x):
  """StyleGAN2-ADA: (x * 127.5 + 128).clamp(0, 255).to(torch.uint8)."""
  return np.clip(np.asarray(x, np.float32) * 127.5 + 128, 0,
                 255).astype(np.uint8)


def test_quantize_truncates_as_the_official():
  # x = k / 256: x * 127.5 + 128 is exact in float32, so the expectation
  # is exact: floor of the value, clipped (the official truncates).
  x = np.arange(-320, 321, dtype=np.float32) / 256
  got = np.asarray(jax.jit(generated.quantize)(x))
  want = np.floor(np.clip(x.astype(np.float64) * 127.5 + 128, 0, 255))
  np.testing.assert_array_equal(got, want.astype(np.uint8))
  # Values that round-to-nearest-even conversions would get wrong: 129.0
  # stays 129, 254.99 is 254, and everything past the ends clips.
  x = (np.float32([129.0, 254.99, 300.0, -20.0]) - 128) / np.float32(127.5)
  v = x * np.float32(127.5) + np.float32(128)
  assert v[0] == 129.0
  np.testing.assert_array_equal(np.asarray(generated.quantize(x)),
                                _official_u8(x))
  assert list(_official_u8(x)) == [129, 254, 255, 0]


def test_labels_follow_the_class_distribution_and_are_prefixes():
  g = generated.GeneratedImages(seed=3, class_probs=(0.5, 0.3, 0.2))
  labels = g.labels(20_000)
  np.testing.assert_array_equal(g.labels(100), labels[:100])
  freq = np.bincount(labels, minlength=3) / len(labels)
  # Binomial std of a frequency p at n = 20000 is <= 0.0036; 4 sigma.
  np.testing.assert_allclose(freq, [0.5, 0.3, 0.2], atol=0.015)
  assert not np.array_equal(labels[:100], generated.GeneratedImages(
      seed=4, class_probs=(0.5, 0.3, 0.2)).labels(100))
  np.testing.assert_array_equal(generated.GeneratedImages().labels(5),
                                np.zeros(5))


@pytest.fixture(scope="module")
def cond():
  return make_model(c_dim=3)


def _context(batch_size, noise_mode="const", seed=5):
  evals = configs.base_config().evals
  evals.batch_size, evals.noise_mode, evals.seed = batch_size, noise_mode, seed
  return context_lib.Context(
      evals, reals=reals_lib.RealImages("embedded", num_images=10),
      class_probs=(0.2, 0.3, 0.5), mesh=sharding.create_mesh())


def test_generated_images_are_the_generate_tools(cond):
  ctx = _context(batch_size=4)
  ctx.start(cond.G, cond.variables)
  got = ctx.generated_images(6)  # Two sharded batches, the last padded.
  labels = ctx.labels(6)
  np.testing.assert_array_equal(
      labels, generated.GeneratedImages(seed=5, class_probs=(
          0.2, 0.3, 0.5)).labels(6))
  z = sampling.z_from_seeds(range(5, 11), cond.G.z_dim)
  c = labels_lib.one_hot(labels, 3)
  x = cond.synthesize(cond.map(z, c), noise_mode="const")  # eager, 1 device
  want = _official_u8(x)
  # Same maths in two programs (sharded jit vs eager): float32 rounding can
  # move a value across an integer, i.e. one level on a rare pixel.
  diff = np.abs(got.astype(int) - want.astype(int))
  assert got.shape == (6, 8, 8, 3) and diff.max() <= 1
  assert np.mean(diff > 0) < 0.01
  # A batch size that splits the images differently: the same images.
  ctx8 = _context(batch_size=8)
  ctx8.start(cond.G, cond.variables)
  diff = np.abs(ctx8.generated_images(6).astype(int) - got.astype(int))
  assert diff.max() <= 1 and np.mean(diff > 0) < 0.01
  # Image i of a larger set is image i of a smaller one.
  assert np.array_equal(ctx8.generated_images(3), ctx8.generated_images(6)[:3])


def test_random_noise_is_keyed_by_each_images_seed(cond):
  ctx = _context(batch_size=4, noise_mode="random")
  ctx.start(cond.G, cond.variables)
  got = ctx.generated_images(4)
  seeds = list(range(5, 9))
  ws = sampling.map_z(cond, sampling.z_from_seeds(seeds, cond.G.z_dim),
                      labels_lib.one_hot(ctx.labels(4), 3), batch_size=4)
  # The generate tool's random mode: image i's noise from key(seed i). It
  # quantises with images.to_uint8 (rint(v - 0.5)), which differs from
  # truncation only at exact integers; one level on rare pixels as above.
  want = sampling.synthesize(cond, ws, "random", seeds, batch_size=4)
  diff = np.abs(got.astype(int) - want.astype(int))
  assert diff.max() <= 1 and np.mean(diff > 0) < 0.01
  const = _context(batch_size=4)
  const.start(cond.G, cond.variables)
  assert np.mean(const.generated_images(4) != got) > 0.1


def test_embedded_reals_are_the_training_set():
  data = configs.base_config().data
  data.embedded_num_images, data.embedded_seed = 12, 2
  reals = reals_lib.RealImages.from_data_config(data)
  want, labels = embedded.make_dataset(12, 16, 2)
  np.testing.assert_array_equal(reals.read(5, 16, 3), want[:5])
  batches = list(reals.batches(12, 5, 16, 1))
  assert [len(b) for b in batches] == [5, 5, 2]
  assert batches[0].shape == (5, 16, 16, 1)
  assert reals.count == 12
  np.testing.assert_array_equal(reals.class_counts(embedded.STYLE_NAMES),
                                np.bincount(labels, minlength=5))
  assert reals.class_counts(("a", "b")) is None
  assert reals.identity() == {"source": "embedded", "num_images": 12,
                              "seed": 2}


@pytest.fixture
def folder(tmp_path):
  """Two class subfolders of 6 and 3 PNGs (pixel value = index)."""
  for i in range(9):
    sub = tmp_path / ("cats" if i < 6 else "dogs")
    sub.mkdir(exist_ok=True)
    Image.fromarray(np.full((10, 12, 3), i * 20, np.uint8)).save(
        sub / f"{i}.png")
  return tmp_path


def test_folder_reals_fixed_order_and_skips(folder):
  reals = reals_lib.RealImages("folder", path=str(folder))
  names = sorted(f"{'cats' if i < 6 else 'dogs'}/{i}.png" for i in range(9))
  order = np.random.RandomState(0).permutation(9)
  want = [int(names[i].split("/")[1][0]) * 20 for i in order]
  x = reals.read(9, 4, 3)
  assert x.shape == (9, 4, 4, 3)
  assert list(x[:, 0, 0, 0]) == want
  np.testing.assert_array_equal(reals.read(4, 4, 3), x[:4])
  np.testing.assert_array_equal(reals.class_counts(("dogs", "cats")), [3, 6])
  assert reals.class_counts(("cats", "birds")) is None
  key = reals.identity()
  # A broken file is skipped, and the next one takes its place.
  broken = names[order[1]]
  (folder / broken).write_bytes(b"not a png")
  reals = reals_lib.RealImages("folder", path=str(folder))
  skipped = []
  y = reals.read(4, 4, 3, skipped)
  assert skipped == [broken]
  assert list(y[:, 0, 0, 0]) == [want[0]] + want[2:5]
  assert reals.identity() != key  # The listing changed: new cache key.


def test_folder_errors(tmp_path):
  with pytest.raises(UserError, match="is not a folder"):
    reals_lib.RealImages("folder", path=str(tmp_path / "absent"))
  with pytest.raises(UserError, match="no images"):
    reals_lib.RealImages("folder", path=str(tmp_path)).count


def test_a_baseline_generator_renders_z_and_c_directly():
  G = DCGANGenerator(z_dim=8, img_resolution=8, channels=8, channel_min=4)
  variables = G.init(jax.random.key(0), np.zeros((1, 8), np.float32))
  ctx = _context(batch_size=4)
  ctx.generated = generated.GeneratedImages(seed=5)  # Unconditional.
  ctx.start(G, variables)
  got = ctx.generated_images(3)
  want = _official_u8(G.apply(variables, sampling.z_from_seeds([5, 6, 7],
                                                                8)))
  diff = np.abs(got.astype(int) - want.astype(int))
  assert got.shape == (3, 8, 8, 3) and diff.max() <= 1
  ctx.generated = generated.GeneratedImages(truncation_psi=0.7)
  with pytest.raises(UserError, match="needs a mapping network"):
    ctx.start(G, variables)
