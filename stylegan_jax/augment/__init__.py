"""Differentiable augmentation for GAN discriminators (ADA, DiffAugment, keras).

`augment(images, key, p, pipe)` is the ADA pipeline (Karras et al. 2020):
`pipe` names one of `PIPES` (`blit`, `geom`, `color`, `filter`, `noise`,
`cutout`, `bg`, `bgc`, `bgcf`, `bgcfn`, `bgcfnc`, and `keras`) or gives
multipliers; `p` is the overall probability, adapted during training by
`ada.update_p`. `diff_augment(images, key, policy)` is DiffAugment (Zhao et
al. 2020). Both are pure JAX on NHWC images in [-1, 1]: jit-able,
differentiable w.r.t. the images, shardable along the batch.

Modules: `specs` (what a pipe does), `params` (per-sample random
parameters), `geometric`, `color`, `imgfilter`, `corruptions` (the stages),
`pipeline` (`augment`), `diffaugment`, `ada` (the controller).
"""

from stylegan_jax.augment import ada
from stylegan_jax.augment.diffaugment import diff_augment
from stylegan_jax.augment.params import sample_params
from stylegan_jax.augment.pipeline import apply_params
from stylegan_jax.augment.pipeline import augment
from stylegan_jax.augment.specs import AugmentSpec
from stylegan_jax.augment.specs import PIPES
from stylegan_jax.augment.specs import resolve_pipe

__all__ = [
    "PIPES",
    "AugmentSpec",
    "ada",
    "apply_params",
    "augment",
    "diff_augment",
    "resolve_pipe",
    "sample_params",
]
