"""Projection of an image into a generator's latent space.

The library behind `python -m stylegan_jax.project` (see
`stylegan_jax.tools.project`). This module owns the projector of the StyleGAN2 paper (Karras et al. 2020,
Appendix D), written from the paper: the target preprocessing, the
optimisation of w (or, with `w_plus`, one w per synthesis input) and of the
per-layer noise maps, its learning-rate and latent-noise schedules, the
noise regulariser, the image distance, and the files the CLI writes.

The optimisation, step i of T, t = i / T:

* w starts at the model's `w_avg` buffer (the sample mean of 10k mapped z
  when that buffer was never updated, i.e. all zero). sigma_w is the root
  mean squared Euclidean distance of 10k mapped z to their mean.
* Adam (beta1 0.9, beta2 0.999, eps 1e-8) with learning rate
  `learning_rate(t)`: 0.1, times a linear ramp-up over the first 5% of the
  steps, times a cosine ramp-down over the last 25%.
* Each step perturbs w with Gaussian noise of std
  `latent_noise_std(t, sigma_w)` = sigma_w * 0.05 * max(0, 1 - t/0.75)^2.
* With `optimize_noise`, the noise maps (one [res, res] per modulated conv,
  started from N(0, 1)) are optimised too, and fed to the synthesis network
  as its `noise_const` buffers with noise_mode='const', so each layer adds
  noise_map * noise_strength (its trained parameter). After every step each
  map is renormalised to zero mean and unit variance. The loss adds 1e5 x
  `noise_regularization`. Without it the model's own `noise_const` maps are
  used, unchanged.
* The loss is `distance(G(w), target)`, with the distance either:
  - 'pixel_msssim' (default; needs no weights): mean((x - y)^2) + 0.1 *
    (1 - ms_ssim(x, y)), with x, y in [-1, 1]. The 0.1 balances the two
    terms near convergence (a mean squared error of ~0.01, i.e. 26 dB, and
    1 - MS-SSIM of ~0.1). `metrics.image_quality.ms_ssim` uses fewer
    scales on small images (one scale from 11 to 21 px, all five from 176
    px); below 11 px the MS-SSIM term is dropped.
  - a feature function (e.g. `vgg16_features(params)`: torchvision's VGG16
    from the user's `vgg16-397923af.pth` via `features.weights`, its ReLU
    outputs at LPIPS's five taps): images larger than 256 px are first
    resized to 256 (antialiased linear; this bounds the cost), then for
    each feature map F [1, h, w, c], unit-normalised along the channels
    (`features.lpips.normalize_channels`), the distance adds
    mean_{h,w} sum_c (F_x - F_y)^2. This is LPIPS with all linear weights 1
    (its "baseline" variant), not the learned LPIPS.

* With a `style` target (`style_transfer.style_objective`: VGG19 Gram
  matrices of one or more style images, as in Gatys et al.), the loss adds
  its weighted Gram-matrix MSE on the synthesised image, mapped to [0, 1],
  grayscale repeated to RGB and, above 256 px, resized to 256 as for the
  feature distance. The image then keeps the target's structure (the
  distance) and takes on the painting's style (the Gram term).

The result's PSNR and SSIM compare the image clipped to [-1, 1] (what
`proj.png` shows) with the target, via `metrics.image_quality`; with a
style target its style distance (per style image, the summed Gram MSE) is
reported too.
"""

from collections.abc import Callable, Sequence
import dataclasses
import functools
import pathlib
import time
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from stylegan_jax import images as images_lib
from stylegan_jax import model_io
from stylegan_jax.features import lpips
from stylegan_jax.features import vgg
from stylegan_jax import style_transfer
from stylegan_jax.metrics import image_quality

INITIAL_LR = 0.1
LR_RAMPUP = 0.05
LR_RAMPDOWN = 0.25
INITIAL_NOISE_FACTOR = 0.05
NOISE_RAMP_LENGTH = 0.75
NOISE_REG_WEIGHT = 1e5
MSSSIM_WEIGHT = 0.1
W_AVG_SAMPLES = 10_000
FEATURE_RESOLUTION = 256

FeatureFn = Callable[[jax.Array], Sequence[jax.Array]]


@dataclasses.dataclass(frozen=True)
class ProjectionResult:
  """What `project` found.

  Attributes:
    ws: [num_ws, w_dim] (num_ws copies of one w unless w_plus).
    noise: {buffer path ('synthesis/b8/conv0/noise_const'): [res, res]} when
      the noise was optimised, else None.
    image: the projection, [H, W, C], not clipped.
    psnr: PSNR in dB of the clipped image vs the target.
    ssim: SSIM of the clipped image vs the target (NaN below 11 px).
    frames: [F, H, W, C] uint8 snapshots every `progress_every` steps (and
      the final image); empty when progress_every is 0.
    losses: [num_steps] total loss per step.
    style_distance: with a style target, per style image the summed
      Gram-matrix MSE of the clipped image over the style layers; else None.
  """

  ws: np.ndarray
  noise: dict[str, np.ndarray] | None
  image: np.ndarray
  psnr: float
  ssim: float
  frames: np.ndarray
  losses: np.ndarray
  style_distance: tuple[float, ...] | None = None


def learning_rate(t: float | jax.Array, initial_lr: float = INITIAL_LR,
                  rampup: float = LR_RAMPUP,
                  rampdown: float = LR_RAMPDOWN) -> jax.Array:
  """Learning rate at progress t in [0, 1].

  initial_lr * min(1, t / rampup) * (1 - cos(pi * min(1, (1 - t) /
  rampdown))) / 2: zero at t = 0, full from t = rampup to 1 - rampdown,
  then a half cosine down to zero at t = 1.
  """
  t = jnp.asarray(t, jnp.float32)
  up = jnp.minimum(1.0, t / rampup)
  down = 0.5 - 0.5 * jnp.cos(jnp.pi * jnp.minimum(1.0, (1.0 - t) / rampdown))
  return initial_lr * up * down


def latent_noise_std(t: float | jax.Array, w_std: float | jax.Array,
                     factor: float = INITIAL_NOISE_FACTOR,
                     ramp_length: float = NOISE_RAMP_LENGTH) -> jax.Array:
  """Std of the noise added to w at progress t: w_std * factor * ramp^2."""
  t = jnp.asarray(t, jnp.float32)
  return w_std * factor * jnp.square(jnp.maximum(0.0, 1.0 - t / ramp_length))


def noise_regularization(noise_maps: Sequence[jax.Array]) -> jax.Array:
  """Multi-scale autocorrelation penalty of the noise maps.

  For each map, at each level of a pyramid (the map, then repeated 2x2
  average pools, down to and including 8x8; maps of 8x8 or less have one
  level), adds the squared mean of the map times itself shifted circularly
  by one pixel in x, and the same in y. White noise scores ~2/(h*w) per
  level; spatially correlated maps score more.

  Args:
    noise_maps: [res, res] maps (square, power-of-two sides).

  Returns:
    Scalar penalty.
  """
  total = jnp.zeros((), jnp.float32)
  for n in noise_maps:
    while True:
      total += jnp.square(jnp.mean(n * jnp.roll(n, 1, axis=0)))
      total += jnp.square(jnp.mean(n * jnp.roll(n, 1, axis=1)))
      if n.shape[0] <= 8:
        break
      h, w = n.shape
      n = n.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))  # [h/2, w/2]
  return total


def pixel_msssim_distance(x: jax.Array, y: jax.Array) -> jax.Array:
  """mean((x - y)^2) + 0.1 * (1 - MS-SSIM); x, y [N, H, W, C] -> [N]."""
  mse = jnp.mean(jnp.square(x - y), axis=(1, 2, 3))
  if image_quality.ms_ssim_num_scales(x.shape[1:3]) == 0:
    return mse  # smaller than the SSIM window
  return mse + MSSSIM_WEIGHT * (1.0 - image_quality.ms_ssim(x, y))


def feature_distance(fx: Sequence[jax.Array],
                     fy: Sequence[jax.Array]) -> jax.Array:
  """LPIPS-style distance of two feature lists ([N, h, w, c] each) -> [N]."""
  total = 0.0
  for a, b in zip(fx, fy, strict=True):
    a, b = lpips.normalize_channels(a), lpips.normalize_channels(b)
    total += jnp.mean(jnp.sum(jnp.square(a - b), axis=-1), axis=(1, 2))
  return total


def vgg16_features(params: dict[str, jax.Array]) -> FeatureFn:
  """The VGG16 feature function for `project(loss=...)`.

  Args:
    params: VGG16 params, `features.weights.load('vgg16', path)` of
      torchvision's `vgg16-397923af.pth`.

  Returns:
    fn(images [N, H, W, 3] in [-1, 1], H, W >= 16) -> the ReLU outputs
    relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (LPIPS's taps):
    [N, H, W, 64], ..., [N, H / 16, W / 16, 512].
  """
  if vgg.depth_of(params) != 16:
    raise ValueError("the projector's feature loss needs VGG16 weights "
                     "(torchvision's vgg16-397923af.pth), got VGG19")

  def fn(images: jax.Array) -> list[jax.Array]:
    out = vgg.features(params, (images + 1) / 2, lpips.TAPS)
    return [out[name] for name in lpips.TAPS]

  return fn


def load_target(path: str | pathlib.Path, resolution: int,
                channels: int = 3) -> np.ndarray:
  """Reads an image, centre-crops it square and Lanczos-resizes it.

  Args:
    path: any image pillow reads.
    resolution: output side.
    channels: 3 (RGB) or 1 (grayscale).

  Returns:
    [resolution, resolution, channels] float32 in [-1, 1].
  """
  return images_lib.to_float(
      images_lib.read_image(path, resolution, channels=channels))


def w_statistics(model: model_io.Model, c: jax.Array | None = None,
                 num_samples: int = W_AVG_SAMPLES,
                 seed: int = 123) -> tuple[jax.Array, jax.Array]:
  """Where w starts and sigma_w, from `num_samples` mapped z.

  Args:
    model: the generator.
    c: one-hot label [c_dim] for conditional models, else None.
    num_samples: z samples.
    seed: their seed.

  Returns:
    (w_start [w_dim]: the `w_avg` buffer, or the sample mean if that
    buffer is all zero; sigma_w: RMS distance of the samples to their
    mean, scalar).
  """
  model.require_stylegan("the W statistics")
  G = model.G
  z = jax.random.normal(jax.random.key(seed), (num_samples, G.z_dim))
  cs = None if c is None else jnp.broadcast_to(c, (num_samples, G.c_dim))
  ws = jax.jit(functools.partial(G.apply, method=G.map))(
      model.variables, z, cs)[:, 0]  # [S, w_dim]
  mean = jnp.mean(ws, axis=0)
  w_std = jnp.sqrt(jnp.mean(jnp.sum(jnp.square(ws - mean), axis=-1)))
  w_avg = model.variables.get("buffers", {}).get("mapping", {}).get("w_avg")
  if w_avg is None or not np.any(np.asarray(w_avg)):
    w_avg = mean
  return jnp.asarray(w_avg, jnp.float32), w_std


def noise_buffer_paths(variables) -> list[str]:
  """'/'-joined `noise_const` buffer paths ('synthesis/b4/conv1/...')."""
  flat = flax.traverse_util.flatten_dict(
      flax.core.unfreeze(variables.get("buffers", {})), sep="/")
  return sorted(k for k in flat if k.endswith("noise_const"))


def _with_noise(buffers, noise: dict[str, jax.Array]):
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(buffers), sep="/")
  flat.update(noise)
  return flax.traverse_util.unflatten_dict(flat, sep="/")


def project(
    model: model_io.Model,
    target: np.ndarray | jax.Array,
    *,
    num_steps: int = 1000,
    w_plus: bool = False,
    optimize_noise: bool = True,
    loss: str | FeatureFn = "pixel_msssim",
    seed: int = 0,
    progress_every: int = 0,
    class_index: int | None = None,
    noise_reg_weight: float = NOISE_REG_WEIGHT,
    initial_lr: float = INITIAL_LR,
    verbose: bool = False,
    style: style_transfer.Objective | None = None,
) -> ProjectionResult:
  """Finds ws (and noise maps) whose image matches `target`.

  Args:
    model: the generator to invert.
    target: [H, W, C] float in [-1, 1], H = W = the model's resolution.
    num_steps: optimisation steps.
    w_plus: optimise num_ws separate ws instead of one broadcast w.
    optimize_noise: optimise the per-layer noise maps too.
    loss: 'pixel_msssim', or a feature function images [N, H, W, 3] in
      [-1, 1] -> list of [N, h, w, c] (see the module docstring).
    seed: seeds the latent noise and the initial noise maps.
    progress_every: keep a frame every this many steps (0: none).
    class_index: the label for conditional models.
    noise_reg_weight: weight of `noise_regularization`.
    initial_lr: peak learning rate.
    verbose: print the loss now and then.
    style: an optional style target (`style_transfer.style_objective`)
      whose weighted Gram-matrix loss is added (see the module docstring).

  Returns:
    A ProjectionResult.
  """
  model.require_stylegan("projection")
  G, variables = model.G, model.variables
  res = G.img_resolution
  target = jnp.asarray(target, jnp.float32)
  if target.shape != (res, res, G.img_channels):
    raise ValueError(f"target must be [{res}, {res}, {G.img_channels}], got "
                     f"{target.shape}")
  c = None
  if G.c_dim:
    if class_index is None:
      raise ValueError(f"{model.source} is conditional: give a class_index")
    c = jax.nn.one_hot(class_index, G.c_dim)
  w_start, w_std = w_statistics(model, c)

  def prepare(img):  # [N, H, W, C] -> RGB, at most 256 px (features)
    if img.shape[-1] == 1:
      img = jnp.tile(img, (1, 1, 1, 3))
    if img.shape[1] > FEATURE_RESOLUTION:
      img = jax.image.resize(
          img, (img.shape[0], FEATURE_RESOLUTION, FEATURE_RESOLUTION, 3),
          "linear", antialias=True)
    return img

  def style_terms(img):  # [1, H, W, C] in [-1, 1] -> Objective.terms
    return style.terms(prepare((img + 1.0) / 2.0))

  # The distance, with the target's features computed once.
  if loss == "pixel_msssim":
    def distance(img):  # [1, H, W, C] -> scalar
      return pixel_msssim_distance(img, target[None])[0]
  elif callable(loss):
    target_features = jax.jit(lambda t: loss(prepare(t)))(target[None])

    def distance(img):
      return feature_distance(loss(prepare(img)), target_features)[0]
  else:
    raise ValueError(f"loss must be 'pixel_msssim' or a feature function, "
                     f"got {loss!r}")

  key = jax.random.key(seed)
  noise_key, step_key = jax.random.split(key)
  paths = noise_buffer_paths(variables)
  params = {"w": jnp.tile(w_start[None], (G.num_ws if w_plus else 1, 1))}
  if optimize_noise:
    keys = jax.random.split(noise_key, len(paths))
    params["noise"] = {
        p: jax.random.normal(k, _leaf(variables["buffers"], p).shape)
        for p, k in zip(paths, keys)}
  optimizer = optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8)
  opt_state = optimizer.init(params)

  def synthesize(params, ws):  # ws [num_ws, w_dim] -> [1, H, W, C]
    buffers = variables["buffers"]
    if "noise" in params:
      buffers = _with_noise(buffers, params["noise"])
    return G.apply({"params": variables["params"], "buffers": buffers},
                   ws[None], "const", method=G.synthesize)

  def to_ws(w):  # [1 or num_ws, w_dim] -> [num_ws, w_dim]
    return jnp.broadcast_to(w, (G.num_ws, G.w_dim))

  def loss_fn(params, w_noise):
    img = synthesize(params, to_ws(params["w"] + w_noise))
    dist = distance(img)
    if style is not None:
      dist = dist + style_terms(img)["total"]
    reg = (noise_regularization(list(params["noise"].values()))
           if "noise" in params else jnp.zeros(()))
    return dist + noise_reg_weight * reg, (dist, reg)

  @functools.partial(jax.jit, donate_argnums=(0, 1))
  def step(params, opt_state, i):
    t = i / num_steps
    w_noise = jax.random.normal(jax.random.fold_in(step_key, i),
                                params["w"].shape)
    w_noise *= latent_noise_std(t, w_std)
    grads, (dist, reg) = jax.grad(loss_fn, has_aux=True)(params, w_noise)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    lr = learning_rate(t, initial_lr)
    params = jax.tree.map(lambda p, u: p - lr * u, params, updates)
    if "noise" in params:
      params["noise"] = jax.tree.map(_renormalize, params["noise"])
    return params, opt_state, dist + noise_reg_weight * reg

  render = jax.jit(lambda params: synthesize(params, to_ws(params["w"]))[0])

  frames, losses = [], []
  start = time.time()
  for i in range(num_steps):
    if progress_every and i % progress_every == 0:
      frames.append(images_lib.to_uint8(render(params)))
    params, opt_state, total = step(params, opt_state, i)
    losses.append(total)
    if verbose and (i % 100 == 0 or i == num_steps - 1):
      print(f"step {i + 1:5d}/{num_steps}: loss {float(total):.5f} "
            f"({time.time() - start:.1f}s)")
  image = render(params)
  if progress_every:
    frames.append(images_lib.to_uint8(image))
  clipped = jnp.clip(image, -1.0, 1.0)[None]
  psnr = float(image_quality.psnr(target[None], clipped)[0])
  ssim = (float(image_quality.ssim(target[None], clipped)[0])
          if res >= 11 else float("nan"))
  noise = None
  if "noise" in params:
    noise = {p: np.asarray(n) for p, n in params["noise"].items()}
  style_distance = None
  if style is not None:
    terms = jax.jit(style_terms)(clipped)
    style_distance = tuple(float(d) for d in
                           np.asarray(terms["style"]).sum(axis=1))
  return ProjectionResult(
      ws=np.asarray(to_ws(params["w"])), noise=noise, image=np.asarray(image),
      psnr=psnr, ssim=ssim,
      frames=(np.stack(frames) if frames else
              np.zeros((0, res, res, G.img_channels), np.uint8)),
      losses=np.asarray(jnp.stack(losses)) if losses else np.zeros((0,)),
      style_distance=style_distance)


def _renormalize(n: jax.Array) -> jax.Array:
  """Zero mean, unit variance."""
  n = n - jnp.mean(n)
  return n * jax.lax.rsqrt(jnp.mean(jnp.square(n)))


def _leaf(tree, path: str) -> Any:
  for k in path.split("/"):
    tree = tree[k]
  return tree


def write_outputs(outdir: str | pathlib.Path, result: ProjectionResult,
                  target: np.ndarray, frame_ms: int = 100) -> pathlib.Path:
  """Writes projected_w.npz, proj.png, target.png and progress.gif.

  `projected_w.npz` holds 'ws' [num_ws, w_dim] and, when the noise was
  optimised, each map under 'noise/<buffer path>' ([res, res]); the GIF
  shows target | projection side by side.

  Args:
    outdir: folder (created).
    result: from `project`.
    target: [H, W, C] in [-1, 1].
    frame_ms: GIF frame duration.

  Returns:
    The folder.
  """
  outdir = pathlib.Path(outdir)
  outdir.mkdir(parents=True, exist_ok=True)
  arrays = {"ws": result.ws.astype(np.float32)}
  for p, n in (result.noise or {}).items():
    arrays[f"noise/{p}"] = n.astype(np.float32)
  with images_lib.atomic_path(outdir / "projected_w.npz") as tmp, open(
      tmp, "wb") as f:
    np.savez(f, **arrays)
  images_lib.save_png(images_lib.to_uint8(result.image), outdir / "proj.png")
  target_u8 = images_lib.to_uint8(target)
  images_lib.save_png(target_u8, outdir / "target.png")
  frames = result.frames
  if len(frames) == 0:
    frames = images_lib.to_uint8(result.image)[None]
  pairs = np.stack([np.concatenate([target_u8, frame], axis=1)
                    for frame in frames])  # [F, H, 2W, C]
  images_lib.write_gif(pairs, outdir / "progress.gif", fps=1000 / frame_ms)
  return outdir
