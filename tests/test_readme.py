"""The README's code runs as written, and its commands parse as written."""

import importlib
import importlib.util
import pathlib
import re
import shlex

import jax
import numpy as np
import pytest

from stylegan_jax import configs

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text()


def _block(marker: str) -> str:
  return re.search(rf"<!-- {marker}.*?-->\n```python\n(.*?)```", TEXT,
                   re.S).group(1)


@pytest.fixture(scope="module")
def api():
  namespace = {}
  exec(compile(_block("README-API"), str(README), "exec"), namespace)  # pylint: disable=exec-used
  return namespace


def test_readme_api_example_runs(api):
  assert api["ws"].shape == (4, 8, 64)
  assert api["img"].shape == (4, 32, 32, 3)
  assert api["mixed"].shape == (4, 32, 32, 3)
  assert api["logits"].shape == (4, 1)
  # Mixing replaced the fine styles only: the images differ.
  assert float(abs(api["mixed"] - api["img"]).max()) > 1e-3


def _recipe(api, name):
  namespace = dict(api)
  exec(compile(_block(f"README-RECIPE: {name}"), str(README), "exec"),  # pylint: disable=exec-used
       namespace)
  return namespace


def test_recipe_training_mode(api):
  ns = _recipe(api, "training mode")
  assert ns["fake"].shape == (4, 32, 32, 3) and ns["ws_t"].shape == (4, 8, 64)
  assert ns["moved"] > 0  # w_avg moved, as in training.


def test_recipe_features(api):
  ns = _recipe(api, "features")
  assert ns["res16"].shape == (4, 16, 16, 64)
  assert sorted(ns["d_feats"]["features"]) == [f"res{r}" for r in
                                               (16, 32, 8)]
  assert {r: w.shape[1] for r, w in ns["windows"].items()} == {
      4: 2, 8: 3, 16: 3, 32: 3}
  none = api["G"].apply(api["g_vars"], api["ws"], noise_mode="none",
                        method=api["G"].synthesize)
  np.testing.assert_allclose(ns["quiet"], none, atol=1e-6)


def test_recipe_extra_loss(api):
  ns = _recipe(api, "extra loss")
  assert float(ns["metrics"]["loss/D_logit_l2"]) >= 0


@pytest.mark.slow  # Compiles every phase for 4 devices (a minute).
def test_recipe_sharding(api):
  ns = _recipe(api, "extra loss")
  ns = _recipe({**api, **ns}, "sharding")
  assert ns["mesh"].devices.size == jax.device_count()
  assert ns["batch"]["image"].sharding.spec[0] == "data"
  assert int(ns["state"].step) == 1  # a fresh state, one iteration


def _commands() -> list[list[str]]:
  """Every `python -m stylegan_jax...` / `./run.sh ...` command line."""
  out = []
  for block in re.findall(r"```bash\n(.*?)```", TEXT, re.S):
    for line in block.replace("\\\n", " ").splitlines():
      line = line.strip()
      if line.startswith(("python -m stylegan_jax", "./run.sh ",
                          "srun .venv/bin/python -m stylegan_jax")):
        out.append(shlex.split(line.split("#")[0]))
  for cell in re.findall(r"`(\./run\.sh [a-z_]+ [^`]*)`", TEXT):
    out.append(shlex.split(cell))
  return out


def test_readme_commands_parse_as_written():
  commands = _commands()
  assert len(commands) >= 8
  for argv in commands:
    if "stylegan_jax.main" in argv or argv[:1] == ["./run.sh"] and (
        len(argv) < 2 or argv[1].startswith("--")):
      _check_train_command(argv)
      continue
    tool = argv[1] if argv[0] == "./run.sh" else argv[2].rsplit(".", 1)[1]
    if tool in ("test", "tensorboard", "train"):
      continue
    module = importlib.import_module(f"stylegan_jax.tools.{tool}")
    module.build_parser().parse_args(argv[2:] if argv[0] == "./run.sh"
                                     else argv[3:])


def _check_train_command(argv):
  """Loads the --config file with its argument and overrides; validates."""
  config_arg = next(a for a in argv if a.startswith("experiments/")
                    or a.startswith("--config=")) if any(
                        a.startswith(("experiments/", "--config="))
                        for a in argv) else "experiments/demo.py"
  path, _, arg = config_arg.removeprefix("--config=").partition(":")
  spec = importlib.util.spec_from_file_location("exp", ROOT / path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config(arg or None) if arg else module.get_config()
  for a in argv:
    m = re.match(r"--config\.([\w.]+)=(.*)", a)
    if m:
      section, key = m.group(1).split(".")
      current = config[section][key]
      if m.group(2) == "None":  # An optional key unset (parse_flags).
        config[section][key] = None
      else:
        config[section][key] = type(current)(m.group(2)) if current is not \
            None else m.group(2)
  configs.validate(config, check_paths=False)
