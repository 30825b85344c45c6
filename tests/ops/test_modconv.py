"""Tests for `stylegan_jax.ops.modconv`: fused vs non-fused vs NumPy."""

import jax
from jax import test_util as jtu
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax.ops import filters
from stylegan_jax.ops import modconv
from tests.ops.test_equalized import np_conv2d_resample

_BLUR = filters.setup_filter([1, 3, 3, 1])


def np_modulated_conv2d(x, weight, styles, demodulate, up):
  """Builds each sample's kernel explicitly, then convolves that sample."""
  x = np.asarray(x, np.float64)
  weight = np.asarray(weight, np.float64)
  out = []
  for n in range(x.shape[0]):
    wmod = weight * np.asarray(styles, np.float64)[n][None, None, :, None]
    if demodulate:  # Per output channel, on the raw-weight scale.
      wmod = wmod / np.sqrt(np.sum(wmod**2, axis=(0, 1, 2)) + 1e-8)
    out.append(np_conv2d_resample(x[n:n + 1], wmod, up=up))
  return np.concatenate(out)


def _inputs(k, seed=0, n=3, h=5, w=6, cin=4, cout=5):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, h, w, cin)).astype(np.float32)
  weight = rng.normal(size=(k, k, cin, cout)).astype(np.float32)
  # Styles of varied scale and sign, so per-sample kernels really differ.
  styles = (rng.normal(size=(n, cin)) * 2 + 0.5).astype(np.float32)
  return x, weight, styles


def _max_rel_err(got, want):
  got = np.asarray(got, np.float64)
  assert got.shape == want.shape, (got.shape, want.shape)
  return np.max(np.abs(got - want)) / np.max(np.abs(want))


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("demodulate", [True, False])
def test_fused_and_non_fused_match_numpy(k, up, demodulate):
  x, weight, styles = _inputs(k)
  args = (jnp.asarray(x), jnp.asarray(weight), jnp.asarray(styles))
  fused = modconv.modulated_conv2d(*args, demodulate=demodulate, fused=True,
                                   f=_BLUR, up=up)
  plain = modconv.modulated_conv2d(*args, demodulate=demodulate, fused=False,
                                   f=_BLUR, up=up)
  assert fused.shape == (3, 5 * up, 6 * up, 5)
  want = np_modulated_conv2d(x, weight, styles, demodulate, up)
  assert _max_rel_err(fused, np.asarray(plain, np.float64)) < 1e-5
  assert _max_rel_err(fused, want) < 1e-5
  assert _max_rel_err(plain, want) < 1e-5


def test_demodulation_gives_unit_variance():
  rng = np.random.default_rng(1)
  n, h, cin, cout = 4, 48, 8, 6
  x = rng.normal(size=(n, h, h, cin)).astype(np.float32)
  weight = rng.normal(size=(3, 3, cin, cout)).astype(np.float32)
  styles = (rng.normal(size=(n, cin)) * 3).astype(np.float32)
  fn = jax.jit(modconv.modulated_conv2d, static_argnames=("demodulate",))
  y = np.asarray(fn(jnp.asarray(x), jnp.asarray(weight),
                    jnp.asarray(styles), demodulate=True))
  # Interior pixels see only real inputs (the border sees zero padding).
  var = y[:, 1:-1, 1:-1].var(axis=(1, 2))  # [N, Cout]
  assert np.all((var > 0.8) & (var < 1.2)), var
  # Without demodulation the variance is sum(wmod^2), far from 1 here.
  y = np.asarray(fn(jnp.asarray(x), jnp.asarray(weight),
                    jnp.asarray(styles), demodulate=False))
  var = y[:, 1:-1, 1:-1].var(axis=(1, 2))
  wmod = weight[None] * styles[:, None, None, :, None]
  want = np.sum(wmod.astype(np.float64)**2, axis=(1, 2, 3))  # [N, Cout]
  assert np.all(want > 10)
  np.testing.assert_allclose(var, want, rtol=0.2)


@pytest.mark.parametrize("fused,up", [(False, 1), (True, 2)])
def test_modulated_conv2d_gradients(fused, up):
  x, weight, styles = _inputs(3, seed=2, n=2, h=3, w=3, cin=2, cout=2)
  fn = jax.jit(lambda x, w, s: modconv.modulated_conv2d(
      x, w, s, demodulate=True, fused=fused, f=_BLUR, up=up))
  jtu.check_grads(fn, (jnp.asarray(x), jnp.asarray(weight),
                       jnp.asarray(styles)), order=1, modes=["rev"],
                  eps=1e-3)
