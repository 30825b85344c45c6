"""The device mesh, named shardings, host batches -> global arrays, and a
barrier between processes.

Data parallel: a one-axis mesh named `data` over every device of every
process, the state replicated, the batch split along `data`.

What each mesh axis type supports here (JAX 0.10-0.12):

* Auto (what `create_mesh` makes): XLA's partitioner chooses every
  intermediate's sharding. The non-fused modulated conv needs nothing more.
  The fused one folds the batch into feature groups, which the partitioner
  mishandles on a split batch (compile errors such as "output feature
  dimension ... divisible by feature_group_count" on the 1x1 toRGB convs);
  `ops.modconv` therefore runs it per device under `jax.shard_map` over
  `data`, which it can do only when the mesh is in context while tracing:
  `with jax.set_mesh(mesh):` around the first call or `.lower()` of a
  jitted step (or `jax.sharding.use_abstract_mesh(mesh.abstract_mesh)`
  inside the traced function). Batches that `data` does not divide fall
  back to the exact non-fused form.
* Explicit (JAX's newer default for `jax.make_mesh`): shardings are part of
  the array types, so nothing is left to the partitioner's guesses. The
  fused conv reads the batch's sharding from its type and maps over those
  axes; a replicated batch runs whole on each device. G and D forward and
  backward passes (R1 and path length included) match one device, but
  G's activations start from the broadcast `const`, which is replicated, so
  G is not split unless constrained; the training steps are written for
  Auto.
* Manual (inside `jax.shard_map` over `data`): every array is this device's
  slice; the fused conv runs as on one device. Batch-coupled operations
  (minibatch stddev groups, loss means) then see only the local batch.

With no mesh in context the fused conv is unchanged, bit for bit.
"""

import itertools

import jax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

DATA_AXIS = "data"


def create_mesh(num_devices: int = -1) -> jax.sharding.Mesh:
  """A 1-D `data` mesh over the first `num_devices` devices (-1: all)."""
  devices = jax.devices()
  if num_devices > 0:
    if num_devices > len(devices):
      raise ValueError(f"asked for {num_devices} devices, only "
                       f"{len(devices)} are visible")
    devices = devices[:num_devices]
  return jax.make_mesh((len(devices),), (DATA_AXIS,),
                       axis_types=(jax.sharding.AxisType.Auto,),
                       devices=devices)


def replicated(mesh: jax.sharding.Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: jax.sharding.Mesh) -> NamedSharding:
  """Leading (batch) axis split over `data`."""
  return NamedSharding(mesh, P(DATA_AXIS))


def check_batch_size(global_batch: int, mesh: jax.sharding.Mesh) -> int:
  """Returns the per-process batch; fails clearly if it does not divide."""
  n = mesh.devices.size
  if global_batch % n:
    raise ValueError(
        f"train.batch_size={global_batch} is not divisible by the {n} "
        f"devices of the mesh; use a multiple of {n} (e.g. "
        f"--config.train.batch_size={max(n, global_batch // n * n)})")
  return global_batch // jax.process_count()


def global_batch(batch: dict[str, np.ndarray],
                 mesh: jax.sharding.Mesh) -> dict[str, jax.Array]:
  """This process's slice of the batch -> global arrays sharded on `data`."""
  sharding = batch_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, v)
          for k, v in batch.items()}


# How long `wait_for_processes` waits for the slowest process: a cold compile
# of a large model on a busy host can take many minutes. (A process that
# fails ends the job sooner: JAX's shutdown barrier on exit times out.)
BARRIER_TIMEOUT_S = 1800


# Barrier ids must be unique; every process counts its barriers alike.
_barrier_numbers = itertools.count(1)


def wait_for_processes(name: str) -> None:
  """Blocks until every process has reached this point (no-op with one).

  A barrier of the `jax.distributed` coordination service, not a device
  collective. Call it where processes may have drifted apart before a
  collective: on CPU, Gloo gives a process only 30 s to connect to its peers
  at the first collective over a set of devices, while the other process
  may still be importing, reading its data or compiling what the first one
  found in the compilation cache ("Gloo context initialization failed").
  Every process must call it with the same names in the same order.
  """
  if jax.process_count() == 1:
    return
  from jax._src import distributed  # pylint: disable=g-import-not-at-top
  distributed.global_state.client.wait_at_barrier(
      f"stylegan_jax/{next(_barrier_numbers)}/{name}",
      BARRIER_TIMEOUT_S * 1000)
