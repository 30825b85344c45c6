r"""The MLP GAN on 28 x 28 grayscale digits: the Keras and PyTorch recipes.

Trains on the package's embedded glyph digits (nothing is downloaded) and
learns them visibly in a few minutes on a CPU:

  python -m stylegan_jax.main --config experiments/mlp_gan.py \
      --workdir workdirs/mlp_gan
  python -m stylegan_jax.main --config experiments/mlp_gan.py:variant=keras \
      --workdir workdirs/mlp_keras
  python -m stylegan_jax.main \
      --config experiments/mlp_gan.py:mnist=~/mnist,loss=minimax \
      --workdir workdirs/mlp_mnist

Arguments (`mlp_gan.py:key=value,...`):
  variant: 'torch' (Linear 128, LeakyReLU 0.2, x2, Tanh out; default) or
    'keras' (Dense 128 relu x2, sigmoid out) networks (`nets/mlp.py`).
  loss: 'non_saturating' (default), 'minimax' (the recipes' own objective:
    G minimises log(1 - D(G(z))), which saturates and stalls early),
    'wgan_gp' (WGAN-GP's recipe: lambda 10, n_critic 5, Adam(1e-4, 0,
    0.9)), 'lsgan', 'hinge' or 'wgan'.
  data: an image folder to train on instead (converted to 28 x 28
    grayscale).
  mnist: a folder holding MNIST's IDX files (`train-images-idx3-ubyte[.gz]`
    and `train-labels-idx1-ubyte[.gz]`) to train on instead.
  epochs: passes over the data (default 40: 400 kimg of the 10k glyphs).
  cond: class-conditional (one sample-grid row per digit).

Neither recipe names its optimiser; both use Adam(2e-4, beta1 0.5), the
DCGAN paper's settings (Radford et al. 2015), with each framework's default
epsilon (Keras 1e-7, PyTorch 1e-8), and batch 128. No G_ema (the recipes
have none): the grids show G itself.
"""

from stylegan_jax import configs
from stylegan_jax.errors import ConfigError


def get_config(arg=None):
  a = configs.parse_arg(arg, variant="torch", loss="non_saturating", data="",
                        mnist="", epochs=40.0, cond=False)
  config = configs.base_config()
  config.model.arch = "mlp"
  config.model.variant = a.variant
  config.model.z_dim = 100
  config.model.mlp_hidden = (128, 128)
  config.data.resolution = 28
  config.data.channels = 1
  config.data.conditional = a.cond
  if a.data and a.mnist:
    raise ConfigError("give data= (an image folder) or mnist= (IDX "
                              "files), not both")
  if a.data:
    config.data.source, config.data.data_dir = "image_folder", a.data
  elif a.mnist:
    config.data.source, config.data.data_dir = "mnist", a.mnist
  else:
    config.data.source = "glyphs"
    config.data.embedded_num_images = 10_000
  config.loss.r1_gamma = 0.0
  config.optim.g_lr = config.optim.d_lr = 2e-4
  config.optim.betas = (0.5, 0.999)
  config.optim.eps = 1e-7 if a.variant == "keras" else 1e-8
  configs.apply_gan_loss(config, a.loss)
  config.train.batch_size = 128
  config.train.total_epochs = a.epochs
  config.train.ema_kimg = 0.0
  config.train.log_every_kimg = 10.0
  config.train.snapshot_kimg = 100.0
  config.train.checkpoint_kimg = 100.0
  config.train.grid_size = 10
  config.evals.swd_num_images = 256
  return config
