"""The device mesh, named shardings, and host batches -> global arrays.

Data parallel: a one-axis mesh named `data` over every device of every
process, the state replicated, the batch split along `data`. The mesh's axis
type is set to Auto on purpose: with JAX's newer default (Explicit) the fused
modulated conv cannot trace on a batch-sharded input.
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
