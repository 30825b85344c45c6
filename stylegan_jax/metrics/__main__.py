r"""`python -m stylegan_jax.metrics`: the metrics CLI (logic in `metrics.cli`).

  python -m stylegan_jax.metrics --metrics swd --model workdirs/demo \
      --data embedded [--num_images 1024] [--json_out swd.json]
  python -m stylegan_jax.metrics --metrics psnr,ssim,ms_ssim \
      --data targets/ --data2 projections/
"""

from absl import app
from absl import flags

from stylegan_jax.metrics import cli

flags.adopt_module_key_flags(cli)

if __name__ == "__main__":
  app.run(cli.main)
