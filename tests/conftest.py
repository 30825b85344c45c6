"""Test set-up shared by every test module.

Four fake CPU devices must be requested before JAX initialises its backend, so
this module sets XLA_FLAGS at import time, before anything imports jax (with
cheaper CPU compilation, see below). It also
turns on the persistent compilation cache (compilation dominates the suite's
time), full float32 matmul precision (the parity tests need it on GPUs), and
gives tests the reference-fixture directory.
"""

import os
import pathlib

# Compiling dominates the suite on a 2-core CPU: LLVM's expensive passes are
# skipped for tests (about 12% less wall time; every test passes as without).
# Turning XLA's backend optimisation level down too saves a third, but
# changes float results by an ulp, which exact-equality tests catch.
# Subprocesses inherit the flags.
_TEST_XLA_FLAGS = ("--xla_force_host_platform_device_count=4",
                   "--xla_llvm_disable_expensive_passes=true")
os.environ.setdefault("XLA_FLAGS", "")
for _flag in _TEST_XLA_FLAGS:
  if _flag.split("=")[0] not in os.environ["XLA_FLAGS"]:
    os.environ["XLA_FLAGS"] += " " + _flag

import jax  # pylint: disable=g-import-not-at-top

ROOT = pathlib.Path(__file__).resolve().parents[1]

jax.config.update("jax_default_matmul_precision", "highest")
jax.config.update(
    "jax_compilation_cache_dir", str(ROOT / ".cache" / "jax_compilation")
)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
jax.config.update("jax_threefry_partitionable", True)
