"""The research hooks: an extra D loss reaches D exactly as a hand-written step.

The reference step below rebuilds D's update from the public pieces
(`sample_latents`, `generator_forward`, `losses.d_main_loss`, the optimiser)
with the extra term written out, and must match the hooked `d_main`.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from stylegan_jax import losses
from stylegan_jax import sharding
from stylegan_jax.data import embedded
from stylegan_jax.train import loop
from stylegan_jax.train import setup as setup_lib
from stylegan_jax.train import step as step_lib
from tests.train.test_loop import tiny_config

WEIGHT = 0.5


def logit_l2(t: step_lib.PhaseTensors):
  """A consistency-style term on D's real logits."""
  loss = WEIGHT * jnp.mean(jnp.square(t.real_logits))
  return loss, {"loss/D_logit_l2": loss}


def _batch(setup):
  images, labels = embedded.make_dataset(8, 8, seed=1)
  return setup.global_batch({"image": images.astype(np.float32) / 127.5 - 1,
                             "label": labels})


def test_extra_d_loss_matches_a_hand_written_step():
  config = tiny_config(1)
  mesh = sharding.create_mesh(1)
  hooked = setup_lib.build(config, 5, mesh, extra_d_loss=logit_l2)
  batch = _batch(hooked)
  state = hooked.init()
  alg = hooked.algorithm

  # Hand-written reference: the same latents and fakes, the loss written out.
  latent_key, g_key, _ = jax.random.split(alg.phase_key(state, "d_main"), 3)
  z, c = step_lib.sample_latents(latent_key, config.train.batch_size,
                                 alg.G.z_dim, alg.class_probs)
  fake, _, _ = step_lib.generator_forward(
      alg.G, state.g_params, state.g_buffers, z, c, g_key,
      style_mixing_prob=config.loss.style_mixing_prob)

  @jax.jit
  def reference_step(d_params, opt_state, weight):
    def loss_fn(d_params):
      d = lambda img, c_: alg.D.apply({"params": d_params}, img, c_)  # pylint: disable=unnecessary-lambda-assignment
      real_logits = d(batch["image"], batch["label"])
      loss, _ = losses.d_main_loss(d(jax.lax.stop_gradient(fake), c),
                                   real_logits)
      return loss + weight * jnp.mean(jnp.square(real_logits))

    grads = jax.grad(loss_fn)(d_params)
    updates, _ = alg.d_tx.update(grads, opt_state, d_params)
    return optax.apply_updates(d_params, updates)

  expected = reference_step(state.d_params, state.d_opt_state, WEIGHT)
  without = reference_step(state.d_params, state.d_opt_state, 0.0)

  new_state, metrics = hooked.steps["d_main"](state, batch)
  assert "loss/D_logit_l2" in metrics and float(metrics["loss/D_logit_l2"]) > 0
  for got, want in zip(jax.tree.leaves(new_state.d_params),
                       jax.tree.leaves(expected)):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)

  # Without the term the update differs: the term's gradient reached D.
  diffs = [np.max(np.abs(np.asarray(a) - np.asarray(b))) for a, b in zip(
      jax.tree.leaves(new_state.d_params), jax.tree.leaves(without))]
  assert max(diffs) > 1e-4


@pytest.mark.slow  # Its compiles take tens of seconds on 2 cores.
def test_train_and_evaluate_takes_the_hooks(tmp_path):
  seen = []

  def extra_g(t: step_lib.PhaseTensors):
    seen.append(t.phase)  # Traced once per compiled phase.
    loss = 1e-3 * jnp.mean(jnp.square(t.fake))
    return loss, {"loss/G_pixel_l2": loss}

  config = tiny_config(2)
  config.loss.pl_weight = config.loss.r1_gamma = 0.0  # Fewer programs.
  config.evals.metrics = ""  # No SWD: fewer programs.
  state = loop.train_and_evaluate(config, str(tmp_path),
                                  extra_g_loss=extra_g,
                                  extra_d_loss=logit_l2)
  assert int(state.step) == 2 and seen == ["g_main"]
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state.d_params))
