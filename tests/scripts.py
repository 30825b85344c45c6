"""Loads the repository's scripts (benchmarks/, experiments/) as modules.

They are files, not package modules, so tests import them by path.
"""

import importlib.util
import pathlib
import types

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load(relpath: str, name: str | None = None) -> types.ModuleType:
  """Executes ROOT/relpath (e.g. 'benchmarks/curves.py') as a fresh module."""
  name = name or pathlib.Path(relpath).stem
  spec = importlib.util.spec_from_file_location(name, ROOT / relpath)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module
