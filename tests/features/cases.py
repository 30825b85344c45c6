"""Finds the feature-network fixture pairs for parametrised parity tests.

Each `<prefix>_<tag>_expected.npz` in the reference directory is paired with
every `<prefix>_<tag>_*.pth.xz` beside it (a directory may hold one format
or several). Without fixtures there is one `missing` case, which the test
turns into a skip with a reason (a failure under CI) via `require`.
"""

import pathlib

import pytest

from tests import reference

_EXPECTED = "_expected.npz"


def fixture_cases(prefix: str) -> list:
  """pytest params of (expected npz, weights file) pairs, ids '<tag>-<fmt>'.

  A tag with no weights file gets a case with weights None (the test fails:
  the fixture directory is incomplete).
  """
  root = reference.reference_dir()
  cases = []
  for expected in sorted(root.glob(f"{prefix}_*{_EXPECTED}")):
    tag = expected.name[len(prefix) + 1:-len(_EXPECTED)]
    weights = {}
    for path in sorted(root.glob(f"{prefix}_{tag}_*.pth.xz")):
      fmt = path.name[len(f"{prefix}_{tag}_"):-len(".pth.xz")]
      if "_" not in fmt:  # else it belongs to a longer tag
        weights[fmt] = path
    for fmt, path in weights.items():
      cases.append(pytest.param((expected, path), id=f"{tag}-{fmt}"))
    if not weights:
      cases.append(pytest.param((expected, None), id=f"{tag}-noweights"))
  return cases or [pytest.param((root / f"{prefix}_*{_EXPECTED}", None),
                                id="missing")]


def require_case(case) -> tuple[pathlib.Path, pathlib.Path]:
  """The pair, skipping (failing under CI) when fixtures are absent."""
  expected, weights = case
  reference.require(expected)
  if weights is None:
    pytest.fail(f"{expected} has no weights file beside it "
                f"({expected.name.replace('_expected.npz', '_*.pth.xz')})")
  return expected, weights
