"""Shared runs for the fault tests: an uninterrupted reference, and a donor
workdir (checkpoints at steps 3 and 6) that tests copy and then damage."""

import shutil

import pytest

from stylegan_jax.train import loop
from tests.faults.common import fault_config


@pytest.fixture(scope="package")
def reference(tmp_path_factory):
  """The final state of an uninterrupted run, and its workdir."""
  workdir = tmp_path_factory.mktemp("reference")
  return loop.train_and_evaluate(fault_config(), str(workdir)), workdir


@pytest.fixture
def donor(reference, tmp_path):
  """A copy of the reference workdir (checkpoints 3 and 6) to damage."""
  _, workdir = reference
  copy = tmp_path / "workdir"
  shutil.copytree(workdir, copy)
  (copy / ".lock").unlink(missing_ok=True)
  return copy
