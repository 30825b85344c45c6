"""The GAN loss family: minimax, non-saturating, WGAN(-GP), LSGAN, hinge.

Each loss is checked against its formula in NumPy on hand-made logits; the
gradient penalty against finite differences of a small D written in NumPy,
for its value and for its gradient with respect to D's parameters.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax import losses

REAL = np.array([[2.0], [-1.0], [0.5], [3.0]], np.float32)
FAKE = np.array([[-3.0], [0.0], [1.5], [-0.25]], np.float32)


def _log_sigmoid(x):
  return np.log(1 / (1 + np.exp(-np.float64(x))))


def _log_one_minus_sigmoid(x):
  return np.log(1 - 1 / (1 + np.exp(-np.float64(x))))


# name -> (G loss, D loss on (real, fake)), from the papers' formulas.
FORMULAS = {
    "minimax": (
        lambda f: np.mean(_log_one_minus_sigmoid(f)),
        lambda r, f: -np.mean(_log_sigmoid(r))
        - np.mean(_log_one_minus_sigmoid(f))),
    "non_saturating": (
        lambda f: -np.mean(_log_sigmoid(f)),
        lambda r, f: -np.mean(_log_sigmoid(r))
        - np.mean(_log_one_minus_sigmoid(f))),
    "wgan": (lambda f: -np.mean(f), lambda r, f: np.mean(f) - np.mean(r)),
    "lsgan": (  # a = 0, b = 1, c = 1.
        lambda f: 0.5 * np.mean((f - 1.0)**2),
        lambda r, f: 0.5 * np.mean((r - 1.0)**2) + 0.5 * np.mean(f**2)),
    "hinge": (
        lambda f: -np.mean(f),
        lambda r, f: np.mean(np.maximum(0, 1 - r))
        + np.mean(np.maximum(0, 1 + f))),
}


def test_names():
  assert losses.GAN_LOSSES == tuple(FORMULAS)


@pytest.mark.parametrize("name", losses.GAN_LOSSES)
def test_losses_match_formulas(name):
  g_formula, d_formula = FORMULAS[name]
  loss, metrics = losses.g_loss(name, jnp.asarray(FAKE))
  np.testing.assert_allclose(loss, g_formula(FAKE), rtol=1e-6)
  assert metrics["loss/G_main"] == loss
  np.testing.assert_allclose(metrics["scores/fake"], FAKE.mean(), rtol=1e-6)
  loss, metrics = losses.d_loss(name, jnp.asarray(REAL), jnp.asarray(FAKE))
  np.testing.assert_allclose(loss, d_formula(REAL, FAKE), rtol=1e-6)
  assert set(metrics) == {"loss/D_main", "loss/D_real", "loss/D_fake",
                          "scores/real", "scores/fake"}
  np.testing.assert_allclose(metrics["loss/D_real"] + metrics["loss/D_fake"],
                             loss, rtol=1e-6)
  np.testing.assert_allclose(metrics["scores/real"], REAL.mean(), rtol=1e-6)
  assert all(jnp.shape(v) == () for v in metrics.values())


def test_non_saturating_is_stylegans_loss():
  g = losses.g_loss("non_saturating", FAKE)
  d = losses.d_loss("non_saturating", REAL, FAKE)
  assert jax.tree.all(jax.tree.map(jnp.array_equal, g,
                                   losses.g_main_loss(FAKE)))
  assert jax.tree.all(jax.tree.map(jnp.array_equal, d,
                                   losses.d_main_loss(FAKE, REAL)))


def test_losses_are_stable_at_extreme_logits():
  @jax.jit
  def all_losses(x):
    return {name: (losses.g_loss(name, x)[0],
                   losses.d_loss(name, x, x[::-1])[0],
                   jax.grad(lambda x: losses.g_loss(name, x)[0])(x),
                   jax.grad(lambda x: losses.d_loss(name, x, x)[0])(x))
            for name in losses.GAN_LOSSES}

  for name, values in all_losses(jnp.array([[-200.0], [200.0]])).items():
    assert all(jnp.isfinite(v).all() for v in values), name


def test_minimax_generator_stalls_where_non_saturating_does_not():
  # A confident D (fake logit -10): minimax's G gradient is
  # -sigmoid(-10) / N, about 4.5e-5 / N; the non-saturating one is
  # -(1 - sigmoid(-10)) / N, about -1 / N.
  fake = jnp.full((4, 1), -10.0)
  minimax = jax.grad(lambda f: losses.g_loss("minimax", f)[0])(fake)
  ns = jax.grad(lambda f: losses.g_loss("non_saturating", f)[0])(fake)
  sigmoid = 1 / (1 + np.exp(10.0))
  np.testing.assert_allclose(minimax, -sigmoid / 4, rtol=1e-4)
  np.testing.assert_allclose(ns, -(1 - sigmoid) / 4, rtol=1e-6)


def test_unknown_name():
  with pytest.raises(ValueError, match="GAN loss must be one of"):
    losses.g_loss("wasserstein", FAKE)
  with pytest.raises(ValueError, match="GAN loss must be one of"):
    losses.d_loss("bce", REAL, FAKE)


# ------------------------------------------------------- gradient penalty --
# Keys are `rbg`: threefry's random bits take far longer to compile on CPU.

N, SHAPE = 3, (2, 2, 3)
DIM = int(np.prod(SHAPE))


def _d_params(seed=0):
  rng = np.random.default_rng(seed)
  return rng.normal(size=(DIM, 5)) * 0.5, rng.normal(size=5)


def _d(params, x, xp):
  """A small nonlinear D scoring each image on its own: [N, ...] -> [N, 1]."""
  w, v = params
  h = xp.tanh(x.reshape(x.shape[0], -1) @ w)  # [N, 5]
  return (h @ v)[:, None] + 0.3 * xp.sum(x.reshape(x.shape[0], -1)**2,
                                         axis=1, keepdims=True)


def _input_grads_fd(params, x, h=1e-5):
  """dD(x_n) / dx_n by central differences, float64, [N, ...]."""
  flat = x.reshape(len(x), -1)
  grads = np.zeros_like(flat)
  for i in range(flat.shape[1]):
    step = np.zeros_like(flat)
    step[:, i] = h
    up = _d(params, (flat + step).reshape(x.shape), np)
    down = _d(params, (flat - step).reshape(x.shape), np)
    grads[:, i] = (up - down)[:, 0] / (2 * h)
  return grads.reshape(x.shape)


def _penalty_np(params, real, fake, eps, weight):
  mixed = eps * real + (1 - eps) * fake
  norms = np.sqrt((_input_grads_fd(params, mixed)**2).sum(axis=(1, 2, 3)))
  return weight * np.mean((norms - 1)**2), norms


def _images(seed):
  rng = np.random.default_rng(seed)
  return (rng.uniform(-1, 1, size=(N,) + SHAPE),
          rng.uniform(-1, 1, size=(N,) + SHAPE))


def test_gradient_penalty_matches_finite_differences():
  params = _d_params()
  real, fake = _images(1)
  key = jax.random.key(7, impl="rbg")
  eps = np.float64(jax.random.uniform(key, (N, 1, 1, 1)))  # As documented.
  d_fn = lambda x, c: _d(jax.tree.map(jnp.float32, params), x, jnp)
  loss, metrics = jax.jit(
      lambda r, f: losses.gradient_penalty(d_fn, r, f, key, weight=10.0))(
          jnp.float32(real), jnp.float32(fake))
  expected, norms = _penalty_np(params, real, fake, eps, 10.0)
  # float32 autodiff against float64 central differences (truncation error
  # ~h^2 = 1e-10): agreement to float32 rounding of O(1) sums.
  np.testing.assert_allclose(loss, expected, rtol=1e-5)
  np.testing.assert_allclose(metrics["reg/gp_grad_norm"], norms.mean(),
                             rtol=1e-5)
  np.testing.assert_allclose(metrics["reg/gp_penalty"], expected / 10,
                             rtol=1e-5)
  assert metrics["loss/D_gp"] == loss


def test_gradient_penalty_parameter_gradient_matches_finite_differences():
  # Differentiating the penalty w.r.t. D's parameters goes through the
  # input gradient (double backprop); compare with differences of the
  # finite-difference penalty above, over every entry of v and a few of w.
  params = _d_params(2)
  real, fake = _images(3)
  key = jax.random.key(4, impl="rbg")
  eps = np.float64(jax.random.uniform(key, (N, 1, 1, 1)))

  def gp(p):
    return losses.gradient_penalty(lambda x, c: _d(p, x, jnp), jnp.float32(
        real), jnp.float32(fake), key)[0]

  grad_w, grad_v = jax.jit(jax.grad(gp))(jax.tree.map(jnp.float32, params))
  h = 1e-4
  w, v = params
  for i in range(5):
    dv = np.zeros(5)
    dv[i] = h
    fd = (_penalty_np((w, v + dv), real, fake, eps, 10.0)[0]
          - _penalty_np((w, v - dv), real, fake, eps, 10.0)[0]) / (2 * h)
    # Nested differences (inner h = 1e-5) leave ~1e-6 absolute error.
    np.testing.assert_allclose(grad_v[i], fd, rtol=1e-3, atol=1e-4)
  for i, j in [(0, 0), (5, 2), (11, 4)]:
    dw = np.zeros_like(w)
    dw[i, j] = h
    fd = (_penalty_np((w + dw, v), real, fake, eps, 10.0)[0]
          - _penalty_np((w - dw, v), real, fake, eps, 10.0)[0]) / (2 * h)
    np.testing.assert_allclose(grad_w[i, j], fd, rtol=1e-3, atol=1e-4)


def test_gradient_penalty_linear_and_constant_critics():
  real, fake = (jnp.float32(x) for x in _images(5))
  key = jax.random.key(0, impl="rbg")
  # Linear D: the gradient is `a` wherever the interpolate lies.
  a = jnp.float32(np.random.default_rng(6).normal(size=SHAPE))
  linear = lambda x, c: jnp.sum(x * a, axis=(1, 2, 3))[:, None]
  loss, _ = losses.gradient_penalty(linear, real, fake, key, weight=2.5)
  np.testing.assert_allclose(
      loss, 2.5 * (np.linalg.norm(np.float64(a)) - 1)**2, rtol=1e-5)
  # Constant D: zero gradient, penalty weight * (0 - 1)^2, and finite
  # gradients (the norm's sqrt is not differentiated at 0).
  constant = lambda x, c: jnp.zeros((x.shape[0], 1)) + 0 * x[:, :1, 0, 0]
  loss, metrics = losses.gradient_penalty(constant, real, fake, key)
  assert float(loss) == losses.GP_WEIGHT
  assert float(metrics["reg/gp_grad_norm"]) == 0
  grads = jax.grad(lambda s: losses.gradient_penalty(
      lambda x, c: constant(x, c) * s, real, fake, key)[0])(1.0)
  assert np.isfinite(grads)


def test_gradient_penalty_passes_labels_and_checks_shapes():
  real, fake = (jnp.float32(x) for x in _images(8))
  c = jnp.eye(N)
  seen = []
  d_fn = lambda x, labels: seen.append(labels) or jnp.sum(x, (1, 2, 3))[:, None]
  key = jax.random.key(0, impl="rbg")
  losses.gradient_penalty(d_fn, real, fake, key, c=c)
  assert seen[0] is c
  with pytest.raises(ValueError, match="same shape"):
    losses.gradient_penalty(d_fn, real, fake[:2], key)


@pytest.fixture(scope="module")
def d_steps():
  """name -> (total, (main, r1, gp, metrics...), grads) of a D step."""
  params = jax.tree.map(jnp.float32, _d_params(9))
  real, fake = (jnp.float32(x) for x in _images(10))
  c = jnp.zeros((N, 0))

  def d_step_loss(p, name):
    d_fn = lambda x, c: _d(p, x, jnp)
    main, m1 = losses.d_loss(name, d_fn(real, c), d_fn(fake, c))
    r1, m2 = losses.r1_penalty(d_fn, real, c, r1_gamma=0.5)
    gp, m3 = losses.gradient_penalty(d_fn, real, fake,
                                     jax.random.key(1, impl="rbg"))
    return main + r1 + gp, (main, r1, gp, m1, m2, m3)

  @jax.jit
  def all_steps(p):
    return {name: jax.value_and_grad(d_step_loss, has_aux=True)(p, name)
            for name in losses.GAN_LOSSES}

  return all_steps(params)


@pytest.mark.parametrize("name", losses.GAN_LOSSES)
def test_every_loss_combines_with_r1_and_the_gradient_penalty(d_steps, name):
  (total, (main, r1, gp, m1, m2, m3)), grads = d_steps[name]
  np.testing.assert_allclose(total, main + r1 + gp, rtol=1e-6)
  assert r1 > 0 and gp > 0
  assert all(jnp.isfinite(g).all() for g in jax.tree.leaves(grads))
  # Only `scores/real` is shared, and both compute it from the same logits.
  assert set(m1) & set(m2) == {"scores/real"}
  np.testing.assert_allclose(m1["scores/real"], m2["scores/real"], rtol=1e-6)
  assert not set(m3) & (set(m1) | set(m2))
