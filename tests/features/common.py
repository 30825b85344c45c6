"""Shared by the feature-network tests: fixture pairs and hand-made weights.

`fixture_cases`: each `<prefix>_<tag>_expected.npz` in the reference
directory is paired with every `<prefix>_<tag>_*.pth.xz` beside it (a
directory may hold one format or several). Without fixtures there is one
`missing` case, which the test turns into a skip with a reason (a failure
under CI) via `require`. `random_vgg16_state_dict`: hand-made weights.
"""

import pathlib

import numpy as np
import pytest

from stylegan_jax.features import vgg
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


def random_vgg16_state_dict(rng: np.random.Generator,
                            fc_dims: tuple[int, int] | None = None) -> dict:
  """He-initialised torchvision-layout VGG16 state dict.

  Args:
    rng: the generator.
    fc_dims: (d1, d2) to add classifier.0 [d1, 25088] and classifier.3
      [d2, d1] (torchvision's are 4096 wide; small ones keep tests light).
  """
  required, _ = vgg.torch_shapes(16)
  sd = {}
  for k, shape in required.items():
    if k.endswith(".weight"):
      fan_in = np.prod(shape[1:])
      sd[k] = rng.normal(0, np.sqrt(2 / fan_in), shape).astype(np.float32)
    else:
      sd[k] = rng.normal(0, 0.1, shape).astype(np.float32)
  if fc_dims:
    d1, d2 = fc_dims
    sd["classifier.0.weight"] = rng.normal(
        0, np.sqrt(2 / 25088), (d1, 25088)).astype(np.float32)
    sd["classifier.0.bias"] = rng.normal(0, 0.1, d1).astype(np.float32)
    sd["classifier.3.weight"] = rng.normal(
        0, np.sqrt(2 / d1), (d2, d1)).astype(np.float32)
    sd["classifier.3.bias"] = rng.normal(0, 0.1, d2).astype(np.float32)
  return sd
