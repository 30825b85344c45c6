"""Frozen feature networks for metrics and perceptual losses.

The user brings the weights (nothing is downloaded); `weights.load(kind,
path)` reads the torch file safely, checks it, converts it and caches it.

* `inception`: the FID Inception-v3 (pytorch-fid): pool3 features for
  FID/KID, logits for the Inception Score.
* `vgg`: torchvision VGG16/VGG19 activations by tutorial name (`conv_i`,
  `relu_i`, `pool_i`) and VGG16's fc2 features (precision/recall).
* `style_losses`: Gram matrices and the content/style losses of style
  transfer.
* `lpips`: the LPIPS-VGG distance (v0.1 heads).
* `layers`: the PyTorch-semantics conv, pool and resize ops they share.
"""

from stylegan_jax.features import inception
from stylegan_jax.features import layers
from stylegan_jax.features import lpips
from stylegan_jax.features import style_losses
from stylegan_jax.features import vgg
from stylegan_jax.features import weights

__all__ = ["inception", "layers", "lpips", "style_losses", "vgg", "weights"]
