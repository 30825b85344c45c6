"""Metrics that compare image distributions: FID, KID, PR, IS and SWD.

Each class is one metric of `specs.METRICS`; the maths lives in
`stylegan_jax.metrics` and the images and features come from the
`context.Context`, so every metric sees the same generated and real images.

* `FID` (`fid50k_full`, `fid10k`): Fréchet distance of Inception pool3
  features, real statistics cached. When either set has fewer images than
  the 2048 feature dimensions (small counts), the exact low-rank form
  `metrics.fid.frechet_distance_low_rank` replaces SciPy's `sqrtm`.
* `KID` (`kid50k_full`): the unbiased MMD of pool3 features over 100
  subsets of at most 1,000, seeded with `evals.seed`.
* `PrecisionRecall` (`pr50k3_full`): k = 3 manifolds of VGG16 fc2 features
  (images resized to 224 with antialiased linear interpolation).
* `InceptionScore` (`is50k`): 10 splits of the generated images' logits.
* `SWD` (`swd`): ProGAN's sliced Wasserstein distance between
  `evals.swd_num_images` generated and real images (both in [-1, 1] from
  their uint8 values), `evals.swd_directions` directions per repeat.
"""

import jax

from stylegan_jax import images
from stylegan_jax.errors import UserError
from stylegan_jax.evaluators import base
from stylegan_jax.metrics import fid
from stylegan_jax.metrics import inception_score
from stylegan_jax.metrics import kid
from stylegan_jax.metrics import precision_recall
from stylegan_jax.metrics import swd

FID_DIM = 2048
PATCH_SIZE = 7  # SWD's neighbourhood side (`metrics.swd.swd`'s default).


class FID(base.Evaluator):
  """Fréchet Inception distance (see the module docstring)."""

  def __call__(self, ctx):
    num_gen, num_real = ctx.counts(self.spec)
    gen = ctx.generated_features("inception", num_gen, self.name)["pool3"]
    real = ctx.real_features("inception", num_real, self.name)
    n_real = len(real["pool3"])
    base.require_images(self.name, min(len(gen), n_real), 2, "images per set")
    if min(len(gen), n_real) < FID_DIM:
      value = fid.frechet_distance_low_rank(real["pool3"], gen)
    else:
      value = fid.frechet_distance(real["pool3/mean"], real["pool3/cov"],
                                   *fid.feature_statistics(gen))
    return {self.name: value}, self.counts(num_gen, n_real)


class KID(base.Evaluator):
  """Kernel Inception distance (see the module docstring)."""

  def __init__(self, spec, evals):
    super().__init__(spec, evals)
    self.seed = int(evals.seed)

  def __call__(self, ctx):
    num_gen, num_real = ctx.counts(self.spec)
    gen = ctx.generated_features("inception", num_gen, self.name)["pool3"]
    real = ctx.real_features("inception", num_real, self.name)["pool3"]
    base.require_images(self.name, min(len(gen), len(real)), 2,
                        "images per set")
    value = kid.kid(real, gen, seed=self.seed, **self.spec.options)
    return {self.name: value}, self.counts(num_gen, len(real))


class PrecisionRecall(base.Evaluator):
  """Improved precision and recall (see the module docstring)."""

  def __call__(self, ctx):
    num_gen, num_real = ctx.counts(self.spec)
    k = self.spec.options["k"]
    gen = ctx.generated_features("vgg16", num_gen, self.name)["fc2"]
    real = ctx.real_features("vgg16", num_real, self.name)["fc2"]
    base.require_images(self.name, min(len(gen), len(real)), k + 1,
                        "images per set")
    precision, recall = precision_recall.precision_recall(real, gen, k=k)
    return ({f"{self.name}_precision": precision,
             f"{self.name}_recall": recall},
            self.counts(num_gen, len(real)))


class InceptionScore(base.Evaluator):
  """Inception Score (see the module docstring)."""

  def __call__(self, ctx):
    num_gen, _ = ctx.counts(self.spec)
    splits = self.spec.options["num_splits"]
    base.require_images(self.name, num_gen, splits, "images (one per split)")
    logits = ctx.generated_features("inception", num_gen,
                                    self.name)["logits"]
    mean, std = inception_score.inception_score(logits, splits)
    return ({f"{self.name}_mean": mean, f"{self.name}_std": std},
            self.counts(num_gen, 0))


class SWD(base.Evaluator):
  """Multi-scale sliced Wasserstein distance (see the module docstring)."""

  def __init__(self, spec, evals):
    super().__init__(spec, evals)
    self.num_images = int(evals.swd_num_images)
    self.num_directions = int(evals.swd_directions)
    self.seed = int(evals.seed)

  def check_generator(self, G) -> None:
    if G.img_resolution < PATCH_SIZE:
      raise UserError(f"swd compares {PATCH_SIZE}x{PATCH_SIZE} patches; this "
                      f"generator makes {G.img_resolution} px images — drop "
                      "swd from the metrics")

  def __call__(self, ctx):
    asked = min(self.num_images, ctx.max_images or self.num_images)
    real = ctx.real_images(min(asked, ctx.reals.count))
    if len(real) < asked:
      ctx.notes.append(f"only {len(real)} readable real images in "
                       f"{ctx.reals.describe()} (asked for {asked}): swd "
                       f"uses {len(real)} real and {len(real)} generated "
                       "images")
    fake = ctx.generated_images(len(real))
    values = swd.swd(images.to_float(fake), images.to_float(real),
                     jax.random.key(self.seed),
                     num_directions=self.num_directions)
    return values, {"swd/generated": len(fake), "swd/real": len(real)}
