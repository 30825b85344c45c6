"""`train_and_evaluate(config, workdir)`: the training run, resumable and safe.

In order: validate the config, lock the workdir, open the data, build
everything with `setup.build`, restore the newest verified checkpoint (after
checking that the config still fits it), compile the steps, then run
iterations until `total_kimg` (or `total_epochs`): each draws one global
batch of reals and runs `Setup.run_iteration` (the phases, then G_ema and
the counters). Progress is counted in images.

With `train.resume_from`, a workdir without checkpoints starts from the
networks it names (fine-tuning, `train.transfer`). With augmentation on,
each snapshot also writes `samples/augmented<nimg>.png` (a row of fixed
reals over a row of what D sees of them at the current p).

Nothing is lost: checkpoints are written every `checkpoint_kimg`, at the end,
and on SIGTERM/SIGINT at any moment (start-up, compiling, stepping,
snapshotting, saving), after which the process exits 0; saves are idempotent
per step and asynchronous, and the end waits for them. The same command
resumes bit-identically. Timings in the log count training only (snapshots,
metrics and checkpoints are excluded).
"""

import contextlib
import functools
import json
import pathlib
import threading
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
from stylegan_jax import configs
from stylegan_jax import evaluators
from stylegan_jax import images
from stylegan_jax import labels as labels_lib
from stylegan_jax import sharding
from stylegan_jax.data import pipeline
from stylegan_jax.errors import ConfigError
from stylegan_jax.nets import create_networks
from stylegan_jax.train import augmentation
from stylegan_jax.train import preemption
from stylegan_jax.train import setup as setup_lib
from stylegan_jax.train import state as state_lib
from stylegan_jax.train import step as step_lib
from stylegan_jax.train import transfer
from stylegan_jax.train import workdir as workdir_lib


class NonFiniteLossError(RuntimeError):
  """A loss or the state became NaN/inf."""


class _Stop(Exception):
  """Raised at a safe point after a stop signal; the run exits 0."""


def _check_stop(where: str) -> None:
  """Raises _Stop when any process was asked to stop (a collective if >1)."""
  name = preemption.agreed()
  if name:
    logging.warning("stopping (%s) %s", name, where)
    raise _Stop


def _is_finite(tree) -> bool:
  return all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(tree))


def data_config(config: ml_collections.ConfigDict,
                workdir: pathlib.Path) -> pipeline.DataConfig:
  """The `data` section as a DataConfig (prepared TFDS files in the workdir)."""
  return pipeline.DataConfig.from_config(
      config.data, default_tfds_dir=str(workdir / "tfds"))


def train_and_evaluate(
    config: ml_collections.ConfigDict, workdir: str, *,
    extra_g_loss: step_lib.LossHook | None = None,
    extra_d_loss: step_lib.LossHook | None = None,
) -> state_lib.TrainState:
  """Trains (or resumes training) into `workdir`.

  Args:
    config: the experiment config (validated here).
    workdir: checkpoints, logs and samples go here.
    extra_g_loss, extra_d_loss: optional terms added to G's / D's main loss
      (see `step.StyleGAN2Step`).

  Returns:
    The final state. After a stop signal it raises SystemExit(0) once the
    latest state is saved.
  """
  workdir = pathlib.Path(workdir).resolve()
  preemption.install()
  try:
    try:
      mesh = sharding.create_mesh(config.mesh.num_devices)
    except ValueError as e:
      raise ConfigError(f"mesh.num_devices: {e} — use -1 for every "
                        "device") from None
    configs.validate(config, num_devices=mesh.devices.size)
    workdir.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_threefry_partitionable", True)
    jax.config.update("jax_default_matmul_precision",
                      config.train.matmul_precision)
    lock = (workdir_lib.lock(workdir) if jax.process_index() == 0
            else contextlib.nullcontext())
    with lock:
      run = _Run(config, workdir, mesh, dict(extra_g_loss=extra_g_loss,
                                             extra_d_loss=extra_d_loss))
      try:
        return run.train()
      finally:
        run.close()
  except _Stop:
    raise SystemExit(0) from None
  finally:
    preemption.uninstall()


class _Run:
  """One training run: its set-up, state, checkpoints and periodic work."""

  def __init__(self, config, workdir, mesh, hooks):
    # Fine-tuning: the network settings come from train.resume_from.
    config, self.source = transfer.resolve_config(
        config, workdir, explicit=transfer.command_line_overrides())
    if config.train.resume_from:
      configs.validate(config, num_devices=mesh.devices.size)
    self.config, self.workdir, self.mesh = config, workdir, mesh
    self.hooks = hooks
    self.is_chief = jax.process_index() == 0
    self.manager = None
    self.writer = None
    self.state = None
    self.last_checkpoint = None
    batch_size = config.train.batch_size
    self.per_process_batch = sharding.check_batch_size(batch_size, mesh)
    logging.info("mesh: %s devices (%s per process), %d processes; global "
                 "batch %d, %d per process", mesh.devices.size,
                 jax.local_device_count(), jax.process_count(), batch_size,
                 self.per_process_batch)

    # The data defines the labels; networks and state follow from them.
    self.data_cfg = data_config(config, workdir)
    self.data = pipeline.create_input_iterator(
        self.data_cfg, batch_size=self.per_process_batch,
        process_index=jax.process_index(),
        process_count=jax.process_count())
    self.class_names = (self.data.class_names if config.data.conditional
                        else ())
    c_dim = len(self.class_names)
    transfer.check_labels(self.source, c_dim)
    self.class_probs = labels_lib.class_probs(self.data.label_counts, c_dim)
    sharding.wait_for_processes("opened the data")  # Before any collective.
    _check_stop("after opening the data")
    self.setup = setup_lib.build(config, c_dim, mesh,
                                 class_probs=self.class_probs,
                                 stage=setup_lib.stage_at(config, 0),
                                 **hooks)
    # What tools need to rebuild the networks from a checkpoint alone (and
    # the metrics tool to draw labels as training does).
    self.meta = {"config": json.loads(config.to_json_best_effort()),
                 "c_dim": c_dim, "class_names": list(self.class_names),
                 "class_probs": [float(p) for p in self.class_probs]}
    # The metrics of every snapshot; missing weights fail here, not later.
    # They are checked against G at the final resolution (a progressive
    # run's first stages are smaller; `snapshot` skips the metrics there).
    final_G = (self.setup.G
               if self.setup.G.img_resolution == config.data.resolution
               else create_networks(config, c_dim)[0])
    self.evaluation = evaluators.from_config(
        config, mesh=mesh, class_probs=self.class_probs, G=final_G,
        log=logging.info)
    self._restore()
    _check_stop("after restoring")

  # ------------------------------------------------------------- state --

  def _restore(self) -> None:
    config = self.config
    self.manager = checkpoint.create_manager(self.workdir,
                                             config.train.keep_checkpoints)
    existing = checkpoint.steps(self.manager)
    if existing and config.train.resume == "fresh":
      if self.is_chief:
        aside = workdir_lib.supersede(self.workdir)
        logging.warning("train.resume=fresh: moved the existing checkpoints "
                        "to %s", aside)
      self.manager = checkpoint.create_manager(
          self.workdir, config.train.keep_checkpoints)

    def check_config(meta, step):
      workdir_lib.check_resume(meta, step, config, self.setup.G.c_dim,
                               self.class_names)

    restored = checkpoint.restore_latest(self.manager,
                                         self.setup.abstract_state,
                                         check_config)
    if restored is None:
      self.state = self.setup.init()
      logging.info("starting a new run in %s", self.workdir)
      if self.source is not None:
        self.state = transfer.initialise(
            self.state, self.source, self.setup.state_shardings,
            use_augment_p=config.augment.mode == "ada")
        logging.info("G, D and G_ema start from %s", self.source.spec)
    else:
      self.state, self.last_checkpoint = restored
      logging.info("resumed from checkpoint %d (%.1f kimg) in %s",
                   self.last_checkpoint, int(self.state.nimg) / 1000,
                   self.workdir)
    self.source = None  # Its arrays are in the state now.

  def save(self, reason: str) -> None:
    """Checkpoints the current state unless this step is saved already."""
    step = int(self.state.step)
    if self.last_checkpoint == step:
      return
    if not (_is_finite(self.state.g_params)
            and _is_finite(self.state.d_params)):
      raise NonFiniteLossError(
          f"the state is not finite ({reason}); not saving. Last good "
          f"checkpoint: {self.last_checkpoint} in {self.manager.directory}")
    if checkpoint.save(self.manager, step, self.state, self.meta):
      logging.info("saving checkpoint %d (%s)", step, reason)
    self.last_checkpoint = step

  def close(self) -> None:
    if self.writer is not None:
      self.writer.flush()
    if self.manager is not None:
      self.manager.wait_until_finished()

  # -------------------------------------------------------------- loop --

  def _compile(self) -> None:
    """Compiles every step ahead of time, in a thread a signal can cut.

    A stop during compilation ends the run at once: nothing was trained
    since the state was created or restored. (With several processes the
    stop must be agreed at a step boundary, so they compile in the main
    thread.)
    """
    start = time.perf_counter()
    if jax.process_count() > 1:
      self.setup = self.setup.compiled()
      # One process may have loaded from the compilation cache what another
      # compiled; the steps' collectives need both.
      sharding.wait_for_processes("compiled the steps")
      logging.info("compiled the training steps in %.1f s",
                   time.perf_counter() - start)
      return
    result: dict[str, Any] = {}

    def work():
      try:
        result["setup"] = self.setup.compiled()
      except BaseException as e:  # pylint: disable=broad-except
        result["error"] = e

    thread = threading.Thread(target=work, name="compile", daemon=True)
    thread.start()
    while thread.is_alive():
      thread.join(0.2)
      _check_stop("while compiling")
    if "error" in result:
      raise result["error"]
    self.setup = result["setup"]
    logging.info("compiled the training steps in %.1f s",
                 time.perf_counter() - start)

  def _enter_stage(self, nimg: int) -> None:
    """(Re)builds and compiles the steps and the data for the stage at nimg.

    Most algorithms have one stage for the whole run; progressive growing
    changes resolution and batch size between stages. The state carries
    over unchanged, and the data continue at example nimg.
    """
    stage = setup_lib.stage_at(self.config, nimg)
    if self.setup.stage != stage:
      logging.info("entering stage %s at %.1f kimg", stage, nimg / 1000)
      self.setup = setup_lib.build(self.config, self.setup.G.c_dim, self.mesh,
                                   class_probs=self.class_probs, stage=stage,
                                   **self.hooks)
    per_process = self.setup.algorithm.batch_size // jax.process_count()
    if self.data.position != nimg // jax.process_count() or (
        self.data.batch_size != per_process):
      self.data = pipeline.create_input_iterator(
          self.data_cfg, batch_size=per_process,
          process_index=jax.process_index(),
          process_count=jax.process_count(),
          start_example=nimg // jax.process_count())
    self._compile()

  def train(self) -> state_lib.TrainState:
    config = self.config
    if self.is_chief:
      parameter_overview.log_parameter_overview(self.state.g_params,
                                                msg="G parameters")
      parameter_overview.log_parameter_overview(self.state.d_params,
                                                msg="D parameters")
    self.writer = metric_writers.create_default_writer(
        str(self.workdir / "logs"), just_logging=not self.is_chief)
    step = int(self.state.step)
    nimg = int(self.state.nimg)  # Host copies of the counters: no syncs.
    # train.total_epochs, when set, wins over total_kimg.
    dataset_size = self.data.num_examples * jax.process_count()
    total_nimg = configs.total_nimg(config.train, dataset_size)
    if config.train.total_epochs is not None:
      logging.info("train.total_epochs=%g over %d images: %.3f kimg "
                   "(train.total_kimg is not used)",
                   config.train.total_epochs, dataset_size, total_nimg / 1000)
    log_nimg, snapshot_nimg, ckpt_nimg = (
        max(1, int(kimg * 1000)) for kimg in (
            config.train.log_every_kimg, config.train.snapshot_kimg,
            config.train.checkpoint_kimg))
    report = periodic_actions.ReportProgress(
        num_train_steps=-(-total_nimg // config.train.batch_size),
        writer=self.writer,
        every_steps=max(1, log_nimg // config.train.batch_size))
    pending: list[dict[str, Any]] = []
    train_seconds, tick_nimg = 0.0, nimg
    grids = {}

    last_snapshot_nimg = None

    def snapshot():
      """Sample grid (PNG and TensorBoard) and the configured metrics."""
      nonlocal last_snapshot_nimg
      last_snapshot_nimg = nimg
      if self.setup.stage not in grids:
        grids[self.setup.stage] = (
            _sample_grid_fn(self.setup, self.class_names),
            _augmented_reals_fn(self.setup, self.data_cfg))
      sample_grid, augmented_reals = grids[self.setup.stage]
      grid = sample_grid(self.state)
      if self.setup.G.img_resolution < self.config.data.resolution:
        # A progressive run's early stage: the metrics compare the final
        # resolution's images, which G does not make yet.
        logging.info("metrics skipped at the %dx%d stage (they start at "
                     "%dx%d)", self.setup.G.img_resolution,
                     self.setup.G.img_resolution, self.config.data.resolution,
                     self.config.data.resolution)
        results = []
      else:
        results = self.evaluation(self.setup.G,
                                  {"params": self.state.ema_params,
                                   "buffers": self.state.ema_buffers})
      if self.is_chief:
        now = int(self.state.nimg)
        path = images.save_png(grid, self.workdir / "samples" /
                               f"fakes{now:09d}.png")
        self.writer.write_images(now, {"samples": grid[None]})
        logging.info("sample grid: %s", path)
        evaluators.write_results(results, self.workdir, self.writer,
                                 nimg=now, step=int(self.state.step))
        if augmented_reals is not None:
          seen = augmented_reals(self.state)
          images.save_png(seen, self.workdir / "samples" /
                          f"augmented{now:09d}.png")
          self.writer.write_images(now, {"augmented_reals": seen[None]})

    def crossed(before, after, every):
      return before // every != after // every

    try:
      self._enter_stage(nimg)
      if step == 0:
        snapshot()
      _check_stop("before training")
      while nimg < total_nimg:
        if setup_lib.stage_at(config, nimg) != self.setup.stage:
          self._enter_stage(nimg)
        tick = time.perf_counter()
        batch = self.setup.global_batch(next(self.data))
        self.state, metrics = self.setup.run_iteration(self.state, batch,
                                                       step)
        before, step = nimg, step + 1
        nimg += self.setup.algorithm.batch_size
        pending.append(metrics)
        report(step)

        if crossed(before, nimg, log_nimg) or nimg >= total_nimg:
          # Steps are dispatched asynchronously: wait for their compute
          # before reading the clock, or it lands in no timer (the log's
          # device_get would wait for it).
          jax.block_until_ready((self.state, metrics))
          self._log(pending, step, nimg, train_seconds +
                    time.perf_counter() - tick, nimg - tick_nimg)
          pending, train_seconds, tick_nimg = [], 0.0, nimg
        else:
          train_seconds += time.perf_counter() - tick

        if crossed(before, nimg, snapshot_nimg):
          snapshot()
        if crossed(before, nimg, ckpt_nimg):
          self.save("periodic")
        _check_stop(f"at step {step}")

      self.save("end of training")
      if nimg % snapshot_nimg and step and last_snapshot_nimg != nimg:
        snapshot()
    except _Stop:
      self.save(preemption.received() or "stop signal")
      raise
    return self.state

  def _log(self, pending, step, nimg, seconds, images_done) -> None:
    """Averages the pending metrics (one device sync) and writes them."""
    host = jax.device_get(pending)
    summary = {}
    for key in sorted({k for m in host for k in m}):
      summary[key] = float(np.mean([float(m[key]) for m in host if key in m]))
    bad = [k for k, v in summary.items() if not np.isfinite(v)]
    if bad:
      raise NonFiniteLossError(
          f"non-finite {bad} at step {step}; the last good checkpoint is "
          f"{self.last_checkpoint} in {self.manager.directory}")
    seconds = max(seconds, 1e-9)
    summary["progress/kimg"] = nimg / 1000
    summary["timing/sec_per_kimg"] = seconds / max(images_done / 1000, 1e-9)
    summary["timing/images_per_sec"] = images_done / seconds
    memory = jax.local_devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in memory:
      summary["memory/peak_gib"] = memory["peak_bytes_in_use"] / 2**30
    self.writer.write_scalars(nimg, summary)


def _sample_grid_fn(setup: setup_lib.Setup, class_names):
  """Fixed inputs (one row per class when conditional) -> G_ema's grid."""
  alg, config = setup.algorithm, setup.config
  cols = config.train.grid_size
  rows = min(len(class_names), 16) if class_names else cols
  inputs = alg.grid_inputs(jax.random.key(config.train.seed + 1), rows, cols,
                           bool(class_names))

  @functools.partial(jax.jit, out_shardings=sharding.replicated(setup.mesh))
  def sample(params, buffers):
    return alg.render(params, buffers, inputs)

  return lambda state: images.make_grid(
      np.asarray(sample(state.ema_params, state.ema_buffers)), cols)


def _augmented_reals_fn(setup: setup_lib.Setup, data_cfg):
  """Fixed reals over what D sees of them at the state's p (process 0 only;
  None when nothing is augmented)."""
  settings = getattr(setup.algorithm, "augment", None)
  if settings is None or not settings.enabled or jax.process_index() != 0:
    return None
  cols = setup.config.train.grid_size
  reals = next(pipeline.create_input_iterator(data_cfg,
                                              batch_size=cols))["image"]
  grid = augmentation.augmented_reals_fn(
      settings, reals, jax.random.key(setup.config.train.seed + 4))
  return lambda state: grid(float(np.asarray(state.augment["p"])))
