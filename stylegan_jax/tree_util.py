"""Naming pytree leaves by path, and flat {name: array} <-> nested dicts.

Leaves are named by their key path joined with '/', e.g.
`synthesis/b8/conv0/weight` (the layout exports, checkpoints' metadata and
the parameter rules use).
"""

from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np


def path_name(path: tuple[Any, ...]) -> str:
  """A jax key path -> 'a/b/c' (dict keys, attribute names, indices)."""
  parts = []
  for k in path:
    for attr in ("key", "name", "idx"):
      if hasattr(k, attr):
        parts.append(str(getattr(k, attr)))
        break
    else:
      parts.append(str(k))
  return "/".join(parts)


def map_with_names(fn: Callable[[str, Any], Any], tree: Any) -> Any:
  """tree_map where fn also gets each leaf's 'a/b/c' name."""
  return jax.tree_util.tree_map_with_path(
      lambda path, leaf: fn(path_name(path), leaf), tree)


def flatten(tree: Any, prefix: str = "") -> dict[str, np.ndarray]:
  """Nested tree -> {'<prefix>/a/b': np.ndarray} (no prefix: 'a/b')."""
  out = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    name = path_name(path)
    out[f"{prefix}/{name}" if prefix else name] = np.asarray(leaf)
  return out


def unflatten(flat: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
  """{'<prefix>/a/b': x} -> nested dicts; keys without the prefix are skipped."""
  out: dict[str, Any] = {}
  start = f"{prefix}/" if prefix else ""
  for key, value in flat.items():
    if not key.startswith(start):
      continue
    node = out
    *parents, leaf = key[len(start):].split("/")
    for p in parents:
      node = node.setdefault(p, {})
    node[leaf] = value
  return out
