"""Training with mixed precision (`model.num_fp16_res`): stable, float32
master weights and optimiser state, bit-identical resume.

Uses the loop's tiny config (8 px) with num_fp16_res=1: G's 8x8 synthesis
block and D's 8x8 block compute in bfloat16, the rest in float32.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax import sharding
from stylegan_jax.train import loop
from stylegan_jax.train import setup
from tests.train.test_loop import BATCH
from tests.train.test_loop import leaves
from tests.train.test_loop import tiny_config


def mixed_config(steps: int, **kwargs):
  config = tiny_config(steps, **kwargs)
  config.model.num_fp16_res = 1
  return config


@pytest.mark.slow  # Compiles the four phases (~40 s on 2 shared cores).
def test_a_short_bf16_run_stays_finite_and_float32():
  built = setup.build(mixed_config(4), 5, sharding.create_mesh(1))
  assert (built.algorithm.G.num_fp16_res, built.algorithm.D.num_fp16_res
          ) == (1, 1)
  state = fresh = built.init()
  fresh = jax.tree.map(np.asarray, fresh)
  rng = np.random.default_rng(0)
  for step in range(4):  # Step 0 runs all four phases (with R1 and PL).
    raw = {"image": rng.uniform(-1, 1, (BATCH, 8, 8, 3)).astype(np.float32),
           "label": rng.integers(0, 5, BATCH).astype(np.int32)}
    state, metrics = built.run_iteration(state, built.global_batch(raw),
                                         step)
    assert all(np.isfinite(float(v)) for v in metrics.values()), metrics
  floats = [x for x in jax.tree.leaves(state)
            if jnp.issubdtype(x.dtype, jnp.floating)]
  # Master weights, Adam moments, G_ema and buffers all stay float32.
  assert all(x.dtype == jnp.float32 for x in floats)
  assert all(np.all(np.isfinite(x)) for x in floats)
  changed = [not np.array_equal(a, b) for a, b in
             zip(leaves(fresh.g_params), leaves(state.g_params))]
  assert sum(changed) > 0.9 * len(changed)


@pytest.mark.slow  # Three training runs' compiles (~2 min on 2 cores).
def test_bf16_resume_is_bit_identical(tmp_path):
  uninterrupted = loop.train_and_evaluate(mixed_config(4),
                                          str(tmp_path / "whole"))
  loop.train_and_evaluate(mixed_config(2), str(tmp_path / "split"))
  resumed = loop.train_and_evaluate(mixed_config(4), str(tmp_path / "split"))
  assert int(resumed.step) == 4
  for a, b in zip(leaves(uninterrupted), leaves(resumed)):
    np.testing.assert_array_equal(a, b)
  assert all(np.all(np.isfinite(x)) for x in leaves(resumed.g_params))
