"""The classic GANs' algorithm: the phase schedule and D's step in NumPy.

D is a tiny PyTorch-recipe MLP (16 pixels -> 5 LeakyReLU units -> 1), so its
input gradient is written by hand here: dD/dx = W0 (w1 * leaky'(h)). The
WGAN-GP loss, R1 and their parameter gradients (by central finite
differences of the NumPy loss, in float64) are then computed without JAX,
and one D step must apply exactly Adam's first update to them.
"""

import math

import jax
import numpy as np
import pytest

from stylegan_jax import configs
from stylegan_jax.train import classic_step
from stylegan_jax.train.classic_step import ClassicConfig

N, RES, HIDDEN = 4, 4, 5


def _config(loss="wgan_gp", r1_gamma=0.0, d_reg_interval=16):
  c = configs.base_config()
  c.model.arch = "mlp"
  c.model.variant = "torch"
  c.model.z_dim = 3
  c.model.mlp_hidden = (HIDDEN,)
  c.data.resolution = RES
  c.data.channels = 1
  c.train.batch_size = N
  c.loss.r1_gamma = r1_gamma
  c.optim.d_reg_interval = d_reg_interval
  configs.apply_gan_loss(c, loss)
  configs.validate(c, check_paths=False)
  return c


def _setup(config):
  alg = classic_step.ClassicGAN.create(config, 0)
  state = alg.init_state(jax.random.key(0))
  real = np.random.default_rng(0).uniform(-1, 1, (N, RES, RES, 1))
  batch = {"image": real.astype(np.float32),
           "label": np.zeros((N, 0), np.float32)}
  return alg, state, batch


# ------------------------------------------------------------- NumPy D --

NAMES = ("fc0/kernel", "fc0/bias", "out/kernel", "out/bias")


def _numpy_params(d_params):
  return {n: np.asarray(d_params[n.split("/")[0]][n.split("/")[1]],
                        np.float64) for n in NAMES}


def _d(p, x):
  """D's logits [N] and input gradients [N, P] for images x [N, ...]."""
  x = x.reshape(len(x), -1)
  h = x @ p["fc0/kernel"] + p["fc0/bias"]  # [N, HIDDEN]
  slope = np.where(h > 0, 1.0, 0.2)
  logits = (h * slope) @ p["out/kernel"][:, 0] + p["out/bias"][0]
  grad = (slope * p["out/kernel"][:, 0]) @ p["fc0/kernel"].T  # [N, P]
  return logits, grad


def _wgan_gp_loss(p, real, fake, eps, weight=10.0):
  mixed = eps * real + (1 - eps) * fake
  _, grad = _d(p, mixed)
  gp = weight * np.mean((np.linalg.norm(grad, axis=1) - 1)**2)
  return np.mean(_d(p, fake)[0]) - np.mean(_d(p, real)[0]) + gp, gp


def _r1(p, real, gamma):
  _, grad = _d(p, real)
  return np.mean(gamma / 2 * np.sum(grad**2, axis=1))


def _finite_differences(loss, p, h=1e-6):
  grads = {}
  for name in NAMES:
    g = np.zeros_like(p[name])
    for i in np.ndindex(g.shape):
      up = {k: v.copy() for k, v in p.items()}
      down = {k: v.copy() for k, v in p.items()}
      up[name][i] += h
      down[name][i] -= h
      g[i] = (loss(up) - loss(down)) / (2 * h)
    grads[name] = g
  return grads


# ---------------------------------------------------------------- tests --


def test_phase_schedule():
  cfg = ClassicConfig(gan_loss="wgan", gp_weight=10.0, r1_gamma=0.0,
                      d_reg_interval=16, n_critic=5)
  phases = [classic_step.classic_phases(s, cfg) for s in range(10)]
  assert phases == ([["d_main"]] * 4 + [["d_main", "g_main"]]) * 2
  # Lazy R1 every 4 D steps, a G step after every second D step.
  cfg = ClassicConfig(gan_loss="hinge", gp_weight=0.0, r1_gamma=1.0,
                      d_reg_interval=4, n_critic=2)
  assert [classic_step.classic_phases(s, cfg) for s in range(5)] == [
      ["d_main", "d_reg"], ["d_main", "g_main"], ["d_main"],
      ["d_main", "g_main"], ["d_main", "d_reg"]]
  # R1 with interval 1 is folded into d_main: no d_reg phase; n_critic 1.
  cfg = ClassicConfig(gan_loss="non_saturating", gp_weight=0.0,
                      r1_gamma=1.0, d_reg_interval=1, n_critic=1)
  assert not cfg.lazy_r1
  assert all(classic_step.classic_phases(s, cfg) == ["d_main", "g_main"]
             for s in range(4))


def test_period():
  alg = classic_step.ClassicGAN.create(_config(r1_gamma=1.0,
                                               d_reg_interval=4), 0)
  assert alg.period == 20  # lcm(n_critic 5, d_reg_interval 4).
  assert classic_step.ClassicGAN.create(_config("lsgan"), 0).period == 1


def test_wgan_gp_loss_and_gradient_match_numpy():
  alg, state, batch = _setup(_config())
  fake, c, gp_key = jax.jit(alg.d_inputs)(state, batch)
  eps = np.asarray(jax.random.uniform(gp_key, (N, 1, 1, 1)), np.float64)
  real, fake64 = np.float64(batch["image"]), np.float64(fake)
  p = _numpy_params(state.d_params)
  want, want_gp = _wgan_gp_loss(p, real, fake64, eps)
  assert want_gp > 0.1  # The penalty is a real part of the loss here.

  (loss, metrics), grads = jax.jit(jax.value_and_grad(
      alg.d_loss, has_aux=True))(state.d_params, batch["image"], fake, c,
                                 gp_key)
  np.testing.assert_allclose(loss, want, rtol=1e-5)
  np.testing.assert_allclose(metrics["loss/D_gp"], want_gp, rtol=1e-5)
  fd = _finite_differences(
      lambda q: _wgan_gp_loss(q, real, fake64, eps)[0], p)
  for name in NAMES:
    layer, leaf = name.split("/")
    # float32 JAX against float64 differences (step 1e-6, error ~1e-9).
    np.testing.assert_allclose(grads[layer][leaf], fd[name], rtol=1e-4,
                               atol=1e-6, err_msg=name)


def test_d_step_applies_adam_to_the_wgan_gp_gradient():
  config = _config()
  alg, state, batch = _setup(config)
  fake, _, gp_key = jax.jit(alg.d_inputs)(state, batch)
  eps = np.asarray(jax.random.uniform(gp_key, (N, 1, 1, 1)), np.float64)
  p = _numpy_params(state.d_params)
  real, fake64 = np.float64(batch["image"]), np.float64(fake)
  fd = _finite_differences(
      lambda q: _wgan_gp_loss(q, real, fake64, eps)[0], p)

  new, metrics = jax.jit(alg.d_main)(state, batch)
  np.testing.assert_allclose(metrics["loss/D"],
                             _wgan_gp_loss(p, real, fake64, eps)[0],
                             rtol=1e-5)
  # Adam(1e-4, 0, 0.9), first step: m_hat = g, v_hat = g^2, so each
  # parameter moves by -lr * g / (|g| + 1e-8).
  lr = config.optim.d_lr
  new_p = _numpy_params(new.d_params)
  checked = 0
  for name in NAMES:
    g = fd[name]
    step = new_p[name] - p[name]
    big = np.abs(g) > 1e-5  # Where the float32 gradient's sign is certain.
    checked += big.sum()
    np.testing.assert_allclose(step[big], -lr * np.sign(g[big]), rtol=1e-3,
                               err_msg=name)
  assert checked > 0.8 * sum(v.size for v in p.values())
  # G is not trained by the D step.
  for a, b in zip(jax.tree.leaves(state.g_params),
                  jax.tree.leaves(new.g_params)):
    np.testing.assert_array_equal(a, b)


def test_lazy_r1_phase():
  config = _config("non_saturating", r1_gamma=2.0, d_reg_interval=4)
  alg, state, batch = _setup(config)
  p = _numpy_params(state.d_params)
  new, metrics = jax.jit(alg.d_reg)(state, batch)
  np.testing.assert_allclose(metrics["loss/D_r1"],
                             _r1(p, np.float64(batch["image"]), 2.0),
                             rtol=1e-5)
  # Lazy correction r = 4/5 of lr; a first Adam step moves by lr * r.
  new_p = _numpy_params(new.d_params)
  for name in ("fc0/kernel", "out/kernel"):
    moved = np.abs(new_p[name] - p[name])
    np.testing.assert_allclose(moved[moved > 0], config.optim.d_lr * 0.8,
                               rtol=1e-3, err_msg=name)
    assert (moved > 0).mean() > 0.8, name
  # D's input gradient is piecewise constant in the hidden biases: a zero
  # gradient (unmoved, but counted by Adam, as in torch). D's output bias
  # has no R1 gradient at all: untouched, its Adam count too.
  np.testing.assert_array_equal(new_p["fc0/bias"], p["fc0/bias"])
  np.testing.assert_array_equal(new_p["out/bias"], p["out/bias"])
  counts = new.d_opt_state.count
  assert int(counts["out"]["bias"]) == 0
  assert int(counts["out"]["kernel"]) == int(counts["fc0"]["bias"]) == 1


def test_folded_r1_adds_to_d_main():
  alg, state, batch = _setup(_config("hinge", r1_gamma=2.0, d_reg_interval=1))
  fake, c, key = jax.jit(alg.d_inputs)(state, batch)
  loss, metrics = jax.jit(alg.d_loss)(state.d_params, batch["image"], fake,
                                      c, key)
  p = _numpy_params(state.d_params)
  real_logits, _ = _d(p, np.float64(batch["image"]))
  fake_logits, _ = _d(p, np.float64(fake))
  hinge = (np.mean(np.maximum(0, 1 - real_logits))
           + np.mean(np.maximum(0, 1 + fake_logits)))
  r1 = _r1(p, np.float64(batch["image"]), 2.0)
  np.testing.assert_allclose(metrics["loss/D_r1"], r1, rtol=1e-5)
  np.testing.assert_allclose(loss, hinge + r1, rtol=1e-5)
  assert "reg/gp_penalty" not in metrics


def test_hooks_are_refused():
  with pytest.raises(configs.ConfigError, match="extra_g_loss"):
    classic_step.ClassicGAN.create(_config(), 0,
                                   extra_g_loss=lambda t: (0.0, {}))


def test_optimizer_recipe_has_no_lazy_correction_without_lazy_r1():
  # Adam(2e-4, 0.5, 0.999) for G with StyleGAN's pl_weight left at 2 in
  # the config: the baselines' G has no regulariser, so no correction.
  config = _config("non_saturating")
  config.optim.g_lr, config.optim.betas = 2e-4, (0.5, 0.999)
  assert config.loss.pl_weight == 2.0
  alg, state, batch = _setup(config)
  new, _ = jax.jit(alg.g_main)(state, batch)
  moved = [np.abs(np.asarray(b) - np.asarray(a)) for a, b in zip(
      jax.tree.leaves(state.g_params), jax.tree.leaves(new.g_params))]
  moved = np.concatenate([m.ravel() for m in moved])
  assert (moved > 0).mean() > 0.9
  np.testing.assert_allclose(moved[moved > 1e-7], 2e-4, rtol=1e-3)
  assert math.isclose(alg.ema_kimg, config.train.ema_kimg)
