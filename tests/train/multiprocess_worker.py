"""One process of a two-process CPU training run (see test_multiprocess.py).

Usage: python tests/train/multiprocess_worker.py PROCESS_ID NUM_PROCESSES
PORT WORKDIR STEPS OUT.npz [LATE_S]

The caller sets XLA_FLAGS (fake CPU devices) and JAX_PLATFORMS=cpu. Trains
the tiny config of test_loop.py into WORKDIR (shared by all processes), then
saves every leaf of the final G and D params to OUT.npz. With LATE_S, every
process but the first waits that many seconds after joining the job before
it starts training (a slow host).
"""

import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from absl import logging  # pylint: disable=g-import-not-at-top
import jax  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top


def main(argv):
  logging.set_verbosity(logging.INFO)  # The tests read the metrics lines.
  process_id, num_processes, port = (int(a) for a in argv[1:4])
  workdir, steps, out = argv[4], int(argv[5]), argv[6]
  late_s = float(argv[7]) if len(argv) > 7 else 0.0
  jax.config.update("jax_compilation_cache_dir",
                    str(ROOT / ".cache" / "jax_compilation"))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(coordinator_address=f"localhost:{port}",
                             num_processes=num_processes,
                             process_id=process_id)
  assert jax.process_count() == num_processes, jax.process_count()
  if process_id:
    time.sleep(late_s)

  from stylegan_jax.train import loop  # pylint: disable=g-import-not-at-top
  # pylint: disable-next=g-import-not-at-top
  from tests.train.test_loop import tiny_config

  state = loop.train_and_evaluate(tiny_config(steps), workdir)
  params = {"g": state.g_params, "d": state.d_params}
  flat, _ = jax.tree_util.tree_flatten_with_path(params)
  arrays = {jax.tree_util.keystr(path): np.asarray(jax.device_get(x))
            for path, x in flat}
  np.savez(out, step=np.int64(int(state.step)), **arrays)
  jax.distributed.shutdown()


if __name__ == "__main__":
  main(sys.argv)
