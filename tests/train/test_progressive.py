"""Progressive growing: ProGAN's schedule, the stage's optimiser, resume.

The schedule is checked against ProGAN's level-of-detail formula written out
here; the optimiser's stage mask and Adam reset on plain trees; the
end-to-end run (stages, data per stage, resume mid-fade) is `slow`.
"""

from fractions import Fraction
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from stylegan_jax import configs
from stylegan_jax import tree_util
from stylegan_jax.errors import ConfigError
from stylegan_jax.nets import progressive as nets
from stylegan_jax.train import loop
from stylegan_jax.train import progressive
from stylegan_jax.train.progressive import Stage
from tests.test_configs import _load
from tests.train.test_loop import tiny_config


def progressive_config(steps: int = 1, **schedule):
  c = tiny_config(steps)
  c.model.arch = "stylegan2_progressive"
  c.model.g_architecture = c.model.d_architecture = "orig"
  c.loss.pl_weight = 0.0
  c.progressive.batch_sizes = {4: 8, 8: 4}
  c.progressive.stage_kimg = 0.016
  c.progressive.fade_kimg = 0.016
  for key, value in schedule.items():
    c.progressive[key] = value
  return c


def progan_lod(nimg, resolution_log2, initial_resolution, training_kimg,
               transition_kimg):
  """ProGAN's `TrainingSchedule` level of detail (its training_loop.py), in
  exact fractions (its float64 gives 1e-16 fades at some boundaries)."""
  kimg = Fraction(nimg, 1000)
  training_kimg = Fraction(str(training_kimg))
  transition_kimg = Fraction(str(transition_kimg))
  phase_dur = training_kimg + transition_kimg
  phase_idx = int(np.floor(kimg / phase_dur)) if phase_dur > 0 else 0
  phase_kimg = kimg - phase_idx * phase_dur
  lod = resolution_log2 - int(np.floor(np.log2(initial_resolution)))
  lod -= phase_idx
  if transition_kimg > 0:
    lod -= max(phase_kimg - training_kimg, 0) / transition_kimg
  return max(lod, 0)


@pytest.mark.parametrize("start,final,stage_kimg,fade_kimg", [
    (4, 32, 0.6, 0.6), (4, 16, 0.5, 0.3), (8, 32, 0.4, 0.0),
    (4, 16, 0.0, 0.5), (16, 16, 0.6, 0.6)])
def test_schedule_follows_progan(start, final, stage_kimg, fade_kimg):
  c = configs.base_config()
  c.model.arch = "stylegan2_progressive"
  c.model.g_architecture = c.model.d_architecture = "orig"
  c.data.resolution = final
  c.train.batch_size = 4
  c.progressive.start_resolution = start
  c.progressive.stage_kimg = stage_kimg
  c.progressive.fade_kimg = fade_kimg
  configs.validate(c, check_paths=False)
  algorithms = {}
  stable, fade = round(stage_kimg * 1000), round(fade_kimg * 1000)
  marks = {k * (stable + fade) + o for k in range(6) for o in (0, stable)}
  counts = sorted({m + d for m in marks for d in (-1, 0, 1) if m + d >= 0}
                  | set(range(0, 6 * (stable + fade), 37)))
  for nimg in counts:
    lod = progan_lod(nimg, int(math.log2(final)), start, stage_kimg,
                     fade_kimg)
    stage = progressive.stage_at(c, nimg)
    assert stage.resolution == 2 ** (int(math.log2(final)) - math.floor(lod))
    assert stage.fading == (lod != math.floor(lod)), nimg
    assert stage.batch_size == 4
    if stage.fading:
      if stage not in algorithms:
        algorithms[stage] = progressive.ProgressiveStyleGAN.create(
            c, 0, stage=stage)
      alpha = float(algorithms[stage].alpha_at(jnp.int32(nimg)))
      # float32 (nimg - start) / fade: within 1e-6 of the exact value.
      assert alpha == pytest.approx(float(1 - (lod - math.floor(lod))),
                                    abs=1e-6)


def test_stage_boundaries_and_per_resolution_settings():
  c = configs.base_config()
  c.model.arch = "stylegan2_progressive"
  c.model.g_architecture = c.model.d_architecture = "orig"
  c.data.resolution = 16
  c.train.batch_size = 16
  c.progressive.batch_sizes = {4: 64, 8: 32, 1024: 4}
  c.progressive.g_lrs = {16: 0.003}
  c.progressive.d_lrs = {"8": 0.004}  # As a stored (JSON) config has it.
  configs.validate(c, check_paths=False)
  lr = c.optim.g_lr
  expected = [
      (0, Stage(4, False, 64, lr, lr)),
      (600_000, Stage(4, False, 64, lr, lr)),
      (600_001, Stage(8, True, 32, lr, 0.004)),
      (1_199_999, Stage(8, True, 32, lr, 0.004)),
      (1_200_000, Stage(8, False, 32, lr, 0.004)),
      (1_800_000, Stage(8, False, 32, lr, 0.004)),
      (1_800_001, Stage(16, True, 16, 0.003, lr)),
      (2_400_000, Stage(16, False, 16, 0.003, lr)),
      (10**9, Stage(16, False, 16, 0.003, lr))]
  for nimg, stage in expected:
    assert progressive.stage_at(c, nimg) == stage, nimg
  assert [s for s, _ in progressive.schedule(c)] == [
      0, 600_001, 1_200_000, 1_800_001, 2_400_000]
  fade = progressive.ProgressiveStyleGAN.create(c, 0, stage=expected[2][1])
  # Alpha is 0 at the nominal start, 1 at the end; Adam is reset in the
  # stage's first iteration (the previous stage's batch after its start).
  assert (fade.fade_start, fade.fade_nimg) == (600_000, 600_000)
  assert fade.reset_until == 600_001 + 64
  assert float(fade.alpha_at(jnp.int32(900_000))) == 0.5
  assert (fade.G.img_resolution, fade.G.fading, fade.D.fading) == (8, True,
                                                                   True)
  first = progressive.ProgressiveStyleGAN.create(c, 0)
  assert first.reset_until is None and first.batch_size == 64
  assert float(first.alpha_at(jnp.int32(5))) == 1.0


@pytest.mark.parametrize("change,message", [
    (dict(arch_g="skip"), "model.g_architecture='skip' is invalid"),
    (dict(stage_kimg=0.0, fade_kimg=0.0), "both 0"),
    (dict(stage_kimg=0.004), "at least one batch"),
    (dict(batch_sizes={8: 6}), "8x8 stage's batch 6"),
    (dict(batch_sizes={5: 8}), "key 5 is not a resolution"),
    (dict(g_lrs={8: -1.0}), "must be a positive number"),
    (dict(start_resolution=16), "progressive.start_resolution=16"),
])
def test_config_errors_are_one_line(change, message):
  c = progressive_config()
  if "arch_g" in change:
    c.model.g_architecture = change.pop("arch_g")
  for key, value in change.items():
    c.progressive[key] = value
  with pytest.raises(ConfigError, match=message) as e:
    configs.validate(c, num_devices=4, check_paths=False)
  assert "\n" not in str(e.value) and " — " in str(e.value)


def test_experiment_validates():
  path = pathlib.Path(__file__).resolve().parents[2] / "experiments"
  module = _load(path / "progressive.py")
  for arg in (None, "res=32,resnet,cond", "data=/x,res=256"):
    c = module.get_config(arg)
    configs.validate(c, num_devices=1, check_paths=False)
  assert progressive.stage_at(c, 0) == Stage(4, False, 128, 0.001, 0.001)
  assert progressive.stage_at(c, 10**9) == Stage(256, False, 8, 0.002,
                                                 0.002)


def test_optimiser_leaves_unused_parameters_alone():
  """Growing preserves weights: a stage's updates touch only its blocks.

  One G and one D update of the 4x4 stage from zero parameters with unit
  gradients everywhere: exactly the parameters the stage uses move and
  count an Adam step; the 8x8 block and its toRGB / fromRGB do not.
  """
  c = progressive_config()
  alg = progressive.ProgressiveStyleGAN.create(c, 0)  # 4x4, 8 px final.
  abstract = jax.eval_shape(alg.init_state, jax.random.key(0))

  @jax.jit
  def update(g, d):
    state = abstract.replace(g_params=g, d_params=d,
                             g_opt_state=alg.g_tx.init(g),
                             d_opt_state=alg.d_tx.init(d))
    ones = lambda t: jax.tree.map(jnp.ones_like, t)  # pylint: disable=unnecessary-lambda-assignment
    state, _ = alg._g_update(state, ones(g), "g_main", "G")  # pylint: disable=protected-access
    state, _ = alg._d_update(state, ones(d), "d_main", "D")  # pylint: disable=protected-access
    return (state.g_params, state.d_params, state.g_opt_state.count,
            state.d_opt_state.count)

  zeros = lambda t: jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), t)  # pylint: disable=unnecessary-lambda-assignment
  g, d, g_count, d_count = update(zeros(abstract.g_params),
                                  zeros(abstract.d_params))
  for params, counts, uses in [(g, g_count, nets.generator_uses),
                               (d, d_count, nets.discriminator_uses)]:
    moved = {k for k, v in tree_util.flatten(params).items() if np.any(v)}
    counted = {k for k, v in tree_util.flatten(counts).items() if v == 1}
    assert moved == counted == {k for k in tree_util.flatten(params)
                                if uses(k, 4, False)}
    assert not any(k.startswith(("synthesis/b8/", "b8/", "fromrgb8/"))
                   for k in moved)
    assert any(k.startswith(("synthesis/b4/", "fromrgb4/")) for k in moved)


def test_host_batch_and_render_sizes():
  c = progressive_config()
  alg = progressive.ProgressiveStyleGAN.create(  # The 4x4 stage.
      c, 5, class_probs=(0.2,) * 5)
  raw = {"image": np.arange(2 * 8 * 8 * 3, dtype=np.float32).reshape(
      2, 8, 8, 3) / 384 - 1, "label": np.array([1, 4])}
  batch = alg.host_batch(raw)
  np.testing.assert_array_equal(
      batch["image"], raw["image"].reshape(2, 4, 2, 4, 2, 3).mean((2, 4)))
  assert {k: v[0] for k, v in alg.batch_spec().items()} == {
      "image": (8, 4, 4, 3), "label": (8, 5)}
  abstract = jax.eval_shape(alg.init_state, jax.random.key(0))
  rng = np.random.RandomState(0)
  params, buffers = jax.tree.map(
      lambda x: np.asarray(rng.randn(*x.shape), x.dtype),
      (abstract.ema_params, abstract.ema_buffers))
  inputs = alg.grid_inputs(jax.random.key(1), 2, 2, True)
  img = np.asarray(jax.jit(alg.render)(params, buffers, inputs))
  assert img.shape == (4, 8, 8, 3)  # Up-sampled to the final resolution.
  np.testing.assert_array_equal(img[:, ::2, ::2], img[:, 1::2, 1::2])


def _leaves(tree):
  return [np.asarray(x) for x in jax.tree.leaves(tree)]


@pytest.mark.slow
def test_resume_mid_fade_is_bit_identical(tmp_path):
  """4x4 (batch 8) on [0, 16] -> 8x8 fading (batch 4) on (16, 32) -> 8x8.

  Iterations start at nimg 0, 8, 16 | 24, 28 | 32, 36; the interrupted run
  stops at 28 (alpha 0.75), the resumed one rebuilds the fade stage and
  recreates the data at example 28.
  """
  total = progressive_config()
  total.train.total_kimg = 0.040
  whole = loop.train_and_evaluate(total, str(tmp_path / "whole"))
  assert (int(whole.step), int(whole.nimg)) == (7, 40)
  part = progressive_config()
  part.train.total_kimg = 0.028
  part.evals.metrics = ""
  stopped = loop.train_and_evaluate(part, str(tmp_path / "resumed"))
  assert (int(stopped.step), int(stopped.nimg)) == (4, 28)
  assert float(stopped.g_buffers["alpha"]) == 0.75
  assert float(stopped.ema_buffers["alpha"]) == 0.75
  total.evals.metrics = ""
  resumed = loop.train_and_evaluate(total, str(tmp_path / "resumed"))
  for a, b in zip(_leaves(whole), _leaves(resumed)):
    np.testing.assert_array_equal(a, b)
  # Adam was reset when the 8x8 stage began (nimg 32): two G steps since.
  counts = tree_util.flatten(whole.g_opt_state.count)
  assert counts["synthesis/b8/conv0/weight"] == 2
  assert counts["synthesis/b4/torgb/weight"] == 0  # Unused at 8x8.
  assert float(whole.g_buffers["alpha"]) == 1.0
  grids = sorted(p.name for p in (tmp_path / "whole" / "samples").iterdir())
  assert grids == ["fakes000000000.png", "fakes000000040.png"]
