"""The `evals` config check: metric names, weights named at config time,
and generators a metric cannot measure refused before any work."""

import pytest

from stylegan_jax import configs
from stylegan_jax import sharding
from stylegan_jax.errors import ConfigError
from stylegan_jax.errors import UserError
from stylegan_jax.evaluators import Evaluation
from stylegan_jax.evaluators import RealImages
from stylegan_jax.evaluators import specs
from stylegan_jax.nets import Generator


def _evals(**kwargs):
  evals = configs.base_config().evals
  for k, v in kwargs.items():
    evals[k] = v
  return evals


def test_defaults_need_no_weights():
  # SWD runs at every snapshot without any file.
  config = configs.base_config()
  configs.validate(config)
  assert specs.check_evals(config.evals) == ["swd"]
  assert specs.check_evals(_evals(metrics="")) == []


def test_official_names_and_counts():
  m = specs.METRICS
  assert (m["fid50k_full"].num_gen, m["fid50k_full"].max_real) == (50_000,
                                                                   None)
  assert m["kid50k_full"].options == {"num_subsets": 100,
                                      "max_subset_size": 1000}
  assert m["pr50k3_full"].options == {"k": 3}
  assert m["is50k"].options == {"num_splits": 10}
  assert m["is50k"].max_real == 0
  for name, space in (("ppl2_wend", "w"), ("ppl_zend", "z")):
    assert m[name].options == {"space": space, "sampling": "end",
                               "epsilon": 1e-4}
  assert m["fid10k"].num_gen == m["fid10k"].max_real == 10_000


@pytest.mark.parametrize("metrics, missing, file_name", [
    ("fid50k_full", "inception", "pt_inception-2015-12-05-6726825d.pth"),
    ("swd,kid50k_full,is50k", "inception",
     "pt_inception-2015-12-05-6726825d.pth"),
    ("pr50k3_full", "vgg16", "vgg16-397923af.pth"),
    ("ppl2_wend", "vgg16", "vgg16-397923af.pth"),
])
def test_missing_weights_fail_at_config_time(metrics, missing, file_name):
  config = configs.base_config()
  config.evals.metrics = metrics
  with pytest.raises(ConfigError) as info:
    configs.validate(config)
  message = str(info.value)
  assert "\n" not in message
  assert f"evals.{missing} is not set" in message
  assert file_name in message and "never downloads" in message
  assert f"--{missing}" in message  # How the metrics tool takes it.


def test_ppl_names_the_lpips_heads(tmp_path):
  vgg = tmp_path / "vgg16.pth"
  vgg.write_bytes(b"x")
  with pytest.raises(ConfigError, match=r"evals.lpips is not set .*"
                     r"weights/v0.1/vgg.pth"):
    specs.check_evals(_evals(metrics="ppl_zend", vgg16=str(vgg)))


def test_weights_path_must_exist(tmp_path):
  evals = _evals(metrics="fid10k", inception=str(tmp_path / "nope.pth"))
  with pytest.raises(ConfigError, match="nope.pth' is not a file — fid10k "
                     "needs the FID Inception-v3 weights: pytorch-fid's"):
    specs.check_evals(evals)
  specs.check_evals(evals, check_paths=False)  # Paths unchecked: fine.


@pytest.mark.parametrize("key, value, match", [
    ("metrics", "fid50k", r"unknown metric 'fid50k' .* fid50k_full"),
    ("resize_mode", "bicubic", "pytorch-fid, clean"),
    ("noise_mode", "white", "random, const, none"),
    ("truncation_psi", float("nan"), "finite"),
    ("batch_size", 0, "1 to 4096"),
    ("swd_num_images", 0, "drop swd"),
    ("swd_directions", 0, "1 to 16384"),
    ("seed", -1, r"\[0, 2\*\*31\)"),
    ("max_images", -1, "--num_images"),
])
def test_bad_options(key, value, match):
  with pytest.raises(ConfigError, match=match):
    specs.check_evals(_evals(**{key: value}))


def test_max_images_must_fit_the_metrics(tmp_path):
  weights = tmp_path / "w.pth"
  weights.write_bytes(b"x")
  evals = _evals(metrics="is50k,fid50k_full", inception=str(weights),
                 max_images=4)
  with pytest.raises(ConfigError, match="or 10 to 1,000,000"):
    specs.check_evals(evals)
  evals.max_images = 10
  assert specs.check_evals(evals) == ["is50k", "fid50k_full"]


def test_unknown_evals_key_names_the_nearest():
  config = configs.base_config()
  config.evals.swd_images = 3
  with pytest.raises(ConfigError, match="evals.swd_num_images"):
    configs.validate(config)


def test_generators_a_metric_cannot_measure_fail_at_construction():
  with pytest.raises(UserError, match="swd compares 7x7 patches; this "
                     "generator makes 4 px images"):
    Evaluation(_evals(), reals=RealImages("embedded", num_images=4),
               class_probs=None, mesh=sharding.create_mesh(),
               G=Generator(img_resolution=4))
