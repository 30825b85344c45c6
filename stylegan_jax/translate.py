"""`python -m stylegan_jax.translate`: see `stylegan_jax.tools.translate`."""

from stylegan_jax.tools.translate import main

if __name__ == "__main__":
  main()
