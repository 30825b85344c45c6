"""StyleGAN2 networks as Flax Linen modules (pure `init`/`apply`).

The top-level modules (`Generator`, `Discriminator`) and their building
blocks are exported for research code, with the helpers that say which ws
each synthesis block reads (`ws_windows`, `block_ws`) and which layers take
noise (`noise_layer_names`). `create_networks` builds G and D from an
experiment config.
"""

from stylegan_jax.nets.discriminator import Discriminator
from stylegan_jax.nets.discriminator import DiscriminatorBlock
from stylegan_jax.nets.discriminator import DiscriminatorEpilogue
from stylegan_jax.nets.factory import create_networks
from stylegan_jax.nets.generator import Generator
from stylegan_jax.nets.mapping import MappingNetwork
from stylegan_jax.nets.mapping import check_labels
from stylegan_jax.nets.synthesis import SynthesisBlock
from stylegan_jax.nets.synthesis import SynthesisLayer
from stylegan_jax.nets.synthesis import SynthesisNetwork
from stylegan_jax.nets.synthesis import ToRGBLayer
from stylegan_jax.nets.synthesis import block_ws
from stylegan_jax.nets.synthesis import noise_layer_names
from stylegan_jax.nets.synthesis import ws_windows

__all__ = [
    "Discriminator", "DiscriminatorBlock", "DiscriminatorEpilogue",
    "Generator", "MappingNetwork", "SynthesisBlock", "SynthesisLayer",
    "SynthesisNetwork", "ToRGBLayer", "block_ws", "check_labels",
    "create_networks", "noise_layer_names", "ws_windows",
]
