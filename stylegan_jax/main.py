"""Entry point: `python -m stylegan_jax.main --config experiments/wikiart.py`.

Flags: `--config` (an ml_collections config file, optionally `file.py:arg`;
single fields overridden with `--config.train.batch_size=64`), `--workdir`
(checkpoints, logs and samples; the same workdir resumes), `--dry_run`
(print the resolved config, the mesh and the parameter counts, then exit),
`--debug` (show tracebacks of user errors). Multi-host jobs call
`jax.distributed.initialize()`: automatically on SLURM/TPU clusters that JAX
detects, or from `--coordinator_address`, `--num_processes` and
`--process_id`.

A user mistake (a misspelt or out-of-range config key, a missing data
folder, a workdir in use) ends with one line on stderr and exit code 2.
"""

# pylint: disable=g-import-not-at-top,wrong-import-position
if __name__ == "__main__":
  # Record SIGTERM/SIGINT before anything heavy is imported, so a signal in
  # the first moments of start-up still ends the run cleanly (exit 0).
  from stylegan_jax.train import preemption
  preemption.install()

import json
import os
import sys
from collections.abc import Sequence

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from stylegan_jax import configs
from stylegan_jax import errors

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", "workdirs/default",
                               "Where checkpoints, logs and samples go.")
_DRY_RUN = flags.DEFINE_bool(
    "dry_run", False, "Print the config, mesh and parameter counts; exit.")
_DEBUG = flags.DEFINE_bool("debug", False,
                           "Show tracebacks for user errors too.")
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "host:port of process 0 (multi-host).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None,
                                      "Processes in a multi-host job.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None,
                                   "This process's index (multi-host).")
_CLUSTER_ENV = ("SLURM_JOB_ID", "TPU_WORKER_HOSTNAMES", "JAX_COORDINATOR_ADDRESS")


def _maybe_initialize_distributed() -> None:
  import jax  # pylint: disable=g-import-not-at-top
  if _COORDINATOR.value is not None:
    jax.distributed.initialize(
        coordinator_address=_COORDINATOR.value,
        num_processes=_NUM_PROCESSES.value, process_id=_PROCESS_ID.value)
  elif any(os.environ.get(v) for v in _CLUSTER_ENV) and int(
      os.environ.get("SLURM_NTASKS", "2")) > 1:
    jax.distributed.initialize()


def dry_run(config) -> None:
  """Prints the resolved config, the mesh and parameter counts."""
  import jax  # pylint: disable=g-import-not-at-top
  from stylegan_jax import sharding  # pylint: disable=g-import-not-at-top
  from stylegan_jax.train import setup  # pylint: disable=g-import-not-at-top
  from stylegan_jax.train import state as state_lib  # pylint: disable=g-import-not-at-top
  print(json.dumps(json.loads(config.to_json_best_effort()), indent=2))
  mesh = sharding.create_mesh(config.mesh.num_devices)
  configs.validate(config, num_devices=mesh.devices.size)
  print(f"mesh: {dict(mesh.shape)} over {mesh.devices.size} "
        f"{jax.devices()[0].platform} devices, {jax.process_count()} "
        "processes")
  c_dim = 1 if config.data.conditional else 0  # Label count is data-defined.
  abstract = setup.build(config, c_dim, mesh).abstract_state
  g = abstract.g_params
  parts = ([("G.mapping", g["mapping"]), ("G.synthesis", g["synthesis"])]
           if "mapping" in g else [("G", g)])  # A baseline's G is one net.
  for name, tree in (*parts, ("D", abstract.d_params)):
    print(f"{name:12s} {state_lib.param_count(tree):>12,d} parameters")


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    errors.fail(f"unexpected arguments {argv[1:]} — flags look like "
                "--config experiments/demo.py --workdir DIR")
  if _CONFIG.value is None:
    errors.fail("--config is required — e.g. --config experiments/demo.py")
  # Keep TensorFlow (input pipeline only) off the accelerators.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

  def run():
    configs.validate(_CONFIG.value)
    _maybe_initialize_distributed()
    import jax  # pylint: disable=g-import-not-at-top
    logging.info("JAX %s: process %d of %d, %d local / %d global devices "
                 "(%s)", jax.__version__, jax.process_index(),
                 jax.process_count(), jax.local_device_count(),
                 jax.device_count(), jax.devices()[0].platform)
    if _DRY_RUN.value:
      dry_run(_CONFIG.value)
      return
    from stylegan_jax.train import loop  # pylint: disable=g-import-not-at-top
    loop.train_and_evaluate(_CONFIG.value, _WORKDIR.value)

  errors.report_user_errors(run, sys.argv)


def run() -> None:
  """The `stylegan-jax-train` console script (same as `python -m ...main`)."""
  from stylegan_jax.train import preemption
  preemption.install()
  app.run(main, flags_parser=configs.parse_flags)


if __name__ == "__main__":
  app.run(main, flags_parser=configs.parse_flags)
