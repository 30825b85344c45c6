"""The interface every metric object implements, and what one run returns.

An `Evaluator` is built from its `specs.MetricSpec` and the `evals` config
section; called with a `context.Context` (which holds the generator being
evaluated, the real images and the shared features), it returns its values
under the official result names and the image counts it used.
"""

import dataclasses

from stylegan_jax.errors import UserError
from stylegan_jax.evaluators import specs


@dataclasses.dataclass(frozen=True)
class Result:
  """One metric's outcome.

  Attributes:
    metric: the metric's name ('fid50k_full').
    values: its results by official name ({'fid50k_full': 12.3}; PR gives
      '<name>_precision' and '_recall', IS '_mean' and '_std', SWD
      'swd/<res>' and 'swd/avg').
    counts: images used ('<metric>/generated', '<metric>/real').
    seconds: wall time, features included.
    notes: things the user should know (skipped files, capped counts).
  """

  metric: str
  values: dict[str, float]
  counts: dict[str, int]
  seconds: float
  notes: tuple[str, ...] = ()


class Evaluator:
  """Base of the metric objects.

  Args:
    spec: the metric's row of `specs.METRICS`.
    evals: the `evals` config section (each metric reads its options).
  """

  def __init__(self, spec: specs.MetricSpec, evals):
    del evals
    self.spec = spec

  @property
  def name(self) -> str:
    return self.spec.name

  def check_data(self, reals, class_probs) -> None:
    """Raises UserError when the metric cannot use this dataset.

    Args:
      reals: the `reals.RealImages` compared with.
      class_probs: the class distribution [c_dim] (None or empty if
        unconditional).
    """
    del reals, class_probs

  def check_generator(self, G) -> None:
    """Raises UserError when the metric cannot run on G's images."""
    del G

  def __call__(self, ctx) -> tuple[dict[str, float], dict[str, int]]:
    """Computes the metric for `ctx`'s generator.

    Returns:
      (values by result name, counts by '<metric>/generated|real').
    """
    raise NotImplementedError

  def counts(self, num_gen: int, num_real: int) -> dict[str, int]:
    out = {f"{self.name}/generated": num_gen}
    if self.spec.max_real != 0:
      out[f"{self.name}/real"] = num_real
    return out


def require_images(name: str, have: int, need: int, what: str) -> None:
  """Raises a one-line UserError when a metric gets too few images."""
  if have < need:
    raise UserError(f"{name} needs at least {need} {what}, got {have} — use "
                    "more images (evals.max_images / --num_images)")
