"""`python -m stylegan_jax.convert`: see `stylegan_jax.tools.convert`."""

from stylegan_jax.tools.convert import main

if __name__ == "__main__":
  main()
