"""`python -m stylegan_jax.project`: see `stylegan_jax.tools.project`."""

from stylegan_jax.tools.project import main

if __name__ == "__main__":
  main()
