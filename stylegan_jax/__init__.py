"""stylegan_jax: StyleGAN2(-ADA) in JAX/Flax, numerically faithful to the official code.

Importing the package pulls in neither TensorFlow nor the input pipeline.
"""

__version__ = "0.1.0"
