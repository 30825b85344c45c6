"""Perceptual path length (`ppl2_wend`, `ppl_zend`) over the device mesh.

The maths is `metrics.ppl` (epsilon 1e-4, the 1st-99th percentile mean);
this module runs it sharded: each batch of B samples is one jitted program
(latents drawn in it from `fold_in(key(evals.seed), batch index)`, split
along the mesh's `data` axis; LPIPS-VGG from the user's `vgg16` and `lpips`
files), so the samples depend on `evals.batch_size` (rounded up to a
multiple of the device count) but not on how many devices share a batch.
Labels of a conditional generator are those of the generated images
(`generated.GeneratedImages.labels`). As in the official metric the mapping
is not truncated, and the synthesis noise follows `evals.noise_mode`:
'random' draws fresh maps per sample, shared by its two end points (the
official re-randomises its constant noise per batch), 'const' uses the
generator's stored maps. The centre crop (`evals.ppl_crop`, FFHQ faces) is
off by default. LPIPS-VGG needs images of at least 16 px.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from stylegan_jax import labels as labels_lib
from stylegan_jax import sharding
from stylegan_jax.errors import UserError
from stylegan_jax.evaluators import base
from stylegan_jax.evaluators import context as context_lib
from stylegan_jax.evaluators import generated as generated_lib
from stylegan_jax.features import lpips
from stylegan_jax.metrics import ppl
from stylegan_jax.nets.synthesis import noise_layer_names

MIN_RESOLUTION = 16  # LPIPS-VGG's last tap follows four 2x2 pools.


@functools.lru_cache(maxsize=8)
def _distances_fn(G, space: str, sampling: str, epsilon: float, crop: bool,
                  noise_mode: str, mesh: jax.sharding.Mesh):
  """jitted (variables, vgg, lin, key, c [B, c_dim]) -> distances [B]."""
  constrain = functools.partial(jax.lax.with_sharding_constraint,
                                shardings=sharding.batch_sharding(mesh))

  def fn(variables, vgg_params, lin_params, key, c):
    num = c.shape[0]
    sample_key, noise_key = jax.random.split(key)

    def mapping(z, cc):  # z [2B, z_dim]
      return G.apply(variables, constrain(z), cc if G.c_dim else None,
                     method=G.map)

    def synthesis(ws):  # ws [2B, num_ws, w_dim]: both end points
      if noise_mode != "random":
        return G.apply(variables, ws, noise_mode=noise_mode,
                       method=G.synthesize)
      noise = {}
      for i, name in enumerate(noise_layer_names(G.img_resolution)):
        res = int(name.split("/")[0][1:])
        n = jax.random.normal(jax.random.fold_in(noise_key, i),
                              (num, res, res, 1))  # [B, res, res, 1]
        noise[name] = constrain(jnp.concatenate([n, n]))  # Same per pair.
      return G.apply(variables, ws, noise_mode="const", noise=noise,
                     method=G.synthesize)

    def distance(x0, x1):
      return lpips.distance(vgg_params, lin_params, x0, x1)

    return ppl.sample_distances(
        sample_key, mapping=mapping, synthesis=synthesis, distance=distance,
        num=num, z_dim=G.z_dim, c=c if G.c_dim else None, epsilon=epsilon,
        space=space, sampling=sampling, crop=crop)

  return jax.jit(fn, out_shardings=sharding.replicated(mesh))


class PPL(base.Evaluator):
  """Perceptual path length (see the module docstring)."""

  def __init__(self, spec, evals):
    super().__init__(spec, evals)
    self.seed = int(evals.seed)
    self.crop = bool(evals.ppl_crop)

  def check_generator(self, G) -> None:
    if not generated_lib.is_stylegan(G):
      raise UserError(f"{self.name} interpolates latents through a mapping "
                      f"network, which {type(G).__name__} has not — drop "
                      f"{self.name} from the metrics")
    if G.img_resolution < MIN_RESOLUTION:
      raise UserError(
          f"{self.name} measures LPIPS-VGG distances, which need images of "
          f"at least {MIN_RESOLUTION} px; this generator makes "
          f"{G.img_resolution} px — drop {self.name} from the metrics")

  def __call__(self, ctx):
    self.check_generator(ctx.G)
    num, _ = ctx.counts(self.spec)
    opts = self.spec.options
    fn = _distances_fn(ctx.G, opts["space"], opts["sampling"],
                       float(opts["epsilon"]), self.crop,
                       ctx.generated.noise_mode, ctx.mesh)
    vgg_params, lin_params = ctx.params("vgg16"), ctx.params("lpips")
    labels = ctx.labels(num)
    c_dim = len(ctx.generated.class_probs)
    key = jax.random.key(self.seed)
    progress = context_lib.Progress(
        ctx.log, f"{self.name}: path lengths of {num:,} samples", num)
    parts, done = [], 0
    for b, start in enumerate(range(0, num, ctx.batch_size)):
      stop = min(start + ctx.batch_size, num)
      c = labels_lib.one_hot(labels[start:stop], c_dim)
      [c] = generated_lib.to_devices(ctx.pad_batch([c], stop - start), ctx.mesh)
      d = fn(ctx.variables, vgg_params, lin_params,
             jax.random.fold_in(key, b), c)
      parts.append(np.asarray(d)[:stop - start])
      done = stop
      progress.update(done)
    value = ppl.path_length(np.concatenate(parts))
    return {self.name: value}, self.counts(num, 0)
