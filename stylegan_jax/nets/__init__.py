"""StyleGAN2 networks as Flax Linen modules (pure `init`/`apply`)."""

from stylegan_jax.nets.discriminator import Discriminator
from stylegan_jax.nets.generator import Generator
from stylegan_jax.nets.mapping import MappingNetwork
from stylegan_jax.nets.synthesis import SynthesisNetwork

__all__ = ["Discriminator", "Generator", "MappingNetwork", "SynthesisNetwork"]
