"""StyleGAN2 on WikiArt at 256x256 with the official `paper256` settings.

The images stay where you put them, in the WikiArt layout
`<data_dir>/<Style>/<artist>_<title>.jpg`; they are prepared into TFDS files
under `<workdir>/tfds` on the first run.

  python -m stylegan_jax.main --config experiments/wikiart.py \
      --config.data.data_dir=/data/wikiart --workdir workdirs/wikiart

`--config experiments/wikiart.py:cond` conditions on the 27 styles;
`:res=512` trains at another resolution. Every image D sees is augmented with
ADA's `bgc` pipeline (`--config.augment.mode=noaug` turns it off).
"""

from stylegan_jax import configs


def get_config(arg=None):
  a = configs.parse_arg(arg, res=256, cond=False)
  config = configs.base_config()
  config.data.source = "wikiart"
  config.data.resolution = a.res
  config.data.xflip = True
  config.data.conditional = a.cond
  config.data.label_key = "style"
  configs.apply_preset(config, "paper256")
  # A style folder holds a few hundred to a few thousand paintings: ADA.
  config.augment.mode = "ada"
  config.augment.pipe = "bgc"
  return config
