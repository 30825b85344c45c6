"""Locating the official golden fixtures (`../shared/reference/`).

A user's clone has no `../shared`: tests that need it then skip, saying why.
Under CI (`CI=true`) a missing fixture directory is a failure instead.
"""

import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def reference_dir() -> pathlib.Path:
  """The fixture directory: `$STYLEGAN_JAX_REFERENCE_DIR` or ../shared/reference."""
  env = os.environ.get("STYLEGAN_JAX_REFERENCE_DIR")
  if env:
    return pathlib.Path(env)
  return ROOT.parent / "shared" / "reference"


def require(path: pathlib.Path | None = None) -> pathlib.Path:
  """Returns `path` (default: the fixture directory) or skips/fails without it."""
  path = reference_dir() if path is None else path
  if path.exists():
    return path
  message = (
      f"reference fixture {path} not found: the golden files ship beside the "
      "repository in ../shared/reference (or set STYLEGAN_JAX_REFERENCE_DIR)"
  )
  if os.environ.get("CI", "").lower() == "true":
    pytest.fail(message + "; CI=true, so a missing fixture is a failure")
  pytest.skip(message)
