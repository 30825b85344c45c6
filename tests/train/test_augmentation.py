"""Augmentation inside training: what D sees, and ADA's p.

Unit checks of the update rule and of the global sign sums run on arrays;
the step checks (slow: they compile D-main with and without the pipeline,
about a minute on a loaded 2-core CPU) share one initial state and the
compiled `d_main` of a `noaug` and an `ada` set-up (tiny 8-px config): at
p = 0 the two give the same state bit for bit, at p > 0 D sees something
else, and a D forced to be confident makes p rise by batch * interval /
(ada_kimg * 1000) at every interval and only then. The slow loop test
resumes an ADA run bit-identically, p included.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax import configs
from stylegan_jax import sharding
from stylegan_jax.data import embedded
from stylegan_jax.errors import ConfigError
from stylegan_jax.train import augmentation
from stylegan_jax.train import loop
from stylegan_jax.train import setup as setup_lib
from tests.train.test_loop import BATCH
from tests.train.test_loop import leaves
from tests.train.test_loop import tiny_config

ADA_KIMG = 0.1  # p moves by 8 * 4 / 100 = 0.32 per interval.


def _settings(mode="ada", **kw):
  c = configs.base_config()
  c.augment.mode = mode
  c.augment.update(kw)
  return augmentation.AugmentSettings.from_config(c)


def _f32(x):
  return np.float32(x)


# ------------------------------------------------------------ update rule --


def test_end_iteration_moves_p_every_interval_and_resets_the_sums():
  s = _settings(target=0.6, ada_kimg=0.5, ada_interval=4)
  step = _f32(BATCH * 4 / 500)
  end = jax.jit(lambda st, i: s.end_iteration(st, i, BATCH))
  state = augmentation.accumulate(augmentation.init_state(0.25),
                                  jnp.array([[1.0], [2.0], [-1.0], [0.5]]))
  # r_t = 0.5 < target; not due at step 3: nothing changes.
  kept = end(state, jnp.int32(3))
  assert float(kept["p"]) == _f32(0.25)
  assert (float(kept["sign_sum"]), float(kept["count"])) == (2.0, 4.0)
  # Due at step 4: p falls by one step and the sums restart.
  moved = end(state, jnp.int32(4))
  assert float(moved["p"]) == _f32(0.25) - step
  assert (float(moved["sign_sum"]), float(moved["count"])) == (0.0, 0.0)
  # r_t = 1 > target: p rises.
  up = end(augmentation.accumulate(moved, jnp.ones((8, 1))), jnp.int32(8))
  assert float(up["p"]) == (_f32(0.25) - step) + step
  # Floored at 0.
  low = augmentation.accumulate(augmentation.init_state(0.01),
                                -jnp.ones((8, 1)))
  assert float(end(low, jnp.int32(4))["p"]) == 0.0
  # No logits in the interval: p stays.
  assert float(end(augmentation.init_state(0.3), jnp.int32(4))["p"]) == (
      _f32(0.3))


def test_fixed_and_noaug_keep_p():
  for mode in ("fixed", "noaug", "diffaugment"):
    s = _settings(mode, p=0.4)
    state = augmentation.accumulate(augmentation.init_state(0.4),
                                    jnp.ones((8, 1)))
    out = s.end_iteration(state, jnp.int32(4), BATCH)
    assert float(out["p"]) == _f32(0.4), mode
    assert float(out["count"]) == 0.0
  assert _settings("fixed", p=0.4).initial_p == 0.4
  assert _settings("ada", p=0.1).initial_p == 0.1
  assert _settings("noaug", p=0.4).initial_p == 0.0


def test_sign_sums_are_global_over_a_sharded_batch():
  mesh = sharding.create_mesh(4)
  logits = np.array([3, -1, 2, 5, -4, 1, 1, 0, -2, 7, 1, 1, -3, 2, 2, 9],
                    np.float32)[:, None]
  sharded = jax.device_put(logits, sharding.batch_sharding(mesh))
  assert len(sharded.addressable_shards) == 4
  out = jax.jit(augmentation.accumulate,
                out_shardings=sharding.replicated(mesh))(
                    augmentation.init_state(), sharded)
  # Every device's shard counts: 16 logits, signs summing to 7 (0 -> 0).
  assert float(out["count"]) == 16.0
  assert float(out["sign_sum"]) == float(np.sum(np.sign(logits))) == 7.0


def test_what_d_sees_per_mode():
  images = jnp.asarray(np.random.RandomState(0).uniform(
      -1, 1, (4, 8, 8, 3)).astype(np.float32))
  key = jax.random.key(0)
  p0, p1 = jnp.float32(0.0), jnp.float32(1.0)
  assert _settings("noaug").apply(images, key, p1) is images
  # DiffAugment ignores p (the ADA pipeline's own tests live in
  # tests/augment; its p = 0 identity inside a step is tested below).
  diff = _settings("diffaugment", diffaugment_policy="translation")
  assert not np.allclose(diff.apply(images, key, p0), images)
  # Reals and fakes of a phase get different keys.
  real_key, fake_key = augmentation.phase_keys(key)
  assert not np.array_equal(jax.random.key_data(real_key),
                            jax.random.key_data(fake_key))


@pytest.mark.parametrize("key,value,match", [
    ("mode", "adaptive", "augment.mode"),
    ("pipe", "bgcx", "augment.pipe"),
    ("p", 1.5, "augment.p"),
    ("target", 2.0, "augment.target"),
    ("ada_kimg", 0.0, "augment.ada_kimg"),
    ("ada_interval", 0, "augment.ada_interval"),
])
def test_config_validation(key, value, match):
  c = tiny_config(1)
  c.augment.mode = "ada"
  c.augment[key] = value
  with pytest.raises(ConfigError, match=match):
    configs.validate(c)


def test_config_validation_of_the_policy_and_resolution():
  c = tiny_config(1)
  c.augment.mode = "diffaugment"
  c.augment.diffaugment_policy = "color,zoom"
  with pytest.raises(ConfigError, match="diffaugment_policy"):
    configs.validate(c)
  c.augment.diffaugment_policy = "color,cutout"
  configs.validate(c)
  c.augment.mode = "ada"
  c.data.resolution = 4
  with pytest.raises(ConfigError, match="8 pixels or more"):
    configs.validate(c)


def test_presets_and_wikiart_use_ada():
  assert configs.base_config().augment.mode == "noaug"
  auto = configs.preset_config("auto", "res=64", 256)
  assert (auto.augment.mode, auto.augment.pipe, auto.augment.target,
          auto.augment.ada_kimg, auto.augment.ada_interval) == (
              "ada", "bgc", 0.6, 500.0, 4)


# ------------------------------------------------------------ in the step --


def _config(mode, **augment):
  c = tiny_config(1)
  c.data.conditional = False  # D's logit is then out + b4/out/bias.
  c.augment.mode = mode
  c.augment.update(augment)
  return c


@pytest.fixture(scope="module")
def built():
  mesh = sharding.create_mesh(1)
  noaug = setup_lib.build(_config("noaug"), 0, mesh)
  ada = setup_lib.build(_config("ada", ada_kimg=ADA_KIMG), 0, mesh)
  images, _ = embedded.make_dataset(BATCH, 8, seed=1)
  batch = noaug.global_batch({"image": images.astype(np.float32) / 127.5 - 1,
                              "label": np.zeros(BATCH, np.int32)})
  return noaug, ada, batch, noaug.init()


def _copy(state):
  return jax.tree.map(jnp.copy, state)  # The steps donate their input.


def _with_p(state, p):
  return state.replace(augment={**state.augment, "p": jnp.float32(p)})


@pytest.mark.slow
def test_p0_is_the_identity_inside_d_main(built):
  noaug, ada, batch, state = built
  plain, plain_metrics = noaug.steps["d_main"](_copy(state), batch)
  same, same_metrics = ada.steps["d_main"](_copy(state), batch)
  # Everything but ADA's sign sums (noaug keeps none) is bit-identical.
  counted = same.augment
  strip = lambda s: s.replace(augment={"p": s.augment["p"]})  # pylint: disable=unnecessary-lambda-assignment
  for a, b in zip(leaves(strip(plain)), leaves(strip(same))):
    np.testing.assert_array_equal(a, b)
  for k in ("loss/D_main", "loss/D_real", "loss/D_fake", "augment/rt"):
    assert float(plain_metrics[k]) == float(same_metrics[k]), k
  assert float(counted["count"]) == BATCH
  # At p > 0, D sees augmented reals and fakes: its losses change.
  other, metrics = ada.steps["d_main"](_with_p(_copy(state), 0.8), batch)
  assert float(metrics["augment/p"]) == _f32(0.8)
  assert float(metrics["loss/D_real"]) != float(plain_metrics["loss/D_real"])
  assert not np.array_equal(leaves(other.d_params)[0],
                            leaves(plain.d_params)[0])


@pytest.mark.slow
def test_confident_d_raises_p_by_one_step_per_interval(built):
  _, ada, batch, state = built
  state = _copy(state)
  bias = state.d_params["b4"]["out"]["bias"]
  state = state.replace(d_params={**state.d_params, "b4": {
      **state.d_params["b4"], "out": {**state.d_params["b4"]["out"],
                                      "bias": bias + 100.0}}})
  step = _f32(BATCH * 4 / (ADA_KIMG * 1000))
  ps, rts, counts = [], [], []
  for _ in range(8):
    state, metrics = ada.steps["d_main"](state, batch)
    state = ada.steps[setup_lib.END_ITERATION](state)
    rts.append(float(metrics["augment/rt"]))
    ps.append(float(state.augment["p"]))
    counts.append(float(state.augment["count"]))
  assert rts == [1.0] * 8  # sign(D(real)) = +1: r_t = 1 > target 0.6.
  assert ps == [0.0, 0.0, 0.0, step, step, step, step, step + step]
  assert counts == [8.0, 16.0, 24.0, 0.0, 8.0, 16.0, 24.0, 0.0]


# ---------------------------------------------------------------- the loop --


def _ada_loop_config(steps):
  c = tiny_config(steps)
  c.loss.pl_weight = c.loss.r1_gamma = 0.0  # g_main, d_main: few programs.
  c.evals.metrics = ""
  c.augment.mode = "ada"
  c.augment.target = -1.0  # r_t > -1: p rises at every interval.
  c.augment.ada_kimg = 0.05
  c.augment.ada_interval = 1
  return c


@pytest.mark.slow
def test_ada_run_resumes_bit_identically_with_its_p(tmp_path):
  whole = loop.train_and_evaluate(_ada_loop_config(4), str(tmp_path / "a"))
  half = loop.train_and_evaluate(_ada_loop_config(2), str(tmp_path / "b"))
  p_half = float(half.augment["p"])
  assert p_half > 0  # p moved and is in checkpoint 2.
  resumed = loop.train_and_evaluate(_ada_loop_config(4), str(tmp_path / "b"))
  assert int(resumed.step) == 4 and float(resumed.augment["p"]) > p_half
  for a, b in zip(leaves(whole), leaves(resumed)):
    np.testing.assert_array_equal(a, b)
  # What D sees is drawn at the snapshot; p and r_t are logged.
  samples = sorted(p.name for p in (tmp_path / "a" / "samples").iterdir())
  assert "augmented000000000.png" in samples
  from tests.train.test_loop import _logged_scalars  # pylint: disable=g-import-not-at-top
  assert {"augment/p", "augment/rt"} <= _logged_scalars(tmp_path / "a")


def test_snapshot_strip_shows_reals_over_what_d_sees():
  reals = np.random.RandomState(1).uniform(-1, 1, (3, 8, 8, 3))
  grid = augmentation.augmented_reals_fn(
      _settings("fixed", pipe="blit"), reals, jax.random.key(0))
  still, moved = grid(0.0), grid(1.0)
  assert still.shape == moved.shape == (16, 24, 3)
  np.testing.assert_array_equal(still[:8], still[8:])  # p = 0: identity.
  np.testing.assert_array_equal(moved[:8], still[:8])  # Top row: the reals.
  assert not np.array_equal(moved[8:], still[8:])
