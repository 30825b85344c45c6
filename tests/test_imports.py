"""The networks, losses, train step and tools import without TensorFlow."""

import subprocess
import sys

MODULES = [
    "stylegan_jax", "stylegan_jax.nets", "stylegan_jax.losses",
    "stylegan_jax.interop.official", "stylegan_jax.interop.official_pickle",
    "stylegan_jax.train.state", "stylegan_jax.train.step",
    "stylegan_jax.train.setup", "stylegan_jax.model_io",
    "stylegan_jax.checkpoint", "stylegan_jax.sharding",
    "stylegan_jax.metrics", "stylegan_jax.configs", "stylegan_jax.images",
    "stylegan_jax.data.embedded", "stylegan_jax.data.files",
    "stylegan_jax.generate", "stylegan_jax.style_mixing",
    "stylegan_jax.interpolate", "stylegan_jax.project",
    "stylegan_jax.metrics.cli", "stylegan_jax.convert",
]


def test_core_modules_do_not_import_tensorflow():
  code = (
      "import sys\n"
      "sys.modules['tensorflow'] = None  # Any import of it now fails.\n"
      f"for m in {MODULES!r}:\n"
      "  __import__(m)\n"
      "print('ok')\n")
  result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip().endswith("ok")
