"""benchmarks/op_profile.py: per-op-kind sums from a trace and its HLO."""

import gzip
import json
import pathlib
import sys

import jax
import jax.numpy as jnp
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] /
                       "benchmarks"))
import op_profile  # pylint: disable=g-import-not-at-top,wrong-import-position

HLO = """\
HloModule m
ENTRY %main {
  %convolution.3 = f32[8,16,16,64]{3,2,1,0} convolution(%a, %b), window={size=3x3}, dim_labels=b01f_01io->b01f
  %convolution.7 = f32[8,16,16,64]{3,2,1,0} convolution(%a, %c), window={size=4x4}, feature_group_count=64, metadata={op_name="x"}
  %convolution.9 = f32[3,3,64,64]{3,2,1,0} convolution(%a, %d), window={size=16x16}, batch_group_count=64
  %dot.2 = f32[8,64]{1,0} dot(%e, %f), lhs_contracting_dims={1}
  %multiply_add_fusion.1 = f32[8,64]{1,0} fusion(%g), kind=kLoop
  ROOT %copy.5 = f32[8,64]{1,0} copy(%h)
}
"""


def _write_trace(folder: pathlib.Path, events) -> None:
  folder.mkdir(parents=True)
  with gzip.open(folder / "perfetto_trace.json.gz", "wt") as f:
    json.dump({"traceEvents": events}, f)


def test_summarize_sums_per_kind_per_call(tmp_path):
  x = lambda name, us, **kw: dict(ph="X", name=name, dur=us, **kw)
  _write_trace(tmp_path / "t" / "plugins", [
      x("convolution.3", 4000), x("convolution.3", 2000),
      x("convolution.7", 1000), x("convolution.9", 3000),
      x("dot.2", 500), x("multiply_add_fusion.1", 250),
      x("copy.5", 100),
      # A GPU kernel naming its HLO op; host events that are no op.
      x("sm90_xmma_kernel", 600, args={"hlo_op": "dot.2"}),
      x("ThunkExecutor::Execute", 99999), x("$python_fn", 77777),
      dict(ph="i", name="convolution.3", dur=5000),
  ])
  s = op_profile.summarize(tmp_path / "t", HLO, calls=2, top=3)
  assert s["by_kind"] == pytest.approx({
      "conv": 3.0, "conv-batch-group": 1.5, "conv-grouped": 0.5,
      "dot": 0.55, "fusion:multiply_add_fusion": 0.125, "copy": 0.05})
  assert list(s["by_kind"])[0] == "conv"  # Slowest first.
  assert s["ms_per_call"] == pytest.approx(5.725)
  assert [op["op"] for op in s["top_ops"]] == [
      "convolution.3", "convolution.9", "dot.2"]
  assert "metadata" not in s["top_ops"][0]["hlo"]
  table = op_profile.format_table({"g_main": s}, kinds=2)
  assert "| g_main | 5.7 | conv 3.0, conv-batch-group 1.5 |" in table


def test_missing_trace_is_an_error(tmp_path):
  with pytest.raises(FileNotFoundError, match="perfetto_trace"):
    op_profile.summarize(tmp_path, HLO, calls=1)


def test_profile_traces_a_real_program(tmp_path):
  f = jax.jit(lambda a, b: jnp.tanh(a @ b))
  a = jnp.ones((64, 64))
  compiled = f.lower(a, a).compile()
  s = op_profile.profile(lambda: compiled(a, a), compiled, tmp_path / "p",
                         calls=3)
  assert s["ms_per_call"] > 0
  assert "dot" in s["by_kind"] or any("fusion" in k for k in s["by_kind"])
