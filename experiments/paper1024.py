"""The official `--cfg=paper1024` preset on an image folder (default 1024px).

  python -m stylegan_jax.main --config experiments/paper1024.py:data=/path/to/images \
      --workdir workdirs/paper1024

Config arguments: `res=` (resolution), `gpus=` (device count the preset
assumes), `data=` (the image folder).
"""

from stylegan_jax import configs


def get_config(arg=None):
  return configs.preset_config("paper1024", arg, resolution=1024)
