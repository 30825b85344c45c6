"""The README's functional-API example runs and produces what it says."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_api_example_runs():
  text = README.read_text()
  block = re.search(r"<!-- README-API.*?-->\n```python\n(.*?)```", text,
                    re.S).group(1)
  namespace = {}
  exec(compile(block, str(README), "exec"), namespace)  # pylint: disable=exec-used
  assert namespace["ws"].shape == (4, 8, 64)
  assert namespace["img"].shape == (4, 32, 32, 3)
  assert namespace["mixed"].shape == (4, 32, 32, 3)
  assert namespace["logits"].shape == (4, 1)
  # Mixing replaced the fine styles only: the images differ.
  assert float(abs(namespace["mixed"] - namespace["img"]).max()) > 1e-3
