"""`python -m stylegan_jax.generate`: see `stylegan_jax.tools.generate`."""

from stylegan_jax.tools.generate import main

if __name__ == "__main__":
  main()
