"""Tiny saved models shared by the generator tools' tests."""

import pytest

from stylegan_jax import model_io
from tests.tools import make_model


@pytest.fixture(scope="package")
def uncond():
  return make_model(c_dim=0)


@pytest.fixture(scope="package")
def cond():
  return make_model(c_dim=3)


@pytest.fixture(scope="package")
def uncond_path(uncond, tmp_path_factory):
  return model_io.save_model(tmp_path_factory.mktemp("m") / "u.npz", uncond)
