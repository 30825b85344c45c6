"""The device mesh, named shardings, and host batches -> global arrays.

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
