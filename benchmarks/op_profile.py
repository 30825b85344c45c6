"""Per-op time of compiled programs, from a `jax.profiler` trace.

Owns the profile that `train_throughput.py --profile_dir` writes: it traces
a few calls of one compiled program, reads the Perfetto trace JAX writes,
matches each traced op to its line in the program's optimised HLO and sums
the time per kind of op:

  conv              a plain convolution
  conv-grouped      a convolution with feature groups (depthwise FIR
                    filters, the fused modulated conv)
  conv-batch-group  a kernel gradient XLA lowers with batch groups
  dot               a matrix product
  fusion:<kind>     a fused elementwise/reduce kernel, by XLA's name
  <op>              anything else, by its HLO opcode

On CPU the trace's events are the HLO ops themselves; GPU kernel events
name their HLO op in `args.hlo_op`. Events that match no HLO instruction
(host work, Python) are not counted.
"""

import collections
import gzip
import json
import pathlib
import re
from collections.abc import Callable
from typing import Any

import jax

_HLO_LINE = re.compile(r"\s*(?:ROOT )?%?([\w.\-]+) = (.*)")


def _hlo_lines(hlo_text: str) -> dict[str, str]:
  """{instruction name: the rest of its HLO line}."""
  lines = {}
  for line in hlo_text.splitlines():
    match = _HLO_LINE.match(line)
    if match:
      lines.setdefault(match.group(1), match.group(2))
  return lines


def op_kind(name: str, line: str) -> str:
  """The category of one traced op (see the module docstring)."""
  if "convolution(" in line:
    if "feature_group_count=" in line:
      return "conv-grouped"
    if "batch_group_count=" in line:
      return "conv-batch-group"
    return "conv"
  if name.startswith(("dot", "wrapped_dot")) or " dot(" in line:
    return "dot"
  base = re.sub(r"[.\d]+$", "", name)
  return f"fusion:{base}" if "fusion" in name else base


def _read_trace(trace_dir: pathlib.Path) -> list[dict[str, Any]]:
  files = sorted(trace_dir.glob("**/perfetto_trace.json.gz"))
  if not files:
    raise FileNotFoundError(f"no perfetto_trace.json.gz under {trace_dir}")
  with gzip.open(files[-1]) as f:
    trace = json.load(f)
  return trace["traceEvents"] if isinstance(trace, dict) else trace


def summarize(trace_dir: pathlib.Path, hlo_text: str, calls: int,
              top: int = 10) -> dict[str, Any]:
  """Milliseconds per call by op kind, and the `top` slowest ops.

  Args:
    trace_dir: where `jax.profiler.trace` wrote the trace.
    hlo_text: the compiled program's optimised HLO (`compiled.as_text()`).
    calls: how many calls the trace holds.
    top: how many single ops to list.

  Returns:
    {"ms_per_call": total, "by_kind": {kind: ms}, "top_ops": [{"op", "kind",
    "ms", "hlo"}]}, kinds and ops slowest first.
  """
  lines = _hlo_lines(hlo_text)
  per_op = collections.Counter()
  for event in _read_trace(trace_dir):
    name = (event.get("args") or {}).get("hlo_op") or event.get("name", "")
    if event.get("ph") != "X" or name not in lines:
      continue
    per_op[name] += event.get("dur", 0) / 1000 / calls  # us -> ms per call
  kinds = {name: op_kind(name, lines[name]) for name in per_op}
  by_kind = collections.Counter()
  for name, ms in per_op.items():
    by_kind[kinds[name]] += ms
  return {
      "ms_per_call": sum(per_op.values()),
      "by_kind": dict(by_kind.most_common()),
      "top_ops": [{"op": name, "kind": kinds[name], "ms": ms,
                   "hlo": re.sub(r", metadata=.*", "", lines[name])[:200]}
                  for name, ms in per_op.most_common(top)],
  }


def profile(fn: Callable[[], Any], compiled, trace_dir: pathlib.Path,
            calls: int = 5) -> dict[str, Any]:
  """Traces `calls` waited-on calls of `fn` and summarises them.

  Args:
    fn: runs the compiled program once (its result is waited on).
    compiled: the program's `jax.stages.Compiled` (for its HLO).
    trace_dir: a fresh folder for the trace.
    calls: calls to trace.
  """
  with jax.profiler.trace(str(trace_dir), create_perfetto_trace=True):
    for _ in range(calls):
      jax.block_until_ready(fn())
  return summarize(trace_dir, compiled.as_text(), calls)


def format_table(phases: dict[str, dict[str, Any]], kinds: int = 6) -> str:
  """A Markdown table: per phase, ms per call and its largest op kinds."""
  rows = ["| phase | ms/call (traced) | largest op kinds (ms/call) |",
          "| --- | --- | --- |"]
  for name, summary in phases.items():
    top = ", ".join(f"{k} {v:.1f}" for k, v in
                    list(summary["by_kind"].items())[:kinds])
    rows.append(f"| {name} | {summary['ms_per_call']:.1f} | {top} |")
  return "\n".join(rows)
