"""The official `--cfg=paper512` preset on an image folder (default 512px).

  python -m stylegan_jax.main --config experiments/paper512.py:data=/path/to/images \
      --workdir workdirs/paper512

Config arguments: `res=` (resolution), `gpus=` (device count the preset
assumes), `data=` (the image folder).
"""

from stylegan_jax import configs


def get_config(arg=None):
  return configs.preset_config("paper512", arg, resolution=512)
