"""The tiny run the fault tests interrupt, damage and resume."""

import jax
import numpy as np

from tests.train.test_loop import BATCH
from tests.train.test_loop import tiny_config

STEPS = 6


def fault_config(steps: int = STEPS):
  """tiny_config with checkpoints and snapshots every 3 steps."""
  config = tiny_config(steps)
  config.train.checkpoint_kimg = 3 * BATCH / 1000
  config.train.snapshot_kimg = 3 * BATCH / 1000
  config.evals.swd_num_images = 8
  return config


def leaves(tree):
  return [np.asarray(x) for x in jax.tree.leaves(tree)]


def assert_same_state(a, b) -> None:
  for x, y in zip(leaves(a), leaves(b)):
    np.testing.assert_array_equal(x, y)


def checkpoint_steps(workdir) -> list[int]:
  directory = workdir / "checkpoints"
  if not directory.is_dir():
    return []
  return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())
