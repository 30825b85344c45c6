"""The ADA controller: update rule, floor, and sign statistics over devices."""

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np
import pytest

from stylegan_jax import sharding
from stylegan_jax.augment import ada

# batch 64, every 4 iterations, ada_kimg 500: 64 * 4 / 500000.
STEP = np.float32(64 * 4 / 500_000)


def _update(p, sign_sum, count):
  return np.asarray(ada.update_p(p, sign_sum, count, batch_size=64))


def test_step_follows_the_sign_of_r_minus_target():
  p = np.float32(0.3)
  assert _update(p, 70, 100) == np.float32(p + STEP)  # r = 0.7 > 0.6
  assert _update(p, 50, 100) == np.float32(p - STEP)  # r = 0.5 < 0.6
  assert _update(p, 60, 100) == p  # r = target: sign 0
  assert _update(p, -100, 100) == np.float32(p - STEP)  # step size only
  assert STEP == np.float32(5.12e-4)


def test_step_size_scales_with_batch_interval_and_ada_kimg():
  got = ada.update_p(0.0, 1, 1, batch_size=32, interval=8, ada_kimg=100)
  assert np.asarray(got) == np.float32(32 * 8 / 100_000)


def test_p_is_floored_at_zero_and_unchanged_without_counts():
  assert _update(np.float32(1e-4), -10, 10) == 0.0
  assert _update(np.float32(0), -10, 10) == 0.0
  assert _update(np.float32(0.25), 0, 0) == np.float32(0.25)


def test_traced_p_under_jit_and_a_training_sequence():
  update = jax.jit(lambda p, s, c: ada.update_p(p, s, c, batch_size=64))
  rng = np.random.default_rng(0)
  p, p_ref = jnp.float32(0), np.float32(0)
  moves = set()
  for _ in range(40):
    # E[sign] = 2 Phi(0.85) - 1 = 0.604: r_t lands on both sides of 0.6.
    logits = rng.normal(0.85, 1.0, size=(4 * 64, 1)).astype(np.float32)
    stats = ada.accumulate_signs(ada.init_sign_stats(), logits)
    p = update(p, stats.sign_sum, stats.count)
    r_t = np.sign(logits).mean()
    moves.add(np.sign(r_t - 0.6))
    p_ref = np.float32(max(p_ref + np.sign(r_t - 0.6) * STEP, 0))
    assert np.asarray(p) == pytest.approx(p_ref, abs=1e-7)
  assert moves == {-1.0, 1.0} and p_ref > 0


def test_sign_sums_add_up_across_four_devices():
  mesh = sharding.create_mesh(4)
  logits = np.random.default_rng(1).normal(size=(16, 1)).astype(np.float32)
  logits[3] = 0  # sign(0) = 0, still counted
  expected = (np.sign(logits).sum(), logits.size)
  stats = ada.init_sign_stats()
  # jit on a batch-sharded array: the sum is global.
  sharded = jax.device_put(logits, NamedSharding(mesh, P(sharding.DATA_AXIS)))
  got = jax.jit(ada.accumulate_signs)(stats, sharded)
  assert (float(got.sign_sum), float(got.count)) == expected
  # shard_map: each device sums its shard, psum adds them up.

  def per_device(stats, logits):
    local = ada.accumulate_signs(stats, logits)
    return jax.tree.map(lambda a: jax.lax.psum(a, sharding.DATA_AXIS), local)

  psummed = jax.jit(jax.shard_map(
      per_device, mesh=mesh, in_specs=(P(), P(sharding.DATA_AXIS)),
      out_specs=P()))(stats, logits)
  assert (float(psummed.sign_sum), float(psummed.count)) == expected
  # Two accumulations over an interval add.
  twice = ada.accumulate_signs(got, logits)
  assert (float(twice.sign_sum), float(twice.count)) == (2 * expected[0],
                                                         2 * expected[1])


def test_bad_arguments_say_what_is_wrong():
  with pytest.raises(ValueError, match="batch_size, interval and ada_kimg"):
    ada.update_p(0.0, 1, 1, batch_size=0)
