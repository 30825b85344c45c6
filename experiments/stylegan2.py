"""The official `--cfg=stylegan2` preset on an image folder (default 1024px).

  python -m stylegan_jax.main --config experiments/stylegan2.py:data=/path/to/images \
      --workdir workdirs/stylegan2

Config arguments: `res=` (resolution), `gpus=` (device count the preset
assumes), `data=` (the image folder).
"""

from stylegan_jax import configs


def get_config(arg=None):
  return configs.preset_config("stylegan2", arg, resolution=1024)
