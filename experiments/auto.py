"""The official `--cfg=auto` preset on an image folder (default 256px).

  python -m stylegan_jax.main --config experiments/auto.py:data=/path/to/images \
      --workdir workdirs/auto

Config arguments: `res=` (resolution), `gpus=` (device count the preset
assumes), `data=` (the image folder).
"""

from stylegan_jax import configs


def get_config(arg=None):
  return configs.preset_config("auto", arg, resolution=256)
