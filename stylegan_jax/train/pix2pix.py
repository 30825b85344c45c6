"""pix2pix's training algorithm (Isola et al. 2017) on the shared loop.

`Pix2Pix` (an `algorithm.Algorithm`, `model.arch='pix2pix'`) trains the
U-Net G and the PatchGAN D of `nets/pix2pix.py` on batches of
{'source', 'image'} pairs, as the paper and its reference code do:

* `d_main`: D learns to tell (source, target) from (source, G(source)):
  (BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)) / 2, the binary cross-entropy from
  logits averaged over every patch (the paper halves D's objective "to slow
  down the rate at which D learns relative to G"); `d_loss`.
* `g_main`, after D's update (the reference code's order): the
  non-saturating cGAN term BCE(D(x, G(x)), 1) with the updated D, plus
  `l1_weight` (lambda = 100) times the mean absolute error to the target,
  over pixels and channels in [-1, 1] (torch's L1Loss); `g_loss`.

Both phases run G with the same dropout noise (a key folded from the state's
key and the step), so they see the same G(x), as the reference code's single
forward pass does, and a resumed run draws exactly the same masks. Adam
(lr 2e-4, betas (0.5, 0.999) in `experiments/pix2pix.py`) comes from
`optim.create_optimizer` without the lazy-regularisation correction (there
is no regulariser). G_ema is kept as for every algorithm; with
`train.ema_kimg = 0` (the experiment's setting, the paper has no averaging)
it is G itself.

The sample grid shows held-out pairs (`grid_inputs`: the first of
`pipeline.paired_eval_set`) in rows of three: source | generated | target.
"""

from collections.abc import Callable, Sequence
import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from stylegan_jax.errors import ConfigError
from stylegan_jax.nets import create_networks
from stylegan_jax.train import algorithm
from stylegan_jax.train import augmentation
from stylegan_jax.train import optim
from stylegan_jax.train.state import TrainState

PHASES = ("d_main", "g_main")
Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


def bce_with_logits(logits: jax.Array, target: float) -> jax.Array:
  """Mean binary cross-entropy of sigmoid(logits) against a 0/1 target."""
  return jnp.mean(optax.sigmoid_binary_cross_entropy(
      logits, jnp.full_like(logits, target)))


def d_loss(real_logits: jax.Array,
           fake_logits: jax.Array) -> tuple[jax.Array, Metrics]:
  """D's loss, (BCE(real, 1) + BCE(fake, 0)) / 2 over all patches.

  Args:
    real_logits: D(x, y) [N, P, P, 1].
    fake_logits: D(x, G(x)) [N, P, P, 1].

  Returns:
    (loss, metrics).
  """
  loss_real = bce_with_logits(real_logits, 1.0)
  loss_fake = bce_with_logits(fake_logits, 0.0)
  loss = 0.5 * (loss_real + loss_fake)
  return loss, {"loss/D_main": loss, "loss/D_real": loss_real,
                "loss/D_fake": loss_fake,
                "scores/real": jnp.mean(real_logits),
                "scores/fake": jnp.mean(fake_logits)}


def g_loss(fake_logits: jax.Array, fake: jax.Array, target: jax.Array,
           l1_weight: float) -> tuple[jax.Array, Metrics]:
  """G's loss, BCE(D(x, G(x)), 1) + l1_weight * mean |target - G(x)|.

  Args:
    fake_logits: D(x, G(x)) [N, P, P, 1].
    fake: G(x) [N, H, W, C].
    target: y [N, H, W, C].
    l1_weight: lambda (100 in the paper).

  Returns:
    (loss, metrics).
  """
  gan = bce_with_logits(fake_logits, 1.0)
  l1 = jnp.mean(jnp.abs(target - fake))
  loss = gan + l1_weight * l1
  return loss, {"loss/G_main": loss, "loss/G_gan": gan, "loss/G_l1": l1}


@dataclasses.dataclass(frozen=True, eq=False, kw_only=True)
class Pix2Pix(algorithm.Algorithm):
  """pix2pix's iteration: `d_main`, then `g_main` (see the module doc).

  Attributes (besides `Algorithm`'s):
    l1_weight: lambda of the L1 term.
    data: the config's `data` section as a dict (where the held-out pairs
      for the sample grid come from).
  """

  l1_weight: float
  data: dict[str, Any]

  phase_names: ClassVar[tuple[str, ...]] = PHASES

  @classmethod
  def create(cls, config: ml_collections.ConfigDict, c_dim: int, *,
             class_probs: Sequence[float] | None = None,
             constrain_batch: Callable[[jax.Array], jax.Array] = (
                 lambda x: x)) -> "Pix2Pix":
    """The algorithm for an experiment config (see `setup.build`)."""
    if c_dim:
      raise ConfigError("pix2pix is conditioned on source images, not "
                        "labels — set data.conditional=False")
    G, D = create_networks(config, 0)
    o = config.optim
    g_tx = optim.create_optimizer(o.g_lr, tuple(o.betas), o.eps, None)
    d_tx = optim.create_optimizer(o.d_lr, tuple(o.betas), o.eps, None)
    return cls(G=G, D=D, g_tx=g_tx, d_tx=d_tx,
               batch_size=config.train.batch_size,
               ema_kimg=config.train.ema_kimg,
               ema_rampup=config.train.ema_rampup, class_probs=class_probs,
               constrain_batch=constrain_batch,
               l1_weight=config.loss.l1_weight, data=config.data.to_dict())

  def phases(self, step: int) -> list[str]:
    del step
    return list(PHASES)

  def init_state(self, key: jax.Array) -> TrainState:
    g_key, d_key, train_key = jax.random.split(key, 3)
    res = self.G.img_resolution
    source = jnp.zeros((1, res, res, self.G.in_channels))
    image = jnp.zeros((1, res, res, self.G.img_channels))
    g_params = self.G.init({"params": g_key}, source)["params"]
    d_params = self.D.init(d_key, source, image)["params"]
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        nimg=jnp.zeros((), jnp.int32),
        g_params=g_params,
        g_buffers={},  # G keeps none (no running statistics).
        d_params=d_params,
        g_opt_state=self.g_tx.init(g_params),
        d_opt_state=self.d_tx.init(d_params),
        ema_params=jax.tree.map(jnp.copy, g_params),
        ema_buffers={},
        augment=augmentation.init_state(0.0),  # pix2pix does not augment.
        pl_mean=jnp.zeros((), jnp.float32),  # Unused.
        key=jax.random.key_data(train_key))

  # -------------------------------------------------------------- data --

  def batch_spec(self) -> dict[str, tuple[tuple[int, ...], Any]]:
    res = self.G.img_resolution
    return {
        "source": ((self.batch_size, res, res, self.G.in_channels),
                   np.float32),
        "image": ((self.batch_size, res, res, self.G.img_channels),
                  np.float32)}

  def host_batch(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A paired pipeline batch -> {'source', 'image'} (labels dropped)."""
    return {"source": raw["source"], "image": raw["image"]}

  def grid_inputs(self, key: jax.Array, rows: int, cols: int,
                  class_rows: bool) -> dict[str, np.ndarray]:
    """Held-out pairs for a grid of `rows // 3` groups of three rows.

    Returns:
      {'source', 'target'}: float32 [groups, cols, H, W, C] (held-out pairs
      in order, repeated if there are fewer than groups * cols).
    """
    del key, class_rows
    # The input pipeline (TensorFlow) is loaded only where grids are made.
    from stylegan_jax.data import pipeline  # pylint: disable=g-import-not-at-top
    held_out = pipeline.paired_eval_set(pipeline.DataConfig.from_config(
        ml_collections.ConfigDict(self.data)))
    groups = max(1, rows // 3)
    index = np.arange(groups * cols) % len(held_out["source"])
    shape = (groups, cols) + held_out["source"].shape[1:]
    return {"source": held_out["source"][index].reshape(shape),
            "target": held_out["image"][index].reshape(shape)}

  def render(self, params, buffers, inputs: dict[str, jax.Array]
             ) -> jax.Array:
    """Rows of source | G_ema(source) | target, [groups * 3 * cols, H, W, C]."""
    del buffers
    source, target = inputs["source"], inputs["target"]
    groups, cols = source.shape[:2]
    fake = self.G.apply({"params": params},
                        source.reshape((-1,) + source.shape[2:]))
    fake = fake.reshape(source.shape[:2] + fake.shape[1:])
    rows = jnp.stack([source, fake, target], axis=1)  # [G, 3, cols, H, W, C]
    return rows.reshape((groups * 3 * cols,) + rows.shape[3:])

  # ------------------------------------------------------------ phases --

  def dropout_key(self, state: TrainState) -> jax.Array:
    """G's dropout key for this iteration (the same in both phases)."""
    key = jax.random.fold_in(jax.random.wrap_key_data(state.key), state.step)
    return jax.random.fold_in(key, 0)

  def translate_training(self, g_params, source: jax.Array,
                         key: jax.Array) -> jax.Array:
    """G in training mode (dropout on): [N, H, W, C] -> [N, H, W, C]."""
    return self.G.apply({"params": g_params}, source, train=True,
                        rngs={"dropout": key})

  def d_fn(self, d_params) -> Callable[[jax.Array, jax.Array], jax.Array]:
    return lambda source, image: self.D.apply({"params": d_params}, source,
                                              image)

  def d_main(self, state: TrainState, batch: Batch):
    """D's cGAN loss on (source, target) vs (source, G(source)); trains D."""
    source, real = batch["source"], batch["image"]
    fake = jax.lax.stop_gradient(self.translate_training(
        state.g_params, source, self.dropout_key(state)))

    def loss_fn(d_params):
      d_fn = self.d_fn(d_params)
      return d_loss(d_fn(source, real), d_fn(source, fake))

    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.d_params)
    params, opt_state, norms = self.optimizer_step(
        self.d_tx, grads, state.d_opt_state, state.d_params, "D")
    state = state.replace(d_params=params, d_opt_state=opt_state)
    return state, {**metrics, **norms}

  def g_main(self, state: TrainState, batch: Batch):
    """cGAN + lambda L1 with the updated D; trains G."""
    source, real = batch["source"], batch["image"]
    d_fn = self.d_fn(state.d_params)
    key = self.dropout_key(state)

    def loss_fn(g_params):
      fake = self.translate_training(g_params, source, key)
      return g_loss(d_fn(source, fake), fake, real, self.l1_weight)

    grads, metrics = jax.grad(loss_fn, has_aux=True)(state.g_params)
    params, opt_state, norms = self.optimizer_step(
        self.g_tx, grads, state.g_opt_state, state.g_params, "G")
    state = state.replace(g_params=params, g_opt_state=opt_state)
    return state, {**metrics, **norms}
