"""Every experiment file loads, and the presets carry the official values."""

import importlib.util
import pathlib
import subprocess
import sys

from absl import flags
from ml_collections import config_flags
import pytest

from stylegan_jax import configs

EXPERIMENTS = sorted(
    (pathlib.Path(__file__).resolve().parents[1] / "experiments").glob("*.py"))


def _load(path):
  spec = importlib.util.spec_from_file_location(path.stem, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_loads(path):
  config = _load(path).get_config()
  base = configs.base_config()
  for section in ("data", "model", "loss", "optim", "augment", "train",
                  "mesh", "evals"):
    assert set(config[section].keys()) == set(base[section].keys()), section
  assert config.train.batch_size > 0


def test_expected_experiments_exist():
  names = {p.stem for p in EXPERIMENTS}
  assert {"wikiart", "demo", "auto", "stylegan2", "paper256", "paper512",
          "paper1024", "cifar"} <= names


@pytest.mark.parametrize("name,batch,mbstd,cbase,lr,gamma,ema,rampup,layers", [
    ("stylegan2", 32, 4, 32768, 0.002, 10.0, 10.0, None, 8),
    ("paper256", 64, 8, 16384, 0.0025, 1.0, 20.0, None, 8),
    ("paper512", 64, 8, 32768, 0.0025, 0.5, 20.0, None, 8),
    ("paper1024", 32, 4, 32768, 0.002, 2.0, 10.0, None, 8),
    ("cifar", 64, 32, 32768, 0.0025, 0.01, 500.0, 0.05, 2),
])
def test_preset_table(name, batch, mbstd, cbase, lr, gamma, ema, rampup,
                      layers):
  c = configs.apply_preset(configs.base_config(), name)
  assert (c.train.batch_size, c.model.mbstd_group_size, c.model.channel_base,
          c.optim.g_lr, c.optim.d_lr, c.loss.r1_gamma, c.train.ema_kimg,
          c.train.ema_rampup, c.model.mapping_layers) == (
              batch, mbstd, cbase, lr, lr, gamma, ema, rampup, layers)
  assert c.model.conv_clamp == 256
  if name == "cifar":
    assert (c.loss.pl_weight, c.loss.style_mixing_prob,
            c.model.d_architecture) == (0.0, 0.0, "orig")
  else:
    assert (c.loss.pl_weight, c.loss.style_mixing_prob,
            c.model.d_architecture) == (2.0, 0.9, "resnet")


@pytest.mark.parametrize("res,gpus,batch,mbstd,fmaps,lr", [
    (256, 1, 16, 4, 0.5, 0.0025),
    (256, 8, 64, 4, 0.5, 0.0025),
    (1024, 8, 32, 4, 1.0, 0.002),
    (512, 2, 16, 4, 1.0, 0.0025),
])
def test_auto_preset_formulas(res, gpus, batch, mbstd, fmaps, lr):
  c = configs.base_config()
  c.data.resolution = res
  configs.apply_preset(c, "auto", num_devices=gpus)
  assert c.train.batch_size == batch
  assert c.model.mbstd_group_size == mbstd
  assert c.model.channel_base == int(fmaps * 32768)
  assert c.optim.g_lr == lr
  assert c.loss.r1_gamma == pytest.approx(0.0002 * res**2 / batch)
  assert c.train.ema_kimg == pytest.approx(batch * 10 / 32)
  assert c.train.ema_rampup == 0.05
  assert c.model.mapping_layers == 2


def test_parse_arg():
  a = configs.parse_arg("res=512,cond", res=256, cond=False, data="")
  assert (a.res, a.cond, a.data) == (512, True, "")
  with pytest.raises(ValueError, match="unknown config argument 'nope'"):
    configs.parse_arg("nope=1", res=256)


def test_config_file_argument_errors_are_one_line():
  """A config file's own ConfigError reaches the user as its message, not
  as the traceback text ml_collections wraps it in."""
  root = pathlib.Path(__file__).parents[1]
  for arg, message in (
      ("vanilla_gan.py:art,data=/a", "give art (the embedded paintings) or "
       "data= (an image folder), not both"),
      ("mlp_gan.py:epochs=many", "config argument epochs='many' is not a "
       "valid float — e.g. epochs=40.0")):
    fv = flags.FlagValues()
    config_flags.DEFINE_config_file("config", flag_values=fv)
    argv = ["main", f"--config={root / 'experiments' / arg}"]
    with pytest.raises(Exception) as info:
      fv(argv)
    assert "Traceback" in str(info.value)  # What absl would print.
    assert configs._flag_error_message(info.value, argv) == message


def test_a_config_file_that_does_not_load_is_one_line(tmp_path, capsys):
  """A missing or unreadable `--config` file: one line, exit 2 (ml_collections
  would raise only at the config's first use, as a traceback)."""
  for path, reason in ((tmp_path / "nope.py", "[Errno 2] No such file"),
                       (tmp_path, "[Errno 21] Is a directory")):
    fv = flags.FlagValues()
    config_flags.DEFINE_config_file("config", flag_values=fv)
    argv = ["main", f"--config={path}"]
    fv(argv)
    with pytest.raises(SystemExit) as info:
      configs.check_config_loaded(fv["config"], argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --config={path}: {reason}"), err
    assert err.count("\n") == 1 and "Traceback" not in err
  fv = flags.FlagValues()
  config_flags.DEFINE_config_file("config", flag_values=fv)
  fv(["main", f"--config={EXPERIMENTS[0]}"])
  configs.check_config_loaded(fv["config"], [])  # A good file passes.


def test_optional_keys_take_none_from_the_command_line(tmp_path):
  """`--config.train.ema_rampup=None` unsets a ramp-up the experiment set
  (what the official `--resume` does); a required key cannot be None."""
  root = pathlib.Path(__file__).parents[1]

  def dry_run(*overrides):
    return subprocess.run(
        [sys.executable, "-m", "stylegan_jax.main",
         "--config=experiments/demo.py", f"--workdir={tmp_path}",
         "--dry_run", *overrides], cwd=root, capture_output=True, text=True,
        timeout=300, check=False)

  done = dry_run("--config.train.ema_rampup=None",
                 "--config.model.conv_clamp=None",
                 "--config.train.batch_size=8")
  assert done.returncode == 0, done.stderr[-2000:]
  assert '"ema_rampup": null' in done.stdout
  assert '"conv_clamp": null' in done.stdout  # Set by default, may be None.
  assert '"batch_size": 8' in done.stdout
  bad = dry_run("--config.train.batch_size=None")
  assert bad.returncode == 2
  assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
  missing = dry_run("--config=experiments/no_such_experiment.py")
  assert missing.returncode == 2
  assert missing.stderr.strip().splitlines() == [
      "error: --config=experiments/no_such_experiment.py: [Errno 2] No such "
      "file or directory: 'experiments/no_such_experiment.py' — give an "
      "experiment file, e.g. --config=experiments/demo.py"], missing.stderr
