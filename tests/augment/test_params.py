"""Per-sample parameter distributions and probabilities of every operation.

One jitted draw of N = 20000 samples at a traced p = 0.6 serves every check.
Tolerances are 4 standard errors of the estimated quantity (the key is
fixed, so the outcome is deterministic; a wrong distribution is off by many
standard errors at this N).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax.augment import params as params_lib
from stylegan_jax.augment import specs

N = 20000
P = 0.6
# Every operation on; some multipliers below 1 so p * multiplier is tested.
SPEC = specs.AugmentSpec(
    xflip=0.5, rotate90=1, xint=1, scale=1, rotate=0.8, aniso=1, xfrac=1,
    shear=1, zoom=0.25, brightness=1, contrast=1, lumaflip=1, hue=0.7,
    saturation=1, imgfilter=1, imgfilter_bands=(1, 0.5, 0, 1), noise=1,
    cutout=1)


@pytest.fixture(scope="module")
def drawn():
  fn = jax.jit(lambda key, p: params_lib.sample_params(key, N, p, SPEC))
  out = fn(jax.random.key(0), jnp.float32(P))
  return {op: (np.asarray(s.value, np.float64), np.asarray(s.applied))
          for op, s in out.items()}


def _check_mean(x, mean, std):
  """|sample mean - mean| <= 4 standard errors."""
  x = np.ravel(x)
  assert abs(x.mean() - mean) <= 4 * std / np.sqrt(x.size), (x.mean(), mean)


def _check_uniform(x, lo, hi):
  x = np.ravel(x)
  assert x.min() >= lo and x.max() <= hi
  width = hi - lo
  _check_mean(x, (lo + hi) / 2, width / np.sqrt(12))
  # Second central moment: its own std is sqrt(mu4 - sigma^4).
  var, mu4 = width**2 / 12, width**4 / 80
  _check_mean((x - (lo + hi) / 2) ** 2, var, np.sqrt(mu4 - var**2))


def _check_normal(x, std):
  _check_mean(x, 0.0, std)
  _check_mean(np.ravel(x) ** 2, std**2, std**2 * np.sqrt(2))


def test_every_active_op_is_drawn(drawn):
  assert set(drawn) == set(specs.OPS)


@pytest.mark.parametrize("op", [
    "xflip", "rotate90", "xint", "scale", "aniso", "xfrac", "shear", "zoom",
    "brightness", "contrast", "lumaflip", "hue", "saturation", "noise",
    "cutout"])
def test_probability_is_p_times_multiplier(drawn, op):
  _, applied = drawn[op]
  assert applied.shape == (N,)
  q = P * getattr(SPEC, op)
  _check_mean(applied, q, np.sqrt(q * (1 - q)))


def test_rotation_probability_splits_between_pre_and_post(drawn):
  _, applied = drawn["rotate"]  # [N, 2]
  q = 1 - np.sqrt(1 - SPEC.rotate * P)
  _check_mean(applied[:, 0], q, np.sqrt(q * (1 - q)))
  _check_mean(applied[:, 1], q, np.sqrt(q * (1 - q)))
  either = applied.any(axis=1)
  q_any = SPEC.rotate * P
  _check_mean(either, q_any, np.sqrt(q_any * (1 - q_any)))


def test_filter_band_probabilities(drawn):
  _, applied = drawn["imgfilter"]  # [N, 4]
  for band, strength in enumerate(SPEC.imgfilter_bands):
    q = P * SPEC.imgfilter * strength
    if q == 0:
      assert not applied[:, band].any()
    else:
      _check_mean(applied[:, band], q, np.sqrt(q * (1 - q)))


def test_binary_choices(drawn):
  for op in ("xflip", "lumaflip"):
    value, _ = drawn[op]
    assert set(np.unique(value)) == {0.0, 1.0}
    _check_mean(value, 0.5, 0.5)
  value, _ = drawn["rotate90"]
  assert set(np.unique(value)) == {0, 1, 2, 3}
  for i in range(4):
    _check_mean(value == i, 0.25, np.sqrt(0.25 * 0.75))


def test_uniform_parameters(drawn):
  _check_uniform(drawn["xint"][0], -0.125, 0.125)
  _check_uniform(drawn["rotate"][0], -np.pi, np.pi)
  _check_uniform(drawn["hue"][0], -np.pi, np.pi)
  limit = np.deg2rad(0.2)  # Keras: shear_range in degrees.
  _check_uniform(drawn["shear"][0], -limit, limit)
  _check_uniform(drawn["zoom"][0], 0.8, 1.2)
  _check_uniform(drawn["cutout"][0], 0.0, 1.0)


def test_normal_parameters(drawn):
  _check_normal(drawn["xfrac"][0], 0.125)
  _check_normal(drawn["brightness"][0], 0.2)


@pytest.mark.parametrize("op,log2_std", [
    ("scale", 0.2), ("aniso", 0.2), ("contrast", 0.5), ("saturation", 1.0),
    ("imgfilter", 1.0)])
def test_lognormal_parameters(drawn, op, log2_std):
  value, _ = drawn[op]
  assert value.min() > 0
  _check_normal(np.log(value), log2_std * np.log(2))


def test_noise_std_is_half_normal(drawn):
  sigma, _ = drawn["noise"]
  assert sigma.min() >= 0
  _check_mean(sigma, 0.1 * np.sqrt(2 / np.pi), 0.1 * np.sqrt(1 - 2 / np.pi))
  _check_mean(sigma**2, 0.01, 0.01 * np.sqrt(2))


def test_ops_draw_independently_of_which_others_are_on(drawn):
  alone = jax.jit(lambda key, p: params_lib.sample_params(
      key, N, p, specs.AugmentSpec(scale=1)))(jax.random.key(0),
                                              jnp.float32(P))
  np.testing.assert_array_equal(alone["scale"].value, drawn["scale"][0])
  np.testing.assert_array_equal(alone["scale"].applied, drawn["scale"][1])


def test_grey_images_skip_hue_and_saturation():
  got = jax.eval_shape(lambda key: params_lib.sample_params(
      key, 4, 0.5, SPEC, num_channels=1), jax.random.key(0))
  assert set(got) == set(specs.OPS) - {"hue", "saturation"}


def test_named_pipes_match_the_official_augpipe():
  blit = {"xflip", "rotate90", "xint"}
  geom = {"scale", "rotate", "aniso", "xfrac"}
  color = {"brightness", "contrast", "lumaflip", "hue", "saturation"}
  expected = {
      "blit": blit, "geom": geom, "color": color, "filter": {"imgfilter"},
      "noise": {"noise"}, "cutout": {"cutout"}, "bg": blit | geom,
      "bgc": blit | geom | color,
      "bgcf": blit | geom | color | {"imgfilter"},
      "bgcfn": blit | geom | color | {"imgfilter", "noise"},
      "bgcfnc": blit | geom | color | {"imgfilter", "noise", "cutout"},
      "keras": {"xflip", "shear", "zoom"},
  }
  assert set(specs.PIPES) == set(expected)
  for name, ops in expected.items():
    spec = specs.resolve_pipe(name)
    assert set(spec.active(specs.OPS)) == ops, name
    assert all(getattr(spec, op) == 1 for op in ops)


@pytest.mark.parametrize("pipe,message", [
    ("bgcx", "unknown augment pipe 'bgcx'"),
    ({"xflip": 1, "spin": 1}, "unknown augment option(s) spin"),
    ({"xflip": -1}, "xflip must be >= 0"),
    ({"imgfilter_bands": (1, 1)}, "imgfilter_bands must be 4"),
])
def test_bad_pipes_say_what_is_wrong(pipe, message):
  with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(
      ")", r"\)")):
    specs.resolve_pipe(pipe)
