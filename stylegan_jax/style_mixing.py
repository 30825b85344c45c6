"""`python -m stylegan_jax.style_mixing`: see `stylegan_jax.tools.style_mixing`."""

from stylegan_jax.tools.style_mixing import main

if __name__ == "__main__":
  main()
