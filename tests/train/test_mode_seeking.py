"""Mode seeking (`loss.ms_weight`): the penalty's maths and its place in g_main.

The reference step rebuilds G's update from the public pieces with the
pairing and the term written out, and must match `g_main` with the setting
on; without the setting `g_main` draws and trains as the official.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from stylegan_jax import configs
from stylegan_jax import losses
from stylegan_jax import sharding
from stylegan_jax.train import setup as setup_lib
from stylegan_jax.train import step as step_lib
from tests.train.test_hooks import _batch
from tests.train.test_loop import tiny_config

MS_WEIGHT = 0.5


def test_penalty_is_the_mean_inverse_of_image_over_latent_distance():
  rng = np.random.default_rng(0)
  fake = rng.uniform(-1, 1, (6, 4, 4, 3)).astype(np.float32)
  z = rng.normal(size=(6, 5)).astype(np.float32)
  loss, metrics = losses.mode_seeking_penalty(jnp.asarray(fake),
                                              jnp.asarray(z))
  # Pairs are (0, 3), (1, 4), (2, 5).
  d_img = np.abs(fake[:3].astype(np.float64) - fake[3:]).mean(axis=(1, 2, 3))
  d_z = np.abs(z[:3].astype(np.float64) - z[3:]).mean(axis=1)
  np.testing.assert_allclose(float(metrics["reg/ms_ratio"]),
                             np.mean(d_img / d_z), rtol=1e-5)
  np.testing.assert_allclose(float(loss), np.mean(1 / (d_img / d_z + 1e-5)),
                             rtol=1e-5)
  # One image per pair (collapse) is the largest penalty there is.
  same = np.concatenate([fake[:3], fake[:3]])
  collapsed, _ = losses.mode_seeking_penalty(jnp.asarray(same),
                                             jnp.asarray(z))
  np.testing.assert_allclose(float(collapsed), 1e5, rtol=1e-6)


def test_one_collapsed_pair_is_penalised_whatever_the_others_do():
  """Per pair: very different pairs elsewhere do not hide a collapsed one
  (a ratio of batch means would hardly notice it)."""
  rng = np.random.default_rng(2)
  z = jnp.asarray(rng.normal(size=(8, 3)), jnp.float32)
  fake = rng.uniform(-1, 1, (8, 4, 4, 3)).astype(np.float32)
  even, _ = losses.mode_seeking_penalty(jnp.asarray(fake), z)
  fake[4] = fake[0]  # Pair (0, 4) collapses; the others spread further.
  fake[5:] = np.clip(3 * fake[5:], -3, 3)
  one_collapsed, metrics = losses.mode_seeking_penalty(jnp.asarray(fake), z)
  assert float(one_collapsed) > 1e4 * float(even)
  assert float(metrics["reg/ms_ratio"]) > 0.5  # The mean ratio looks fine.


def test_penalty_gradient_pushes_the_pairs_apart():
  rng = np.random.default_rng(1)
  fake = jnp.asarray(rng.uniform(-0.1, 0.1, (8, 4, 4, 1)), jnp.float32)
  z = jnp.asarray(rng.normal(size=(8, 3)), jnp.float32)
  loss_fn = lambda x: losses.mode_seeking_penalty(x, z)[0]  # pylint: disable=unnecessary-lambda-assignment
  moved = fake - 1e-4 * jax.grad(loss_fn)(fake)
  spread = lambda x: float(jnp.mean(jnp.abs(x[:4] - x[4:])))  # pylint: disable=unnecessary-lambda-assignment
  assert spread(moved) > spread(fake)
  assert float(loss_fn(moved)) < float(loss_fn(fake))


def record_c(t: step_lib.PhaseTensors):
  """Returns the fakes' labels among the step's metrics."""
  return jnp.zeros(()), {"test/fake_c": t.fake_c}


def test_g_main_with_mode_seeking_matches_a_hand_written_step():
  config = tiny_config(1)
  config.loss.ms_weight = MS_WEIGHT

  setup = setup_lib.build(config, 5, sharding.create_mesh(1),
                          extra_g_loss=record_c)
  batch = _batch(setup)
  state = setup.init()
  alg = setup.algorithm
  assert alg.cfg.ms_weight == MS_WEIGHT

  # Hand-written reference: the phase's latents with the second half's
  # labels those of the first, G's main loss plus the weighted term.
  latent_key, g_key, _ = jax.random.split(alg.phase_key(state, "g_main"), 3)
  n = config.train.batch_size
  z, c = step_lib.sample_latents(latent_key, n, alg.G.z_dim, alg.class_probs)
  c = jnp.concatenate([c[:n // 2], c[:n // 2]])

  @jax.jit
  def reference_step(g_params, opt_state, weight):
    def loss_fn(g_params):
      fake, _, _ = step_lib.generator_forward(
          alg.G, g_params, state.g_buffers, z, c, g_key,
          style_mixing_prob=config.loss.style_mixing_prob)
      loss, _ = losses.g_main_loss(
          alg.D.apply({"params": state.d_params}, fake, c))
      return loss + weight * losses.mode_seeking_penalty(fake, z)[0]

    grads = jax.grad(loss_fn)(g_params)
    updates, _ = alg.g_tx.update(grads, opt_state, g_params)
    return optax.apply_updates(g_params, updates)

  expected = reference_step(state.g_params, state.g_opt_state, MS_WEIGHT)
  without = reference_step(state.g_params, state.g_opt_state, 0.0)

  new_state, metrics = setup.steps["g_main"](state, batch)
  assert float(metrics["reg/ms_ratio"]) > 0
  fake_c = np.asarray(metrics["test/fake_c"])
  np.testing.assert_array_equal(fake_c[:n // 2], fake_c[n // 2:])
  for got, want in zip(jax.tree.leaves(new_state.g_params),
                       jax.tree.leaves(expected)):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
  # The term's gradient reached G: without it the update differs.
  diffs = [np.max(np.abs(np.asarray(a) - np.asarray(b))) for a, b in zip(
      jax.tree.leaves(new_state.g_params), jax.tree.leaves(without))]
  assert max(diffs) > 1e-4


def test_off_by_default_and_the_labels_are_drawn_unpaired():
  config = tiny_config(1)
  assert config.loss.ms_weight == 0

  setup = setup_lib.build(config, 5, sharding.create_mesh(1),
                          extra_g_loss=record_c)
  state = setup.init()
  latent_key = jax.random.split(
      setup.algorithm.phase_key(state, "g_main"), 3)[0]
  _, c = step_lib.sample_latents(latent_key, config.train.batch_size,
                                 setup.algorithm.G.z_dim,
                                 setup.algorithm.class_probs)
  _, metrics = setup.steps["g_main"](state, _batch(setup))  # Donates state.
  assert "reg/ms_ratio" not in metrics
  np.testing.assert_array_equal(metrics["test/fake_c"], c)


@pytest.mark.parametrize("change, message", [
    ({"loss.ms_weight": -1.0}, "loss.ms_weight=-1.0 is invalid"),
    ({"loss.ms_weight": float("nan")}, "loss.ms_weight=nan is invalid"),
    ({"loss.ms_weight": 1.0, "train.batch_size": 7, "loss.pl_weight": 0.0,
      "loss.pl_batch_shrink": 1, "model.mbstd_group_size": 1},
     "train.batch_size=7 is odd"),
    ({"loss.ms_weight": 1.0, "model.arch": "dcgan"},
     "mode seeking is a StyleGAN2 setting"),
])
def test_config_mistakes(change, message):
  config = tiny_config(1)
  for key, value in change.items():
    section, name = key.split(".")
    config[section][name] = value
  with pytest.raises(configs.ConfigError, match=message):
    configs.validate(config)


def test_g_main_with_mode_seeking_on_four_devices_equals_one():
  """The pairs span devices when the batch is sharded; the update is equal."""
  results = []
  for num_devices in (1, 4):
    config = tiny_config(1, num_devices)
    config.loss.ms_weight = MS_WEIGHT
    setup = setup_lib.build(config, 5, sharding.create_mesh(num_devices))
    state, metrics = setup.steps["g_main"](setup.init(), _batch(setup))
    results.append((jax.device_get(state.g_params),
                    float(metrics["reg/ms_ratio"])))
  (one, ratio_one), (four, ratio_four) = results
  np.testing.assert_allclose(ratio_four, ratio_one, rtol=1e-5)
  for got, want in zip(jax.tree.leaves(four), jax.tree.leaves(one)):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
