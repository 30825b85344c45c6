"""`python -m stylegan_jax.metrics`: see `stylegan_jax.tools.metrics`."""

from stylegan_jax.tools.metrics import main

if __name__ == "__main__":
  main()
