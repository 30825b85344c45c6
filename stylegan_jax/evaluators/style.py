"""`style_acc`: do a conditional model's samples show the style asked for?

For a generator trained with labels on the embedded set (`data.source=
'embedded'`, `data.conditional=True`), this metric renders the usual
generated images (`generated.py`: image i has seed `evals.seed + i` and a
style drawn from the dataset's class distribution), classifies them with
`style_classifier` (a small convnet trained on fresh embedded paintings,
not the training set) and reports, per style,

* `style_acc/<style>`: the fraction of the images asked to be that style
  that the classifier recognises as it (plus `/mean` and `/min`); an image
  it finds no style in (`style_classifier.NONE`) counts as a miss;
* `style_div/<style>`: the mean pairwise distance between them in
  `metrics.style_accuracy.diversity_space` (16x16 pixels, RMS difference),
  `style_div_real/<style>` the same for as many real images of the style,
  `style_div_ratio/<style>` generated / real (plus `/min`): about 1 when
  the samples of a style vary as much as the paintings do, 0 when the
  generator makes one image per style;
* `style_acc_real/mean`: the classifier's accuracy on those real images
  (close to 1, else the numbers above mean little).

A style whose ratio is under `MIN_DIVERSITY_RATIO` gets a note
(`metrics.jsonl`, the log) naming it.
"""

import numpy as np

from stylegan_jax.data import embedded
from stylegan_jax.errors import UserError
from stylegan_jax.evaluators import base
from stylegan_jax.evaluators import reals as reals_lib
from stylegan_jax.evaluators import style_classifier
from stylegan_jax.metrics import style_accuracy

MIN_DIVERSITY_RATIO = 0.5  # Below: a note says the style lacks variety.
_HOW = ("train a conditional model on the embedded set (data.source="
        "'embedded', data.conditional=True) or drop style_acc from "
        "evals.metrics")


class StyleAccuracy(base.Evaluator):
  """Style accuracy and diversity (see the module docstring)."""

  def check_data(self, reals: reals_lib.RealImages, class_probs) -> None:
    """Raises UserError unless the data is the embedded set with labels."""
    num = 0 if class_probs is None else len(class_probs)
    if reals.kind != reals_lib.EMBEDDED or num != len(embedded.STYLE_NAMES):
      what = (f"{num} classes of {reals.describe()}" if num else
              f"unlabelled images of {reals.describe()}")
      raise UserError(f"{self.name} classifies the {len(embedded.STYLE_NAMES)}"
                      f" embedded styles, but the model is evaluated on "
                      f"{what} — {_HOW}")

  def check_generator(self, G) -> None:
    if G.c_dim != len(embedded.STYLE_NAMES):
      raise UserError(f"{self.name} needs a generator conditioned on the "
                      f"{len(embedded.STYLE_NAMES)} embedded styles, this one "
                      f"has c_dim={G.c_dim} — {_HOW}")
    if G.img_resolution < embedded.MIN_RESOLUTION:
      raise UserError(f"{self.name} needs images of at least "
                      f"{embedded.MIN_RESOLUTION} px, this generator makes "
                      f"{G.img_resolution} px — drop style_acc")

  def __call__(self, ctx):
    self.check_data(ctx.reals, ctx.generated.class_probs)
    num_gen, num_real = ctx.counts(self.spec)
    names = embedded.STYLE_NAMES
    G = ctx.G
    params, _ = style_classifier.load_or_train(
        G.img_resolution, G.img_channels,
        style_classifier.classifier_seed(ctx.reals.seed),
        cache_dir=ctx.cache_dir, log=ctx.log)
    labels = ctx.labels(num_gen)
    fake = ctx.generated_images(num_gen)
    real = ctx.real_images(num_real)
    # The embedded set's labels cycle through the styles (make_dataset).
    real_labels = np.arange(len(real)) % len(names)
    for what, lab in (("generated", labels), ("real", real_labels)):
      fewest = int(np.min(np.bincount(lab, minlength=len(names))))
      if fewest < 2:
        raise UserError(f"{self.name} needs 2 or more {what} images of every "
                        f"style, one has {fewest} — use more images "
                        "(evals.max_images / --num_images)")
    values = style_accuracy.style_scores(
        style_classifier.predict(params, fake), labels, fake, real,
        real_labels, style_classifier.predict(params, real), names)
    low = [f"{n} ({values[f'style_div_ratio/{n}']:.2f})" for n in names
           if not values[f"style_div_ratio/{n}"] >= MIN_DIVERSITY_RATIO]
    if low:
      ctx.notes.append(f"{self.name}: little variety within "
                       f"{', '.join(low)}: generated/real diversity under "
                       f"{MIN_DIVERSITY_RATIO}")
    return values, self.counts(num_gen, len(real))

