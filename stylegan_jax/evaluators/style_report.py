"""The end-of-run table of `style_acc` (printed by `./run.sh`).

Reads the newest `style_acc` record a training run wrote to its
`metrics.jsonl` (its final snapshot), so no metric is computed again, and
formats it per style with a verdict against the demo's goal (issue 9):
every style recognised in at least 80% of its samples, whose diversity is
at least half that of the real paintings.

  python -c 'from stylegan_jax.evaluators import style_report as r; \
      r.print_report("workdirs/demo")'
"""

import pathlib

from stylegan_jax.data import embedded
from stylegan_jax.evaluators import evaluation
from stylegan_jax.evaluators import style

GOAL_ACCURACY = 0.8  # The demo's goal for every style.


def last_values(workdir) -> dict | None:
  """The newest `style_acc` record of `<workdir>/metrics.jsonl`, or None."""
  path = pathlib.Path(workdir) / evaluation.JSONL
  if not path.is_file():
    return None
  found = [r for r in evaluation.read_jsonl(path)
           if r.get("metric") == "style_acc"]
  return found[-1] if found else None


def report(record: dict) -> list[str]:
  """A `style_acc` record as a table, one line per style, and a verdict.

  The verdict: every style recognised in at least `GOAL_ACCURACY` of its
  samples, with at least `style.MIN_DIVERSITY_RATIO` of the real paintings'
  diversity.
  """
  v = record["results"]
  counts = record.get("counts", {})
  lines = [f"style accuracy and diversity at {record.get('kimg', 0):g} kimg "
           f"({counts.get('style_acc/generated', '?')} generated, "
           f"{counts.get('style_acc/real', '?')} real images):",
           f"  {'style':<12} {'accuracy':>8} {'diversity':>9} {'real':>6} "
           f"{'ratio':>6}"]
  for n in embedded.STYLE_NAMES:
    lines.append(f"  {n:<12} {100 * v[f'style_acc/{n}']:>7.1f}% "
                 f"{v[f'style_div/{n}']:>9.3f} {v[f'style_div_real/{n}']:>6.3f}"
                 f" {v[f'style_div_ratio/{n}']:>6.2f}")
  lines.append(f"  {'mean':<12} {100 * v['style_acc/mean']:>7.1f}%")
  lines.append(f"  the classifier recognises "
               f"{100 * v['style_acc_real/mean']:.1f}% of the real paintings")
  met = (v["style_acc/min"] >= GOAL_ACCURACY
         and v["style_div_ratio/min"] >= style.MIN_DIVERSITY_RATIO)
  lines.append(f"  goal (every style >= {100 * GOAL_ACCURACY:.0f}% and "
               f"ratio >= {style.MIN_DIVERSITY_RATIO}): "
               f"{'met' if met else 'NOT met'} (worst accuracy "
               f"{100 * v['style_acc/min']:.1f}%, worst ratio "
               f"{v['style_div_ratio/min']:.2f})")
  return lines


def print_report(workdir) -> None:
  """Prints `report` of a training workdir's last `style_acc` record."""
  record = last_values(workdir)
  if record is None:
    print(f"no style_acc results in {workdir} (evals.metrics does not "
          "include style_acc)")
    return
  print("\n".join(report(record)))
