"""What imports what: no TensorFlow outside the input pipeline, and tools
that load models without the training package."""

import json
import subprocess
import sys

from stylegan_jax import checkpoint
from stylegan_jax import sharding
from stylegan_jax.train import setup
from tests.train.test_loop import tiny_config

MODULES = [
    "stylegan_jax", "stylegan_jax.nets", "stylegan_jax.losses",
    "stylegan_jax.interop.official", "stylegan_jax.interop.official_pickle",
    "stylegan_jax.train.state", "stylegan_jax.train.step",
    "stylegan_jax.train.classic_step", "stylegan_jax.nets.factory",
    "stylegan_jax.train.setup", "stylegan_jax.train.augmentation",
    "stylegan_jax.train.transfer", "stylegan_jax.model_io",
    "stylegan_jax.checkpoint", "stylegan_jax.sharding",
    "stylegan_jax.metrics", "stylegan_jax.configs", "stylegan_jax.images",
    "stylegan_jax.data.embedded", "stylegan_jax.sampling",
    "stylegan_jax.projector", "stylegan_jax.metrics.evaluate",
    "stylegan_jax.tools.generate", "stylegan_jax.tools.style_mixing",
    "stylegan_jax.tools.interpolate", "stylegan_jax.tools.project",
    "stylegan_jax.tools.metrics", "stylegan_jax.tools.convert",
    "stylegan_jax.generate", "stylegan_jax.convert",
    "stylegan_jax.interop.torch_file", "stylegan_jax.interop.safe_pickle",
    "stylegan_jax.nets.classic", "stylegan_jax.nets.mlp",
    "stylegan_jax.nets.dcgan", "stylegan_jax.nets.vanilla",
    "stylegan_jax.data.glyphs", "stylegan_jax.data.idx",
    "stylegan_jax.augment", "stylegan_jax.features",
    "stylegan_jax.features.weights", "stylegan_jax.features.inception",
    "stylegan_jax.features.vgg", "stylegan_jax.features.lpips",
    "stylegan_jax.metrics.fid", "stylegan_jax.metrics.kid",
    "stylegan_jax.metrics.precision_recall",
    "stylegan_jax.metrics.inception_score", "stylegan_jax.metrics.ppl",
    "stylegan_jax.evaluators", "stylegan_jax.evaluators.evaluation",
    "stylegan_jax.style_transfer", "stylegan_jax.tools.style_transfer",
    "stylegan_jax.nets.pix2pix", "stylegan_jax.data.paired",
    "stylegan_jax.train.pix2pix", "stylegan_jax.translation",
    "stylegan_jax.tools.translate", "stylegan_jax.translate",
]


def _run(code: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-c", code], capture_output=True,
                        text=True, timeout=300, check=False)


def test_core_modules_do_not_import_tensorflow():
  result = _run(
      "import sys\n"
      "sys.modules['tensorflow'] = None  # Any import of it now fails.\n"
      f"for m in {MODULES!r}:\n"
      "  __import__(m)\n"
      "print('ok')\n")
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip().endswith("ok")


def test_loading_a_workdir_for_a_tool_imports_no_train_nor_tensorflow(
    tmp_path):
  config = tiny_config(1)
  built = setup.build(config, 5, sharding.create_mesh(1))
  manager = checkpoint.create_manager(tmp_path)
  checkpoint.save(manager, 0, built.init(), {
      "config": json.loads(config.to_json_best_effort()), "c_dim": 5,
      "class_names": ["a", "b", "c", "d", "e"]}, wait=True)
  result = _run(
      "import sys\n"
      "sys.modules['tensorflow'] = None\n"
      "from stylegan_jax.tools import generate\n"
      "from stylegan_jax import model_io, sampling\n"
      f"model = model_io.load_model({str(tmp_path)!r})\n"
      "images = sampling.generate_images(model, [0, 1], class_label='c')\n"
      "assert images.shape == (2, 8, 8, 3), images.shape\n"
      "loaded = sorted(m for m in sys.modules\n"
      "                if m.startswith(('stylegan_jax.train', 'tensorflow'))\n"
      "                and sys.modules[m] is not None)\n"
      "print('loaded:', loaded)\n")
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip().endswith("loaded: []"), result.stdout
