"""`python -m stylegan_jax.interpolate`: see `stylegan_jax.tools.interpolate`."""

from stylegan_jax.tools.interpolate import main

if __name__ == "__main__":
  main()
