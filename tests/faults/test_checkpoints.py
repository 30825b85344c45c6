"""Damaged, partial and contested checkpoints: detected, set aside, resumed.

Each test copies the donor workdir (checkpoints at steps 3 and 6 of the
reference run), damages it, runs the same command again and requires the
final state to equal the reference bit for bit (the run continues from the
newest good checkpoint and replays the same data and randomness).
"""

import shutil

import jax
import numpy as np
import pytest

from stylegan_jax import checkpoint
from stylegan_jax.errors import ConfigError
from stylegan_jax.errors import UserError
from stylegan_jax.train import loop
from stylegan_jax.train import workdir as workdir_lib
from tests.faults.common import assert_same_state
from tests.faults.common import checkpoint_steps
from tests.faults.common import fault_config


def _array_files(step_dir):
  """The data files of a checkpoint's state (raw array bytes)."""
  return [f for f in (step_dir / "state").rglob("*")
          if f.is_file() and "/ocdbt.process_0/d/" in f.as_posix()]


def _largest_array_file(step_dir):
  return max(_array_files(step_dir), key=lambda f: f.stat().st_size)


def _abstract(reference_state):
  device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  return jax.tree.map(
      lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=device),
      reference_state)


def _silently_flip_bytes(workdir, step, state) -> int:
  """Flips 16 bytes of array data where Orbax still restores without error.

  Returns:
    How many values of the restored state changed.
  """
  data = _largest_array_file(workdir / "checkpoints" / str(step))
  original = data.read_bytes()
  abstract = _abstract(state)
  # Where the arrays lie in the file varies between runs (Orbax writes them
  # concurrently), and some regions are not read back (flips there change
  # nothing), so sweep the file rather than try a few fixed places.
  for fraction in np.linspace(0.02, 0.98, 49):
    raw = bytearray(original)
    start = int(len(raw) * fraction)
    for i in range(16):
      raw[start + i] ^= 0xFF
    data.write_bytes(bytes(raw))
    manager = checkpoint.create_manager(workdir, read_only=True)
    try:
      silent = checkpoint.restore_step(manager, step, abstract)
    except Exception:  # pylint: disable=broad-except
      continue  # Hit a header: Orbax notices; try elsewhere.
    changed = sum(int(np.sum(np.asarray(a) != np.asarray(b)))
                  for a, b in zip(jax.tree.leaves(silent),
                                  jax.tree.leaves(state)))
    if changed:
      return changed
  data.write_bytes(original)
  return 0


def test_bit_flips_in_array_data_are_caught_by_checksums(reference, donor):
  state, _ = reference
  # Orbax alone restores the damaged arrays without complaint...
  assert _silently_flip_bytes(donor, 6, state) > 0
  # ...the checksums do not: 6 is set aside, 3 is resumed, and the run ends
  # where the uninterrupted one did.
  resumed = loop.train_and_evaluate(fault_config(), str(donor))
  assert_same_state(state, resumed)
  aside = list((donor / checkpoint.UNREADABLE).iterdir())
  assert [p.name.split("-")[0] for p in aside] == ["6"]


@pytest.mark.slow
def test_truncated_newest_checkpoint_falls_back(reference, donor):
  for data in _array_files(donor / "checkpoints" / "6"):
    data.write_bytes(data.read_bytes()[:data.stat().st_size // 3])
  resumed = loop.train_and_evaluate(fault_config(), str(donor))
  assert_same_state(reference[0], resumed)
  assert len(list((donor / checkpoint.UNREADABLE).iterdir())) == 1


def test_a_save_killed_midway_is_ignored_and_cleaned_up(reference, donor):
  # What SIGKILL during an (atomic, rename-on-commit) Orbax save leaves: a
  # temporary folder for the next step that never got its commit marker.
  partial = donor / "checkpoints" / "9.orbax-checkpoint-tmp"
  shutil.copytree(donor / "checkpoints" / "6", partial)
  for marker in partial.rglob("commit_success.txt"):
    marker.unlink()
  for data in _array_files(partial):
    data.write_bytes(data.read_bytes()[:data.stat().st_size // 2])
  shutil.rmtree(donor / "checkpoints" / "6")  # Killed before 6 completed.
  resumed = loop.train_and_evaluate(fault_config(), str(donor))
  assert_same_state(reference[0], resumed)
  assert not partial.exists()  # Removed at start-up.
  assert checkpoint_steps(donor) == [3, 6]


def test_a_second_run_on_a_workdir_in_use_is_refused(donor):
  with workdir_lib.lock(donor):
    with pytest.raises(UserError, match=r"in use by another training run "
                       r"\(pid \d+ on .*\) — wait for it"):
      loop.train_and_evaluate(fault_config(), str(donor))
  assert checkpoint_steps(donor) == [3, 6]  # Untouched.


def test_a_changed_architecture_on_resume_is_one_error_and_loses_nothing(
    donor):
  changed = fault_config(8)
  changed.model.channel_max = 8
  with pytest.raises(ConfigError) as info:
    loop.train_and_evaluate(changed, str(donor))
  message = str(info.value)
  assert "model.channel_max: stored 16, now 8" in message
  assert "--config.train.resume=fresh" in message and "\n" not in message
  assert checkpoint_steps(donor) == [3, 6]
  assert not (donor / checkpoint.UNREADABLE).exists()


@pytest.mark.slow
def test_resume_fresh_starts_over_and_keeps_the_old_checkpoints(donor):
  changed = fault_config(8)
  changed.model.channel_max = 8
  changed.train.resume = "fresh"
  state = loop.train_and_evaluate(changed, str(donor))
  assert int(state.step) == 8
  superseded = list((donor / workdir_lib.SUPERSEDED).iterdir())
  assert len(superseded) == 1 and sorted(
      p.name for p in superseded[0].iterdir()) == ["3", "6"]
