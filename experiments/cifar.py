"""The official `--cfg=cifar` preset on an image folder (default 32px).

  python -m stylegan_jax.main --config experiments/cifar.py:data=/path/to/images \
      --workdir workdirs/cifar

Config arguments: `res=` (resolution), `gpus=` (device count the preset
assumes), `data=` (the image folder).
"""

from stylegan_jax import configs


def get_config(arg=None):
  return configs.preset_config("cifar", arg, resolution=32)
