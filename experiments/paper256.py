"""The official `--cfg=paper256` preset on an image folder (default 256px).

  python -m stylegan_jax.main --config experiments/paper256.py:data=/path/to/images \
      --workdir workdirs/paper256

Config arguments: `res=` (resolution), `gpus=` (device count the preset
assumes), `data=` (the image folder).
"""

from stylegan_jax import configs


def get_config(arg=None):
  return configs.preset_config("paper256", arg, resolution=256)
