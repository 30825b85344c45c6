"""Image metrics that need no downloaded network weights.

`image_quality` owns the paired, per-image measures (PSNR, SSIM, MS-SSIM),
re-exported here; `swd` owns the multi-scale sliced Wasserstein distance
between two image sets (ProGAN), called as `swd.swd(...)` (the module name
is not shadowed by the function). Feature-network metrics (FID/KID) live
beside them and take the network as an argument; `style_accuracy` is the
maths of the embedded set's style accuracy and within-style diversity.
"""

from stylegan_jax.metrics import swd
from stylegan_jax.metrics.image_quality import ms_ssim
from stylegan_jax.metrics.image_quality import psnr
from stylegan_jax.metrics.image_quality import ssim

__all__ = ["ms_ssim", "psnr", "ssim", "swd"]
