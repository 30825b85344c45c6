"""Tests for `stylegan_jax.ops.equalized` against NumPy references.

`np_conv2d_resample` follows the reference README's formulations (padding,
kernel flip on up-sampling, blur gain); `test_modconv` imports it.
"""

import math

import jax
from jax import test_util as jtu
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax.ops import filters
from stylegan_jax.ops import equalized
from tests.ops.test_filters import np_upfirdn2d

_BLUR = filters.setup_filter([1, 3, 3, 1])


def _rand(shape, seed):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def np_xcorr(x, w, pad=0, stride=1):
  """Cross-correlation; x [N, H, W, Cin], w [k, k, Cin, Cout] (HWIO)."""
  x = np.asarray(x, np.float64)
  w = np.asarray(w, np.float64)
  xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  k = w.shape[0]
  oh, ow = xp.shape[1] - k + 1, xp.shape[2] - k + 1
  out = 0
  for a in range(k):
    for b in range(k):
      out = out + np.einsum("nhwc,co->nhwo", xp[:, a:a + oh, b:b + ow],
                            w[a, b])
  return out[:, ::stride, ::stride]


def np_conv2d_resample(x, w, up=1, down=1):
  """The README's conv formulations (filter [1, 3, 3, 1])."""
  k = w.shape[0]
  if up == 1 and down == 1:
    return np_xcorr(x, w, pad=k // 2)
  if k == 1 and down == 2:  # Blur pad 1/1, keep every 2nd, then 1x1.
    return np_xcorr(np_upfirdn2d(x, _BLUR, down=2, pad=(1, 1, 1, 1)), w)
  if k == 1 and up == 2:  # 1x1, then zero-stuff, pad 2/1, blur x 4.
    return np_upfirdn2d(np_xcorr(x, w), _BLUR, up=2, pad=(2, 1, 2, 1),
                        gain=4)
  if down == 2:  # Blur pad 2/2, then stride-2 valid cross-correlation.
    return np_xcorr(np_upfirdn2d(x, _BLUR, pad=(2, 2, 2, 2)), w, stride=2)
  # up == 2, k == 3: zero-stuff to 2H, pad 2 before / 1 after, TRUE
  # convolution (flipped kernel) -> 2H + 1, then pad 1/1 and blur x 4.
  n, h, wd, c = x.shape
  s = np.zeros((n, 2 * h, 2 * wd, c))
  s[:, ::2, ::2] = x
  s = np.pad(s, ((0, 0), (2, 1), (2, 1), (0, 0)))
  y = np_xcorr(s, np.asarray(w)[::-1, ::-1])
  assert y.shape[1:3] == (2 * h + 1, 2 * wd + 1)
  return np_upfirdn2d(y, _BLUR, pad=(1, 1, 1, 1), gain=4)


def _assert_close(got, want, rel=1e-5):
  got = np.asarray(got)
  assert got.shape == want.shape, (got.shape, want.shape)
  err = np.max(np.abs(got - want))
  assert err <= rel * np.max(np.abs(want)), err


# bias_act / dense ------------------------------------------------------------


def test_bias_act_linear_and_lrelu():
  x = _rand((3, 4, 5, 6), 0)
  b = _rand((6,), 1)
  _assert_close(equalized.bias_act(jnp.asarray(x), jnp.asarray(b)), x + b)
  _assert_close(equalized.bias_act(jnp.asarray(x), None, gain=1.5), x * 1.5)
  v = x + b
  want = np.where(v >= 0, v, 0.2 * v) * math.sqrt(2) * 0.7
  _assert_close(equalized.bias_act(jnp.asarray(x), jnp.asarray(b), "lrelu",
                                gain=0.7), want)
  with pytest.raises(ValueError):
    equalized.bias_act(jnp.asarray(x), None, "relu6")


def test_bias_act_clamps_after_gain():
  x = np.array([-2.0, -0.5, -0.1, 0.1, 0.3, 0.4, 2.0], np.float32)
  # linear, gain 3, clamp 0.5: 0.3 -> 0.9 -> 0.5 (clamp before gain: 0.9).
  got = np.asarray(equalized.bias_act(jnp.asarray(x), None, gain=3.0,
                                   clamp=0.5))
  np.testing.assert_allclose(got, np.clip(x * 3, -0.5, 0.5), rtol=1e-6)
  assert got[4] == pytest.approx(0.5)
  # lrelu: act, then gain sqrt(2) * 2, then clamp.
  b = np.float32(0.05)
  got = np.asarray(equalized.bias_act(jnp.asarray(x), jnp.asarray([b]), "lrelu",
                                   gain=2.0, clamp=0.6))
  v = x + b
  want = np.clip(np.where(v >= 0, v, 0.2 * v) * 2 * math.sqrt(2), -0.6, 0.6)
  np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("lr_multiplier,act", [(1.0, "linear"),
                                               (0.01, "lrelu")])
def test_dense_gains(lr_multiplier, act):
  x, w, b = _rand((5, 7), 2), _rand((7, 3), 3) * 10, _rand((3,), 4) * 10
  got = equalized.dense(jnp.asarray(x), jnp.asarray(w), jnp.asarray(b),
                     lr_multiplier, act)
  v = x.astype(np.float64) @ (w * lr_multiplier / math.sqrt(7)) + (
      b * lr_multiplier)
  if act == "lrelu":
    v = np.where(v >= 0, v, 0.2 * v) * math.sqrt(2)
  _assert_close(got, v)
  got = equalized.dense(jnp.asarray(x), jnp.asarray(w), None, lr_multiplier)
  _assert_close(got, x @ (w * lr_multiplier / math.sqrt(7)))


# conv2d_resample / conv2d ----------------------------------------------------


@pytest.fixture(params=[True, False], ids=["matmul", "native"])
def resampling_form(request, monkeypatch):
  """Runs a test with each resampling formulation (CPU's and GPUs')."""
  monkeypatch.setattr(equalized, "matmul_resampling", lambda: request.param)
  return request.param


@pytest.mark.parametrize(
    "k,up,down",
    [(3, 1, 1), (1, 1, 1), (3, 1, 2), (3, 2, 1), (1, 1, 2), (1, 2, 1)],
)
def test_conv2d_resample_matches_numpy(resampling_form, k, up, down):
  del resampling_form
  x = _rand((2, 6, 8, 3), 5)
  # A non-symmetric kernel, so a missing or extra flip shows.
  w = _rand((k, k, 3, 4), 6)
  got = equalized.conv2d_resample(jnp.asarray(x), jnp.asarray(w), _BLUR, up=up,
                               down=down)
  assert got.shape == (2, 6 * up // down, 8 * up // down, 4)
  _assert_close(got, np_conv2d_resample(x, w, up, down))


@pytest.mark.parametrize("up,down", [(2, 1), (1, 2)])
def test_conv2d_resample_second_order_gradients_agree(up, down):
  """R1 and path length differentiate the resampling convs twice."""
  x, w = _rand((2, 5, 6, 3), 13), _rand((3, 3, 3, 2), 14)
  if down > 1:
    x = _rand((2, 6, 8, 3), 13)

  def penalty(w, x):  # |d sum(conv(x) * c) / dx|^2, like R1.
    c = jnp.cos(jnp.arange(x.shape[1] * up // down)[:, None, None] * 0.7)
    fn = lambda x: jnp.sum(
        equalized.conv2d_resample(x, w, _BLUR, up=up, down=down) * c)
    return jnp.sum(jnp.square(jax.grad(fn)(x)))

  grads = {}
  for form in (True, False):
    with pytest.MonkeyPatch.context() as m:
      m.setattr(equalized, "matmul_resampling", lambda form=form: form)
      grads[form] = jax.grad(penalty, argnums=(0, 1))(jnp.asarray(w),
                                                      jnp.asarray(x))
  for a, b in zip(grads[True], grads[False]):
    _assert_close(a, np.asarray(b, np.float64))


def test_conv2d_resample_up_is_not_a_cross_correlation():
  # Guards the reference itself: for up=2 the flipped and unflipped kernel
  # give different answers, so the test above pins the flip.
  x = _rand((1, 4, 4, 2), 7)
  w = _rand((3, 3, 2, 2), 8)
  got = np.asarray(equalized.conv2d_resample(jnp.asarray(x), jnp.asarray(w),
                                          _BLUR, up=2))
  wrong = np_conv2d_resample(x, np.ascontiguousarray(w[::-1, ::-1]), up=2)
  assert np.max(np.abs(got - wrong)) > 1e-2 * np.max(np.abs(got))


def test_conv2d_resample_errors():
  x = jnp.zeros((1, 8, 8, 2))
  with pytest.raises(ValueError, match="1x1 and 3x3"):
    equalized.conv2d_resample(x, jnp.zeros((5, 5, 2, 2)))
  with pytest.raises(ValueError, match="1x1 and 3x3"):
    equalized.conv2d_resample(x, jnp.zeros((5, 5, 2, 2)), _BLUR, down=2)
  with pytest.raises(ValueError):
    equalized.conv2d_resample(x, jnp.zeros((3, 3, 2, 2)), _BLUR, up=2, down=2)
  with pytest.raises(ValueError):
    equalized.conv2d_resample(x, jnp.zeros((3, 3, 2, 2)), None, up=2)
  with pytest.raises(ValueError):
    equalized.conv2d(x, jnp.zeros((5, 5, 2, 2)), None)


def test_conv2d_layer_gain_bias_act_clamp():
  x = _rand((2, 8, 8, 3), 9)
  w = _rand((3, 3, 3, 5), 10)
  b = _rand((5,), 11)
  g, clamp = math.sqrt(0.5), 0.4
  got = equalized.conv2d(jnp.asarray(x), jnp.asarray(w), jnp.asarray(b),
                      "lrelu", _BLUR, down=2, gain=g, conv_clamp=clamp)
  v = np_conv2d_resample(x, w / math.sqrt(3 * 9), down=2) + b
  v = np.where(v >= 0, v, 0.2 * v) * math.sqrt(2) * g
  want = np.clip(v, -clamp * g, clamp * g)
  assert np.mean(np.abs(want) == clamp * g) > 0.1  # Clamping engages.
  _assert_close(got, want)
  # 1x1 up without bias, linear.
  w1 = _rand((1, 1, 3, 2), 12)
  got = equalized.conv2d(jnp.asarray(x), jnp.asarray(w1), None, f=_BLUR, up=2)
  _assert_close(got, np_conv2d_resample(x, w1 / math.sqrt(3), up=2))


# minibatch_std / normalize_2nd_moment ---------------------------------------


def np_minibatch_std(x, group_size, num_channels):
  """Strided groups: sample n is in group n mod (N / G)."""
  x = np.asarray(x, np.float64)
  n, h, w, c = x.shape
  g = n if group_size is None else min(group_size, n)
  m = n // g
  cf = c // num_channels
  extra = np.zeros((n, h, w, num_channels))
  for i in range(n):
    members = x[[j for j in range(n) if j % m == i % m]]  # [G, H, W, C]
    std = np.sqrt(members.var(axis=0) + 1e-8)  # Biased variance.
    for f in range(num_channels):
      extra[i, :, :, f] = std[:, :, f * cf:(f + 1) * cf].mean()
  return np.concatenate([x, extra], axis=-1)


@pytest.mark.parametrize("group_size", [2, 4, None, 16])
@pytest.mark.parametrize("num_channels", [1, 2])
def test_minibatch_std_matches_numpy(group_size, num_channels):
  # Per-sample scales make every group's stddev distinct.
  x = _rand((8, 3, 3, 4), 13) * np.arange(1, 9, dtype=np.float32)[
      :, None, None, None]
  got = equalized.minibatch_std(jnp.asarray(x), group_size, num_channels)
  assert got.shape == (8, 3, 3, 4 + num_channels)
  _assert_close(got, np_minibatch_std(x, group_size, num_channels))


def test_minibatch_std_groups_are_strided_not_contiguous():
  x = _rand((8, 2, 2, 2), 14) * np.arange(1, 9, dtype=np.float32)[
      :, None, None, None]
  got = np.asarray(equalized.minibatch_std(jnp.asarray(x), 4))[:, 0, 0, -1]
  # Strided groups of 4 with N=8: {0,2,4,6} and {1,3,5,7}.
  np.testing.assert_allclose(got[0::2], got[0], rtol=1e-6)
  np.testing.assert_allclose(got[1::2], got[1], rtol=1e-6)
  assert abs(got[0] - got[1]) > 1e-3


def test_minibatch_std_rejects_indivisible_batch():
  with pytest.raises(ValueError, match="divisible"):
    equalized.minibatch_std(jnp.zeros((6, 2, 2, 2)), 4)


def test_normalize_2nd_moment():
  x = _rand((4, 7), 15) * np.array([[0.1], [1], [10], [1000]], np.float32)
  got = np.asarray(equalized.normalize_2nd_moment(jnp.asarray(x)))
  want = x / np.sqrt(np.mean(np.square(x.astype(np.float64)), axis=1,
                             keepdims=True) + 1e-8)
  _assert_close(got, want)
  np.testing.assert_allclose(np.mean(got**2, axis=1), 1.0, rtol=1e-5)
  # eps keeps a zero row finite.
  zero = equalized.normalize_2nd_moment(jnp.zeros((1, 3)))
  assert np.all(np.asarray(zero) == 0)


# Gradient checks ------------------------------------------------------------


def test_minibatch_std_gradients():
  x = jnp.asarray(_rand((4, 2, 2, 4), 16))
  fn = jax.jit(lambda x: equalized.minibatch_std(x, 2, num_channels=2))
  jtu.check_grads(fn, (x,), order=1, modes=["rev"])


def test_bias_act_gradients():
  rng = np.random.default_rng(17)
  # |x| in [0.1, 0.5] or [1.5, 2.5]: away from the lrelu kink at 0 and,
  # after the sqrt(2) gain, from the clamp at 1.2 (which the large
  # positive values do hit).
  mag = np.where(rng.random((3, 4)) < 0.5, rng.uniform(0.1, 0.5, (3, 4)),
                 rng.uniform(1.5, 2.5, (3, 4)))
  x = jnp.asarray(mag * rng.choice([-1.0, 1.0], (3, 4)), jnp.float32)
  b = jnp.zeros((4,), jnp.float32)
  fn = jax.jit(lambda x, b: equalized.bias_act(x, b, "lrelu", clamp=1.2))
  assert np.any(np.asarray(fn(x, b)) == np.float32(1.2))
  jtu.check_grads(fn, (x, b), order=1, modes=["rev"], eps=1e-3)
