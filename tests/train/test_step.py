"""Phase schedule, optimizer correction, gradient cleaning and EMA."""

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax import configs
from stylegan_jax import labels
from stylegan_jax.train import algorithm
from stylegan_jax.train import optim
from stylegan_jax.train import state as state_lib
from stylegan_jax.train import step as step_lib


def _step_config(**overrides) -> step_lib.StepConfig:
  cfg = step_lib.StepConfig.from_config(configs.base_config())
  return dataclasses.replace(cfg, **overrides)


def test_lazy_regularisation_schedule():
  cfg = _step_config(g_reg_interval=4, d_reg_interval=16)
  schedule = {s: step_lib.phases_for_step(s, cfg) for s in range(33)}
  assert schedule[0] == ["g_main", "g_reg", "d_main", "d_reg"]
  assert schedule[1] == ["g_main", "d_main"]
  assert schedule[4] == ["g_main", "g_reg", "d_main"]
  assert schedule[16] == ["g_main", "g_reg", "d_main", "d_reg"]
  assert [s for s in schedule if "g_reg" in schedule[s]] == list(
      range(0, 33, 4))
  assert [s for s in schedule if "d_reg" in schedule[s]] == [0, 16, 32]
  # A zero weight turns its regularisation phase off altogether.
  off = _step_config(pl_weight=0.0, r1_gamma=0.0)
  assert step_lib.phases_for_step(0, off) == ["g_main", "d_main"]


@pytest.mark.parametrize("interval", [4, 16])
def test_adam_lazy_regularisation_correction(interval):
  lr, betas, eps = 0.002, (0.0, 0.99), 1e-8
  tx = optim.create_optimizer(lr, betas, eps, interval)
  r = interval / (interval + 1)
  params = {"w": jnp.zeros(3)}
  opt_state = tx.init(params)
  grads = [np.array([0.5, -1.0, 2.0]), np.array([-0.25, 3.0, 0.1])]
  # Hand-written Adam with lr * r and betas ** r.
  b1, b2 = betas[0] ** r, betas[1] ** r
  m = v = np.zeros(3)
  for t, g in enumerate(grads, start=1):
    updates, opt_state = tx.update({"w": jnp.asarray(g)}, opt_state, params)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    expected = -lr * r * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    np.testing.assert_allclose(updates["w"], expected, rtol=1e-5)


def test_no_correction_without_regularisation():
  tx = optim.create_optimizer(0.01, (0.0, 0.99), 1e-8, None)
  updates, _ = tx.update({"w": jnp.array([2.0])},
                         tx.init({"w": jnp.zeros(1)}))
  np.testing.assert_allclose(updates["w"], [-0.01], rtol=1e-5)


def test_clean_gradients():
  g = {"a": jnp.array([np.nan, np.inf, -np.inf, 1.5])}
  np.testing.assert_array_equal(algorithm.clean_gradients(g)["a"],
                                [0.0, 1e5, -1e5, 1.5])


def test_ema_beta_and_rampup():
  # No rampup: half-life of ema_kimg thousand images.
  beta = state_lib.ema_beta(jnp.array(0), 32, 10.0, None)
  np.testing.assert_allclose(beta, 0.5 ** (32 / 10_000), rtol=1e-6)
  # Rampup limits the half-life to rampup * images seen so far.
  beta = state_lib.ema_beta(jnp.array(1000), 32, 10.0, 0.05)
  np.testing.assert_allclose(beta, 0.5 ** (32 / 50), rtol=1e-6)
  # At the very start the EMA follows G (beta ~ 0).
  assert float(state_lib.ema_beta(jnp.array(0), 32, 10.0, 0.05)) < 1e-30


def test_labels_to_one_hot():
  np.testing.assert_array_equal(labels.one_hot(np.array([2, 0]), 3),
                                [[0, 0, 1], [1, 0, 0]])
  assert labels.one_hot(np.array([0, 0]), 0).shape == (2, 0)
  with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
    labels.one_hot(np.array([3]), 3)


def test_inactive_parameters_keep_their_adam_state():
  tx = optim.create_optimizer(0.01, (0.0, 0.99), 1e-8, 4)
  params = {"torgb": {"bias": jnp.zeros(2)}, "w": jnp.zeros(2)}
  opt_state = tx.init(params)
  g = {"torgb": {"bias": jnp.ones(2)}, "w": jnp.ones(2)}
  _, opt_state = tx.update(g, opt_state, params)  # Main phase: all active.
  active = step_lib.active_params(params, "g_reg")
  assert active == {"torgb": {"bias": False}, "w": True}
  updates, new_state = tx.update(g, opt_state, params, active=active)
  np.testing.assert_array_equal(updates["torgb"]["bias"], 0.0)
  assert int(new_state.count["torgb"]["bias"]) == 1
  assert int(new_state.count["w"]) == 2
  np.testing.assert_array_equal(new_state.nu["torgb"]["bias"],
                                opt_state.nu["torgb"]["bias"])
  assert float(jnp.abs(updates["w"]).min()) > 0
