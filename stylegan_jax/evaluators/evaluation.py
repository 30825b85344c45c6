"""The configured metrics as one object, for the training loop and the CLI.

`Evaluation(evals, reals=..., class_probs=..., mesh=...)` checks the `evals`
section, builds one metric object per name in `evals.metrics` and loads the
feature networks they need (so a wrong weights file fails before training
starts); calling it with a generator and its variables returns one `Result`
per metric. `from_config` builds it for a training run (the config's own
data as the real images). `records` turns results into the lines appended
to `<workdir>/metrics.jsonl` (`append_jsonl`), `scalars` into the
TensorBoard scalars `metric/<result name>`.
"""

import json
import os
import pathlib
import time
from collections.abc import Sequence
from typing import Any

import jax

from stylegan_jax.evaluators import base
from stylegan_jax.evaluators import context as context_lib
from stylegan_jax.evaluators import distribution
from stylegan_jax.evaluators import generated as generated_lib
from stylegan_jax.evaluators import path_length
from stylegan_jax.evaluators import reals as reals_lib
from stylegan_jax.evaluators import specs
from stylegan_jax.evaluators import style

# MetricSpec.kind -> the metric object's class.
EVALUATORS: dict[str, type[base.Evaluator]] = {
    "fid": distribution.FID,
    "kid": distribution.KID,
    "pr": distribution.PrecisionRecall,
    "is": distribution.InceptionScore,
    "swd": distribution.SWD,
    "ppl": path_length.PPL,
    "style": style.StyleAccuracy,
}
JSONL = "metrics.jsonl"
SCALAR_PREFIX = "metric/"


class Evaluation:
  """The metrics of `evals.metrics` over one dataset and one mesh.

  Args:
    evals: the `evals` config section.
    reals: the real images.
    class_probs: the dataset's class distribution [c_dim] (None or empty if
      unconditional).
    mesh: the devices the programs span.
    G: the generator to be evaluated, if known: checked now (e.g. PPL needs
      16 px images).
    log: where progress, cache and timing lines go.
    feature_params: already loaded network params by weights key, used
      instead of reading those files (tests).
    check_paths: check that the named weight files exist.

  Raises:
    ConfigError / UserError: unknown metrics, missing or wrong weights, a
      generator a metric cannot measure.
  """

  def __init__(self, evals, *, reals: reals_lib.RealImages, class_probs,
               mesh: jax.sharding.Mesh, G=None,
               log: context_lib.Log = print,
               feature_params: dict[str, dict] | None = None,
               check_paths: bool = True):
    names = specs.check_evals(evals, check_paths=check_paths)
    self.evaluators = [EVALUATORS[specs.METRICS[n].kind](specs.METRICS[n],
                                                          evals)
                       for n in names]
    self.context = context_lib.Context(
        evals, reals=reals, class_probs=class_probs, mesh=mesh, log=log,
        feature_params=feature_params)
    for e in self.evaluators:
      e.check_data(reals, class_probs)
    if G is not None:
      generated_lib.check_generator(G, float(evals.truncation_psi))
      for e in self.evaluators:
        e.check_generator(G)
    for key in specs.needed_weights(names):
      self.context.params(key)  # A wrong file fails here, not mid-run.

  @property
  def names(self) -> list[str]:
    return [e.name for e in self.evaluators]

  def __call__(self, G, variables) -> list[base.Result]:
    """Every metric for generator G with `variables` ({'params', 'buffers'}).

    Returns:
      One `Result` per metric, in `evals.metrics` order.
    """
    if not self.evaluators:
      return []
    ctx = self.context
    ctx.start(G, variables)
    results = []
    for e in self.evaluators:
      e.check_generator(G)
      start, ctx.notes = time.perf_counter(), []
      values, counts = e(ctx)
      seconds = time.perf_counter() - start
      values = {k: float(v) for k, v in values.items()}
      ctx.log(f"{e.name}: " + ", ".join(f"{k} {v:.6g}"
                                        for k, v in values.items())
              + f" ({seconds:.1f} s)")
      results.append(base.Result(e.name, values, counts, seconds,
                                 tuple(dict.fromkeys(ctx.notes))))
    return results


def from_config(config, *, mesh: jax.sharding.Mesh, class_probs, G=None,
                log: context_lib.Log = print) -> Evaluation:
  """The evaluation of a training run: `config.evals` on `config.data`."""
  return Evaluation(config.evals,
                    reals=reals_lib.RealImages.from_data_config(config.data),
                    class_probs=class_probs, mesh=mesh, G=G, log=log)


def flat_values(results: Sequence[base.Result]) -> dict[str, float]:
  """{result name: value} over every result."""
  return {k: v for r in results for k, v in r.values.items()}


def scalars(results: Sequence[base.Result]) -> dict[str, float]:
  """TensorBoard scalars: {'metric/fid50k_full': ..., 'metric/swd/avg': ...}."""
  return {SCALAR_PREFIX + k: v for k, v in flat_values(results).items()}


def records(results: Sequence[base.Result], **info: Any) -> list[dict]:
  """One JSON-able record per result, as `metrics.jsonl` lines hold them.

  Each is {'metric', 'results' {name: value}, 'counts', 'total_time' (s),
  'notes', 'timestamp'} plus `info` (e.g. nimg, step, model).
  """
  now = time.time()
  return [{"metric": r.metric, "results": r.values, "counts": r.counts,
           "total_time": round(r.seconds, 3), "notes": list(r.notes),
           "timestamp": now, **info} for r in results]


def append_jsonl(path: str | os.PathLike, lines: Sequence[dict]) -> None:
  """Appends records to a JSON-lines file (one `json.dumps` per line)."""
  if not lines:
    return
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  with open(path, "a", encoding="utf-8") as f:
    for line in lines:
      f.write(json.dumps(line, sort_keys=True) + "\n")


def write_results(results: Sequence[base.Result], workdir: str | os.PathLike,
                  writer, *, nimg: int, step: int) -> None:
  """A training snapshot's results -> `<workdir>/metrics.jsonl` and scalars.

  Args:
    results: from `Evaluation.__call__`.
    workdir: the training workdir.
    writer: a clu metric writer (`write_scalars(step, {name: value})`).
    nimg: images shown so far (the scalars' step).
    step: the training iteration.
  """
  if not results:
    return
  append_jsonl(pathlib.Path(workdir) / JSONL,
               records(results, nimg=nimg, kimg=nimg / 1000, step=step))
  writer.write_scalars(nimg, scalars(results))


def read_jsonl(path: str | os.PathLike) -> list[dict]:
  """The records of a `metrics.jsonl` file, in order."""
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f if line.strip()]
