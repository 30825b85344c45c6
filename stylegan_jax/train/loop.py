"""`train_and_evaluate(config, workdir)`: wiring, periodic work and resume.

Builds, in order: mesh, data iterator, networks, optimizers, the abstract
state and its shardings, the real state (jitted init), the checkpoint
manager (auto-resume), the compiled phase steps and the writer. Then runs
iterations until `total_kimg`: each draws one global batch of reals and runs
the phases `phases_for_step` picks, then the G_ema update. Progress is
counted in images. Checkpoints are written every `checkpoint_kimg`, at the
end, and on SIGTERM/SIGINT (then the process exits 0); the same command
resumes from the newest readable checkpoint.
"""

import dataclasses
import functools
import json
import pathlib
import signal
import time
from typing import Any

from absl import logging
from clu import metric_writers
from clu import parameter_overview
from clu import periodic_actions
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from stylegan_jax import checkpoint
from stylegan_jax import images
from stylegan_jax import sharding
from stylegan_jax.data import pipeline
from stylegan_jax.metrics import swd
from stylegan_jax.train import state as state_lib
from stylegan_jax.train import step as step_lib
from stylegan_jax.train.setup import create_networks
from stylegan_jax.train.setup import create_optimizers
from stylegan_jax.train.setup import create_state
from stylegan_jax.train.setup import step_config


class NonFiniteLossError(RuntimeError):
  """A loss or the state became NaN/inf."""


def data_config(config: ml_collections.ConfigDict,
                workdir: pathlib.Path) -> pipeline.DataConfig:
  d = config.data.to_dict()
  d["tfds_dir"] = d["tfds_dir"] or str(workdir / "tfds")
  fields = {f.name for f in dataclasses.fields(pipeline.DataConfig)}
  return pipeline.DataConfig(**{k: v for k, v in d.items() if k in fields})


def compile_steps(G, D, g_tx, d_tx, scfg, class_probs, state_shardings,
                  mesh):
  """The phase steps, jitted with explicit shardings; the state is donated.

  Latents, labels and noise drawn inside a step are pinned to the batch
  sharding, so each device draws only its own slice.
  """
  batch = sharding.batch_sharding(mesh)
  replicated = sharding.replicated(mesh)
  steps = step_lib.make_phase_steps(
      G, D, g_tx, d_tx, scfg, class_probs,
      constrain_batch=functools.partial(jax.lax.with_sharding_constraint,
                                        shardings=batch))
  compiled = {}
  for name in step_lib.PHASES:
    compiled[name] = jax.jit(
        steps[name], in_shardings=(state_shardings, batch),
        out_shardings=(state_shardings, replicated), donate_argnums=0)
  compiled["ema"] = jax.jit(steps["ema"], in_shardings=(state_shardings,),
                            out_shardings=state_shardings, donate_argnums=0)
  return compiled


class _StopSignal:
  """Records SIGTERM/SIGINT so the loop can save and exit cleanly."""

  def __init__(self):
    self.received = None
    self._previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
      self._previous[sig] = signal.signal(sig, self._handle)

  def _handle(self, signum, frame):
    del frame
    self.received = signal.Signals(signum).name
    logging.warning("received %s: saving a checkpoint, then exiting",
                    self.received)

  def restore(self):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


def _sample_grid_fn(G, config, class_names, mesh):
  """Fixed latents (one row per class when conditional) -> G_ema images."""
  cols = config.train.grid_size
  rows = min(len(class_names), 16) if class_names else cols
  n = rows * cols
  key = jax.random.key(config.train.seed + 1)
  z = jax.random.normal(key, (n, G.z_dim))
  c = step_lib.labels_to_one_hot(np.repeat(np.arange(rows), cols),
                                 G.c_dim) if class_names else np.zeros(
                                     (n, G.c_dim), np.float32)

  @functools.partial(jax.jit, out_shardings=sharding.replicated(mesh))
  def sample(params, buffers):
    return G.apply({"params": params, "buffers": buffers}, z, c,
                   noise_mode="const")

  return lambda state: images.make_grid(
      np.asarray(sample(state.ema_params, state.ema_buffers)), cols)


def _swd_fn(G, config, class_probs, data_cfg, mesh):
  """SWD between G_ema's images and a fixed set of reals, or None if off.

  Every process generates (the jitted generator spans all devices); process
  0 reads its own shard's reals and computes the distance.
  """
  n = config.train.metric_num_images
  if n <= 0:
    return None
  chunk = config.train.batch_size
  n = -(-n // chunk) * chunk
  reals = None
  if jax.process_index() == 0:
    it = pipeline.create_input_iterator(data_cfg, batch_size=chunk)
    reals = np.concatenate([next(it)["image"] for _ in range(n // chunk)])
  rng = np.random.RandomState(config.train.seed + 2)
  z = rng.randn(n // chunk, chunk, G.z_dim).astype(np.float32)
  labels = (rng.choice(len(class_probs), size=n, p=class_probs) if G.c_dim
            else np.zeros(n, np.int32))
  c = step_lib.labels_to_one_hot(labels, G.c_dim).reshape(n // chunk, chunk,
                                                          G.c_dim)

  @functools.partial(jax.jit, out_shardings=sharding.replicated(mesh))
  def generate(params, buffers):
    return jax.lax.map(
        lambda zc: G.apply({"params": params, "buffers": buffers}, *zc,
                           noise_mode="const"), (z, c))

  def compute(state):
    fakes = generate(state.ema_params, state.ema_buffers)
    if reals is None:
      return {}
    fakes = np.asarray(fakes).reshape(reals.shape)
    result = swd.swd(fakes, reals, jax.random.key(config.train.seed + 3))
    return {f"metric/{k}": v for k, v in result.items()}

  return compute


def _is_finite(tree) -> bool:
  return all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(tree))


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str) -> state_lib.TrainState:
  """Trains (or resumes training) into `workdir`; returns the final state."""
  workdir = pathlib.Path(workdir).resolve()
  workdir.mkdir(parents=True, exist_ok=True)
  jax.config.update("jax_threefry_partitionable", True)
  jax.config.update("jax_default_matmul_precision",
                    config.train.matmul_precision)
  is_chief = jax.process_index() == 0

  mesh = sharding.create_mesh(config.mesh.num_devices)
  per_process_batch = sharding.check_batch_size(config.train.batch_size, mesh)
  logging.info("mesh: %s devices (%s per process), %d processes; global "
               "batch %d, %d per process", mesh.devices.size,
               jax.local_device_count(), jax.process_count(),
               config.train.batch_size, per_process_batch)

  # Networks, optimizers and the state (restored if a checkpoint exists).
  data_cfg = data_config(config, workdir)
  probe = pipeline.create_input_iterator(
      data_cfg, batch_size=per_process_batch,
      process_index=jax.process_index(), process_count=jax.process_count())
  class_names = probe.class_names if config.data.conditional else ()
  G, D = create_networks(config, len(class_names))
  g_tx, d_tx = create_optimizers(config)
  abstract, shardings, init = create_state(config, G, D, g_tx, d_tx, mesh)
  manager = checkpoint.create_manager(workdir, config.train.keep_checkpoints)
  restored = checkpoint.restore_latest(manager, abstract)
  if restored is None:
    state = init()
    last_checkpoint = None
    logging.info("starting a new run in %s", workdir)
  else:
    state, last_checkpoint = restored
    logging.info("resumed from checkpoint %d (%.1f kimg) in %s",
                 last_checkpoint, int(state.nimg) / 1000, workdir)
  if is_chief:
    parameter_overview.log_parameter_overview(state.g_params,
                                              msg="G parameters")
    parameter_overview.log_parameter_overview(state.d_params,
                                              msg="D parameters")

  # The input stream continues where the checkpoint left it.
  step = int(state.step)
  data = probe if step == 0 else pipeline.create_input_iterator(
      data_cfg, batch_size=per_process_batch,
      process_index=jax.process_index(), process_count=jax.process_count(),
      start_position=step)
  class_probs = (np.asarray(probe.label_counts, np.float64) if class_names
                 else np.zeros(0))
  class_probs = class_probs / max(class_probs.sum(), 1)
  scfg = step_config(config)
  steps = compile_steps(G, D, g_tx, d_tx, scfg, class_probs, shardings,
                        mesh)

  writer = metric_writers.create_default_writer(
      str(workdir / "logs"), just_logging=not is_chief)
  sample_grid = _sample_grid_fn(G, config, class_names, mesh)
  compute_swd = _swd_fn(G, config, class_probs, data_cfg, mesh)
  # What tools need to rebuild the networks from a checkpoint alone.
  checkpoint_json = {"config": json.loads(config.to_json_best_effort()),
                     "c_dim": G.c_dim, "class_names": list(class_names)}

  def save_checkpoint(state, reason):
    if not _is_finite(state.g_params) or not _is_finite(state.d_params):
      raise NonFiniteLossError(
          f"the state is not finite ({reason}); not saving. Last good "
          f"checkpoint: {last_checkpoint} in {manager.directory}")
    checkpoint.save(manager, int(state.step), state, checkpoint_json)
    logging.info("saved checkpoint %d (%s)", int(state.step), reason)
    return int(state.step)

  def snapshot(state):
    """Sample grid (PNG and TensorBoard) and, when on, SWD."""
    grid = sample_grid(state)
    scores = compute_swd(state) if compute_swd else {}
    if is_chief:
      kimg = int(state.nimg) // 1000
      path = images.save_png(grid, workdir / "samples" /
                             f"fakes{kimg:06d}.png")
      writer.write_images(int(state.nimg), {"samples": grid[None]})
      logging.info("sample grid: %s", path)
      if scores:
        writer.write_scalars(int(state.nimg), scores)

  total_nimg = int(config.train.total_kimg * 1000)
  batch_size = config.train.batch_size

  def every(kimg):
    return max(1, int(round(kimg * 1000 / batch_size)))

  log_every = every(config.train.log_every_kimg)
  snapshot_every = every(config.train.snapshot_kimg)
  ckpt_every = every(config.train.checkpoint_kimg)
  report = periodic_actions.ReportProgress(
      num_train_steps=-(-total_nimg // batch_size), writer=writer,
      every_steps=log_every)
  stop = _StopSignal()
  pending: list[dict[str, Any]] = []
  nimg = int(state.nimg)  # Host copies of the counters: no device syncs.
  tick_time, tick_nimg = time.time(), nimg
  try:
    if step == 0:
      snapshot(state)
    while nimg < total_nimg:
      host_batch = next(data)
      batch = sharding.global_batch({
          "image": host_batch["image"],
          "label": step_lib.labels_to_one_hot(host_batch["label"], G.c_dim),
      }, mesh)
      metrics = {}
      for phase in step_lib.phases_for_step(step, scfg):
        state, phase_metrics = steps[phase](state, batch)
        metrics.update(phase_metrics)
      state = steps["ema"](state)
      step += 1
      nimg += batch_size
      pending.append(metrics)
      report(step)

      if step % log_every == 0 or nimg >= total_nimg:
        host = jax.device_get(pending)
        pending = []
        summary = {}
        for key in sorted({k for m in host for k in m}):
          values = [float(m[key]) for m in host if key in m]
          summary[key] = float(np.mean(values))
        bad = [k for k, v in summary.items() if not np.isfinite(v)]
        if bad:
          raise NonFiniteLossError(
              f"non-finite {bad} at step {step}; the last good checkpoint "
              f"is {last_checkpoint} in {manager.directory}")
        now = time.time()
        seconds = max(now - tick_time, 1e-9)
        summary["progress/kimg"] = nimg / 1000
        summary["timing/sec_per_kimg"] = seconds / max(
            (nimg - tick_nimg) / 1000, 1e-9)
        summary["timing/images_per_sec"] = (nimg - tick_nimg) / seconds
        memory = jax.local_devices()[0].memory_stats() or {}
        if "peak_bytes_in_use" in memory:
          summary["memory/peak_gib"] = memory["peak_bytes_in_use"] / 2**30
        writer.write_scalars(nimg, summary)
        tick_time, tick_nimg = now, nimg

      if step % snapshot_every == 0:
        snapshot(state)
      if step % ckpt_every == 0:
        last_checkpoint = save_checkpoint(state, "periodic")
      if stop.received:
        last_checkpoint = save_checkpoint(state, stop.received)
        writer.flush()
        raise SystemExit(0)

    if last_checkpoint != step:
      last_checkpoint = save_checkpoint(state, "end of training")
    if step % snapshot_every:
      snapshot(state)
  finally:
    stop.restore()
    writer.flush()
    manager.wait_until_finished()
  return state
