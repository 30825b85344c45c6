"""`augment`: identity at p = 0, composition, gradients, batch sharding.

The whole pipeline (`bgcfnc`) is compiled twice: forward, and forward plus
backward batch-sharded over the 4 fake devices; the gradient and sharding
tests share the second.
"""

import re
import time

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np
import pytest

from stylegan_jax import sharding
from stylegan_jax.augment import params as params_lib
from stylegan_jax.augment import pipeline
from stylegan_jax.augment import specs

ALL = "bgcfnc"
N, S = 4, 16  # one batch shape for the forward tests: compiled once


def _images(shape, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


@pytest.fixture(scope="module")
def augment_all():
  return jax.jit(lambda x, key, p: pipeline.augment(x, key, p, ALL))


@pytest.fixture(scope="module")
def mesh():
  return sharding.create_mesh(4)


@pytest.fixture(scope="module")
def step(mesh):
  """D's use, batch-sharded on 4 devices: x -> (aug(x), d sum(aug^2) / dx)."""
  batch = NamedSharding(mesh, P(sharding.DATA_AXIS))
  replicated = NamedSharding(mesh, P())

  def forward_backward(x, key, p):
    y, vjp = jax.vjp(lambda x: pipeline.augment(x, key, p, ALL), x)
    return y, vjp(2 * y)[0]

  return jax.jit(forward_backward,
                 in_shardings=(batch, replicated, replicated),
                 out_shardings=(batch, batch))


def test_p_zero_returns_the_input_bit_for_bit(augment_all):
  x = _images((N, S, S, 3))
  key = jax.random.key(0)
  y = augment_all(x, key, jnp.float32(0))  # traced p: lax.cond
  np.testing.assert_array_equal(y, x)
  # Eager, with a Python 0 (short cut) and an array 0 (lax.cond).
  for pipe in (ALL, "keras"):
    np.testing.assert_array_equal(pipeline.augment(x, key, 0.0, pipe), x)
  np.testing.assert_array_equal(
      pipeline.augment(x, key, jnp.zeros(()), {"xflip": 1}), x)
  # Half precision comes back unchanged too.
  half = x.astype(jnp.bfloat16)
  assert pipeline.augment(half, key, 0.0, ALL) is half


def test_augment_is_apply_params_of_the_sampled_params():
  # The key contract: split(key) -> (parameter key, noise key).
  spec = specs.AugmentSpec(xflip=1, brightness=1, noise=1, cutout=1)
  x = _images((N, S, S, 3), seed=1)
  key, p = jax.random.key(1), jnp.float32(0.7)

  @jax.jit
  def both(x, key, p):
    params_key, noise_key = jax.random.split(key)
    params = params_lib.sample_params(params_key, N, p, spec)
    return (pipeline.augment(x, key, p, spec),
            pipeline.apply_params(x, params, spec, noise_key))

  got, by_hand = both(x, key, p)
  np.testing.assert_allclose(got, by_hand, atol=1e-6)
  assert np.abs(np.asarray(got) - x).mean() > 0.05  # It did augment.


def test_batch_sharded_run_matches_and_needs_no_communication(
    augment_all, step):
  key, p = jax.random.key(5), jnp.float32(0.7)
  x = _images((N, S, S, 3), seed=8)
  hlo = step.lower(x, key, p).compile().as_text()
  assert not re.findall(r"all-gather|all-reduce|all-to-all|"
                        r"collective-permute|reduce-scatter", hlo)
  y, _ = step(x, key, p)
  assert y.sharding.spec == P(sharding.DATA_AXIS)
  np.testing.assert_allclose(y, augment_all(x, key, p), atol=1e-6)


def test_gradient_matches_finite_differences(step):
  # f(x) = sum(aug(x)^2) is quadratic in x for a fixed key (every stage is
  # affine in the image), so central differences have no truncation error:
  # only float32 round-off of the O(1000) sums, ~1e-4 relative, is left.
  x = _images((N, S, S, 3), seed=3)
  key, p = jax.random.key(3), jnp.float32(1.0)
  y, grad = step(x, key, p)
  assert np.all(np.abs(np.asarray(grad)).sum(axis=(1, 2, 3)) > 0)
  assert np.abs(np.asarray(y) - x).mean() > 0.1
  f = lambda x: np.sum(np.asarray(step(x, key, p)[0], np.float64) ** 2)
  eps = 0.1
  for seed in range(3):
    v = _images(x.shape, seed=10 + seed)
    fd = (f(x + eps * v) - f(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(np.sum(grad * v), fd, rtol=2e-3)


@pytest.mark.slow
def test_grey_images_of_a_non_power_of_two_size():
  x = _images((2, 12, 12, 1))
  y = jax.jit(lambda x: pipeline.augment(x, jax.random.key(2), 0.9, ALL))(x)
  assert y.shape == x.shape and y.dtype == x.dtype
  assert np.isfinite(np.asarray(y)).all()
  assert np.abs(np.asarray(y) - x).mean() > 0.1


@pytest.mark.slow
def test_second_order_gradient_for_r1():
  # R1 differentiates |d D(aug(x)) / dx|^2 w.r.t. D's weights. With the toy
  # D(y) = sum(w * y^2) and aug affine in x, h(w) is quadratic in w, so
  # central differences are exact up to round-off.
  x = _images((2, 8, 8, 3), seed=5)
  key = jax.random.key(4)

  def h(w):
    d = lambda x: jnp.sum(w * pipeline.augment(x, key, 1.0, ALL) ** 2)
    return jnp.sum(jax.grad(d)(x) ** 2)

  h = jax.jit(jax.value_and_grad(h))
  w = _images(x.shape, seed=6)
  _, grad = h(w)
  eps = 0.05
  v = _images(w.shape, seed=7)
  fd = (h(w + eps * v)[0] - h(w - eps * v)[0]) / (2 * eps)
  np.testing.assert_allclose(np.sum(grad * v), fd, rtol=2e-3)


@pytest.mark.parametrize("shape,dtype,message", [
    ((4, 16, 16), np.float32, r"images \[N, H, W, C\]"),
    ((2, 16, 16, 4), np.float32, "C = 4"),
    ((2, 3, 16, 16), np.float32, "C = 16"),
    ((2, 16, 12, 3), np.float32, "square images of at least 8x8"),
    ((2, 4, 4, 3), np.float32, "square images of at least 8x8"),
    ((2, 16, 16, 3), np.uint8, "float images"),
])
def test_bad_images_say_what_is_wrong(shape, dtype, message):
  with pytest.raises(ValueError, match=message):
    pipeline.augment(np.zeros(shape, dtype), jax.random.key(0), 0.5)


@pytest.mark.slow
def test_p_zero_costs_nothing_measurable():
  x = jnp.asarray(_images((32, 64, 64, 3)))  # [N, H, W, C]
  key = jax.random.key(0)
  aug = jax.jit(lambda x, key, p: pipeline.augment(x, key, p, ALL))
  copy = jax.jit(lambda x, key, p: x * 1.0)

  def best_of(fn, p, repeats=20):
    fn(x, key, p).block_until_ready()
    times = []
    for _ in range(repeats):
      start = time.perf_counter()
      fn(x, key, p).block_until_ready()
      times.append(time.perf_counter() - start)
    return min(times)

  t_copy = best_of(copy, jnp.float32(0))
  t_zero = best_of(aug, jnp.float32(0))
  t_half = best_of(aug, jnp.float32(0.5))
  print(f"copy {t_copy * 1e3:.2f} ms, p=0 {t_zero * 1e3:.2f} ms, "
        f"p=0.5 {t_half * 1e3:.2f} ms")
  assert t_zero < 0.02 * t_half
  assert t_zero < 2 * t_copy + 1e-3
