"""Neural style transfer (Gatys et al. 2016) on VGG19, as the recipe has it.

The library behind `python -m stylegan_jax.style_transfer` (see
`stylegan_jax.tools.style_transfer`). This module owns the style-transfer
objective (content, style and total-variation terms on VGG19 activations),
its optimisation, the recipe's preprocessing and the evaluation numbers.
The VGG19 network and the Gram/loss maths are `features.vgg` and
`features.style_losses`; the weights are the user's torchvision
`vgg19-dcbb9e9d.pth` (`features.weights.load("vgg19", path)`).

The background material's recipe, which every default follows:

* preprocessing: torchvision `Resize(256)` (shorter side to 256, bilinear
  with PIL's antialiasing, the longer side truncated as torchvision does)
  then `CenterCrop(256)`, pixels / 255, ImageNet mean/std normalisation
  (inside `vgg.features`); the same for the style image;
* layers named by counting VGG19's convs: content layer `conv_4`, style
  layers `conv_1` ... `conv_5` (before their ReLUs);
* content loss = MSE of the features; style loss = MSE of the Gram matrices
  `F F^T / (a b c d)`; total = content_weight * content + style_weight *
  sum over the style layers, with the material's 1:1 weights (the PyTorch
  tutorial weighs style by 1e6: `TUTORIAL_STYLE_WEIGHT`);
* the image starts as the content image and L-BFGS runs 300 steps.

One step is one L-BFGS iteration: optax's `lbfgs` (memory 10) with its zoom
line search (at most 20 evaluations, strong Wolfe conditions): a step
costs one or a few evaluations and lowers the loss (sufficient decrease),
unless the line search fails, when optax takes its fallback step.
(PyTorch's `LBFGS` without a line search, as the tutorial drives it, counts
evaluations instead.) The image is optimised unconstrained and clipped to
[0, 1] when it is shown, saved or scored; the tutorial clamps it to [0, 1]
before every evaluation, which `clip_every_step` does (after every step;
the line search's decrease guarantee then no longer holds).

Options beyond the recipe: any VGG19 layers and per-layer style weights,
several style images blended with weights (the style term is the weighted
sum of each image's term; the weights are normalised to sum to 1), a
total-variation term `tv_weight * (mean(dx^2) + mean(dy^2))` on the [0, 1]
image, a uniform-noise start, Adam (`scale_by_adam`, default learning rate
0.01 in [0, 1] pixel units), and any working size `size`, with the crop or
(`crop=False`) keeping each image's aspect ratio. The result is resized
back (Lanczos) to the content image's size: its full size without the
crop, its centre square (side min(H, W)) with the recipe's.

Evaluation numbers (the material's two, plus SSIM), all at the working
size on the clipped image: style similarity = per style image, the sum over
the style layers of the Gram-matrix MSE to that style image (lower is
closer); content preservation = the sum over the content layers of the
feature MSE to the content image (lower is closer); and the SSIM
(`metrics.image_quality.ssim`) to the preprocessed content image. The same
numbers for the content image itself are the reference they started from.
"""

from collections.abc import Sequence
import dataclasses
import functools
import time

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from PIL import Image

from stylegan_jax import images as images_lib
from stylegan_jax.errors import UserError
from stylegan_jax.features import style_losses
from stylegan_jax.features import vgg
from stylegan_jax.metrics import image_quality

CONTENT_LAYERS = ("conv_4",)
STYLE_LAYERS = ("conv_1", "conv_2", "conv_3", "conv_4", "conv_5")
RECIPE_SIZE = 256
NUM_STEPS = 300
TUTORIAL_STYLE_WEIGHT = 1e6
ADAM_LEARNING_RATE = 0.01
LBFGS_MEMORY = 10
INITS = ("content", "noise")
OPTIMIZERS = ("lbfgs", "adam")
# Working sizes (shorter side, pixels): VGG19's conv_5 follows two 2x2
# pools; the cap bounds memory and time.
MIN_SIZE = 16
MAX_SIZE = 2048
SSIM_WINDOW = 11

Params = dict[str, jax.Array]


# --------------------------------------------------------------------------
# Preprocessing.


def preprocess(image: np.ndarray, size: int = RECIPE_SIZE,
               crop: bool = True) -> np.ndarray:
  """torchvision's `Resize(size)` (+ `CenterCrop(size)`) and `ToTensor`.

  Args:
    image: uint8 [H, W, 3] (or [H, W, 1], repeated to RGB).
    size: the shorter side after resizing.
    crop: centre-crop to size x size (the recipe); else keep the aspect.

  Returns:
    float32 [h, w, 3] in [0, 1]: [size, size, 3] with `crop`, else the
    shorter side is `size` and the longer one int(size * long / short).
  """
  image = images_lib.to_channels(np.asarray(image, np.uint8), 3)
  h, w = image.shape[:2]
  new_h, new_w = working_shape(image.shape, size, crop=False)
  img = Image.fromarray(image)
  if (new_h, new_w) != (h, w):
    img = img.resize((new_w, new_h), Image.Resampling.BILINEAR)
  if crop:
    top = int(round((new_h - size) / 2.0))
    left = int(round((new_w - size) / 2.0))
    img = img.crop((left, top, left + size, top + size))
  return np.asarray(img, np.float32) / 255.0


def working_shape(shape: Sequence[int], size: int = RECIPE_SIZE,
                  crop: bool = True) -> tuple[int, int]:
  """(h, w) that `preprocess` makes of an image of shape [H, W, ...]."""
  h, w = shape[:2]
  if crop:
    return size, size
  new_long = int(size * max(h, w) / min(h, w))
  return (size, new_long) if h <= w else (new_long, size)


def output_size(content_shape: Sequence[int],
                crop: bool) -> tuple[int, int]:
  """(height, width) of the saved result for a content image's shape."""
  h, w = content_shape[:2]
  return (min(h, w), min(h, w)) if crop else (h, w)


def to_uint8(x: np.ndarray | jax.Array) -> np.ndarray:
  """[..., H, W, 3] in [0, 1] -> uint8, clipped (via `images.to_uint8`)."""
  return images_lib.to_uint8(np.asarray(x, np.float32) * 2.0 - 1.0)


def _resize_u8(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
  """uint8 [h, w, 3] -> [H, W, 3], Lanczos; size = (H, W)."""
  if image.shape[:2] == tuple(size):
    return image
  img = Image.fromarray(image).resize((size[1], size[0]),
                                      Image.Resampling.LANCZOS)
  return np.asarray(img, np.uint8)


# --------------------------------------------------------------------------
# The objective.


@dataclasses.dataclass(frozen=True)
class Recipe:
  """Layers and weights of the loss; the defaults are the material's.

  Attributes:
    content_layers: VGG19 layer names (`vgg.layer_names(19)`) whose feature
      MSEs are summed into the content term; may be empty.
    style_layers: layers whose Gram-matrix MSEs make the style term.
    content_weight: weight of the content term.
    style_weight: weight of the style term (`TUTORIAL_STYLE_WEIGHT` for the
      PyTorch tutorial's balance).
    style_layer_weights: one weight per style layer (None: 1 each).
    tv_weight: weight of the total-variation term (0: none).
  """

  content_layers: tuple[str, ...] = CONTENT_LAYERS
  style_layers: tuple[str, ...] = STYLE_LAYERS
  content_weight: float = 1.0
  style_weight: float = 1.0
  style_layer_weights: tuple[float, ...] | None = None
  tv_weight: float = 0.0

  def check(self) -> None:
    """Raises UserError naming the first bad setting."""
    names = vgg.layer_names(19)
    for what, layers in (("content", self.content_layers),
                         ("style", self.style_layers)):
      unknown = [n for n in layers if n not in names]
      if unknown:
        raise UserError(f"unknown VGG19 {what} layers {unknown} — use "
                        "conv_i, relu_i or pool_i with i in 1..16, e.g. "
                        "conv_4")
      if len(set(layers)) != len(layers):
        raise UserError(f"repeated {what} layers in {list(layers)} — name "
                        "each layer once")
    if not self.style_layers:
      raise UserError("no style layers — name at least one, e.g. conv_1")
    for what, value in (("content weight", self.content_weight),
                        ("style weight", self.style_weight),
                        ("tv weight", self.tv_weight)):
      _check_weight(what, value)
    if self.style_layer_weights is not None:
      if len(self.style_layer_weights) != len(self.style_layers):
        raise UserError(
            f"{len(self.style_layer_weights)} style layer weights for "
            f"{len(self.style_layers)} style layers — give one per layer")
      for v in self.style_layer_weights:
        _check_weight("style layer weight", v)


def _check_weight(what: str, value: float) -> None:
  if not (np.isfinite(value) and value >= 0):
    raise UserError(f"{what} must be a finite number >= 0, got {value} — "
                    "give e.g. 1")


def blend_weights(num_styles: int,
                  blend: Sequence[float] | None = None) -> np.ndarray:
  """Per-style weights normalised to sum to 1 (None: equal), [S]."""
  if num_styles < 1:
    raise UserError("no style image — give at least one")
  if blend is None:
    return np.full(num_styles, 1.0 / num_styles, np.float32)
  blend = np.asarray(blend, np.float64)
  if blend.shape != (num_styles,):
    raise UserError(f"{blend.size} style blend weights for {num_styles} "
                    "style images — give one per style image")
  if not (np.all(np.isfinite(blend)) and np.all(blend >= 0)
          and blend.sum() > 0):
    raise UserError(f"style blend weights must be >= 0 with a positive sum, "
                    f"got {blend.tolist()}")
  return (blend / blend.sum()).astype(np.float32)


@flax.struct.dataclass
class Objective:
  """The style-transfer loss with its targets, a pytree for `jax.jit`.

  Build it with `make_objective` (content and styles) or `style_objective`
  (styles only, e.g. for the projector). Images are [1, h, w, 3] RGB in
  [0, 1].

  Attributes:
    vgg_params: VGG19 params.
    content: {content layer: [1, h', w', c] target activation}.
    grams: per style image, {style layer: [c, c] target Gram matrix}.
    content_weight: scalar.
    style_weights: [S, L]: style_weight * blend[s] * layer weight[l].
    tv_weight: scalar.
    content_layers, style_layers: the layer names (static).
  """

  vgg_params: Params
  content: dict[str, jax.Array]
  grams: tuple[dict[str, jax.Array], ...]
  content_weight: jax.Array
  style_weights: jax.Array
  tv_weight: jax.Array
  content_layers: tuple[str, ...] = flax.struct.field(pytree_node=False)
  style_layers: tuple[str, ...] = flax.struct.field(pytree_node=False)

  def terms(self, x: jax.Array) -> dict[str, jax.Array]:
    """The loss terms of image x.

    Args:
      x: [1, h, w, 3] in [0, 1] (values outside are allowed).

    Returns:
      'content': sum over the content layers of the feature MSE (scalar,
        unweighted); 'style': [S, L] Gram-matrix MSE per style image and
        style layer (unweighted); 'tv': the total variation (unweighted);
        'total': the weighted sum that is optimised.
    """
    layers = tuple(dict.fromkeys(self.content_layers + self.style_layers))
    f = vgg.features(self.vgg_params, x, layers)
    content = sum((style_losses.content_loss(f[k], self.content[k])
                   for k in self.content_layers), jnp.zeros(()))
    style = jnp.stack([
        jnp.stack([style_losses.style_loss(f[k], grams[k])
                   for k in self.style_layers]) for grams in self.grams])
    tv = total_variation(x)
    total = (self.content_weight * content
             + jnp.sum(self.style_weights * style) + self.tv_weight * tv)
    return {"content": content, "style": style, "tv": tv, "total": total}

  def loss(self, x: jax.Array) -> jax.Array:
    """The weighted total of `terms(x)`; scalar."""
    return self.terms(x)["total"]


def total_variation(x: jax.Array) -> jax.Array:
  """mean(dx^2) + mean(dy^2) of [N, H, W, C] images; scalar."""
  dy = x[:, 1:] - x[:, :-1]  # [N, H - 1, W, C]
  dx = x[:, :, 1:] - x[:, :, :-1]  # [N, H, W - 1, C]
  return jnp.mean(jnp.square(dy)) + jnp.mean(jnp.square(dx))


@functools.partial(jax.jit, static_argnames="layers")
def _activations(vgg_params, x, layers):
  return vgg.features(vgg_params, x, layers)


def _all_layers(recipe: "Recipe") -> tuple[str, ...]:
  return tuple(dict.fromkeys(recipe.content_layers + recipe.style_layers))


def _grams(vgg_params, styles, recipe):
  out = []
  for style in styles:
    f = _activations(vgg_params, jnp.asarray(style)[None],
                     _all_layers(recipe))
    out.append({k: style_losses.gram_matrix(f[k])
                for k in recipe.style_layers})
  return tuple(out)


def _check_image(what: str, image: np.ndarray) -> None:
  shape = np.shape(image)
  if len(shape) != 3 or shape[-1] != 3 or min(shape[:2]) < MIN_SIZE:
    raise UserError(f"the {what} image must be [H, W, 3] with H, W >= "
                    f"{MIN_SIZE}, got {shape} — use a larger image")


def make_objective(vgg_params: Params, content: np.ndarray,
                   styles: Sequence[np.ndarray], recipe: Recipe = Recipe(),
                   blend: Sequence[float] | None = None) -> Objective:
  """The loss for one content image and one or more style images.

  Args:
    vgg_params: from `features.weights.load("vgg19", path)`.
    content: [h, w, 3] float in [0, 1] (already preprocessed).
    styles: [h_s, w_s, 3] floats in [0, 1]; any sizes.
    recipe: layers and weights.
    blend: one weight per style image (normalised; None: equal).

  Returns:
    The Objective.
  """
  recipe.check()
  weights = blend_weights(len(styles), blend)
  _check_image("content", content)
  for style in styles:
    _check_image("style", style)
  targets = {}
  if recipe.content_layers:  # All layers: one program for content, styles.
    targets = _activations(vgg_params, jnp.asarray(content)[None],
                           _all_layers(recipe))
  return _objective(vgg_params, targets, styles, recipe, weights)


def style_objective(vgg_params: Params, styles: Sequence[np.ndarray], *,
                    weight: float, layers: Sequence[str] = STYLE_LAYERS,
                    layer_weights: Sequence[float] | None = None,
                    blend: Sequence[float] | None = None) -> Objective:
  """A style-only loss: weight * sum_s blend_s sum_l Gram MSE.

  Args:
    vgg_params: VGG19 params.
    styles: [h, w, 3] floats in [0, 1].
    weight: the style weight.
    layers: the style layers.
    layer_weights: one per layer (None: 1 each).
    blend: one weight per style image (normalised; None: equal).

  Returns:
    An Objective without content term.
  """
  recipe = Recipe(content_layers=(), style_layers=tuple(layers),
                  content_weight=0.0, style_weight=weight,
                  style_layer_weights=(None if layer_weights is None else
                                       tuple(layer_weights)))
  recipe.check()
  weights = blend_weights(len(styles), blend)
  for style in styles:
    _check_image("style", style)
  return _objective(vgg_params, {}, styles, recipe, weights)


def _objective(vgg_params, content_targets, styles, recipe, blend):
  layer_weights = (np.ones(len(recipe.style_layers), np.float32)
                   if recipe.style_layer_weights is None else
                   np.asarray(recipe.style_layer_weights, np.float32))
  style_weights = recipe.style_weight * blend[:, None] * layer_weights
  return Objective(
      vgg_params=vgg_params,
      content={k: content_targets[k] for k in recipe.content_layers},
      grams=_grams(vgg_params, styles, recipe),
      content_weight=jnp.float32(recipe.content_weight),
      style_weights=jnp.asarray(style_weights, jnp.float32),
      tv_weight=jnp.float32(recipe.tv_weight),
      content_layers=tuple(recipe.content_layers),
      style_layers=tuple(recipe.style_layers))


# --------------------------------------------------------------------------
# Scores.


@dataclasses.dataclass(frozen=True)
class Scores:
  """The evaluation numbers of one image (see the module docstring).

  Attributes:
    style_distance: per style image, the summed Gram-matrix MSE over the
      style layers (style similarity; lower is closer).
    content_distance: the summed feature MSE over the content layers
      (content preservation; lower is closer; 0 without content layers).
    ssim: SSIM to the preprocessed content image (1 = identical).
  """

  style_distance: tuple[float, ...]
  content_distance: float
  ssim: float

  def as_dict(self) -> dict[str, object]:
    return dataclasses.asdict(self)

  def __str__(self) -> str:
    style = ", ".join(f"{d:.6g}" for d in self.style_distance)
    return (f"style distance {style}; content distance "
            f"{self.content_distance:.6g}; SSIM {self.ssim:.4f}")


@jax.jit
def loss_terms(objective: Objective, x: jax.Array) -> dict[str, jax.Array]:
  """`objective.terms(x)`, jitted (compiled once per image shape)."""
  return objective.terms(x)


def score(objective: Objective, image: np.ndarray,
          content: np.ndarray) -> Scores:
  """The evaluation numbers of an image.

  Args:
    objective: from `make_objective` (its targets define the distances).
    image: [h, w, 3] in [0, 1] (clipped here), at the working size.
    content: the preprocessed content image, [h, w, 3] in [0, 1].

  Returns:
    Scores.
  """
  x = jnp.clip(jnp.asarray(image, jnp.float32), 0.0, 1.0)[None]
  terms = loss_terms(objective, x)
  style = np.asarray(terms["style"]).sum(axis=1)
  ref = jnp.asarray(content, jnp.float32)[None] * 2.0 - 1.0
  ssim = float("nan")
  if min(image.shape[:2]) >= SSIM_WINDOW:
    ssim = float(image_quality.ssim(ref, x * 2.0 - 1.0)[0])
  return Scores(style_distance=tuple(float(s) for s in style),
                content_distance=float(terms["content"]), ssim=ssim)


# --------------------------------------------------------------------------
# The optimisation.


def _lbfgs():
  return optax.lbfgs(memory_size=LBFGS_MEMORY)


@functools.partial(jax.jit, static_argnames="clip")
def _lbfgs_step(objective, x, opt_state, clip):
  """One L-BFGS iteration; returns (x, opt_state, loss at the new x)."""
  opt = _lbfgs()
  if clip:  # x was moved behind the solver's back: evaluate afresh.
    value, grad = jax.value_and_grad(objective.loss)(x)
  else:  # Reuse what the last line search computed at x.
    value, grad = optax.value_and_grad_from_state(objective.loss)(
        x, state=opt_state)
  updates, opt_state = opt.update(grad, opt_state, x, value=value, grad=grad,
                                  value_fn=objective.loss)
  x = optax.apply_updates(x, updates)
  if clip:
    x = jnp.clip(x, 0.0, 1.0)
    return x, opt_state, objective.loss(x)
  return x, opt_state, optax.tree_utils.tree_get(opt_state, "value")


@functools.partial(jax.jit, static_argnames="clip")
def _adam_step(objective, x, opt_state, learning_rate, clip):
  """One Adam step; returns (x, opt_state, loss at the old x)."""
  value, grad = jax.value_and_grad(objective.loss)(x)
  updates, opt_state = optax.scale_by_adam().update(grad, opt_state)
  x = x - learning_rate * updates
  if clip:
    x = jnp.clip(x, 0.0, 1.0)
  return x, opt_state, value


@dataclasses.dataclass(frozen=True)
class StyleTransferResult:
  """What `transfer` made.

  Attributes:
    image: uint8 [H, W, 3], the result at the content image's size (its
      centre square with the recipe's crop).
    working_image: float32 [h, w, 3] in [0, 1], the clipped result at the
      working size.
    content: float32 [h, w, 3], the preprocessed content image.
    losses: [num_steps + 1] total loss at the start and after each step.
    frames: uint8 [F, h, w, 3]: the image every `progress_every` steps and
      at the end (empty when progress_every is 0).
    scores: the evaluation numbers of the result.
    content_scores: the same numbers for the content image itself.
    seconds: optimisation time (compilation included).
  """

  image: np.ndarray
  working_image: np.ndarray
  content: np.ndarray
  losses: np.ndarray
  frames: np.ndarray
  scores: Scores
  content_scores: Scores
  seconds: float


def transfer(
    vgg_params: Params,
    content: np.ndarray,
    styles: Sequence[np.ndarray],
    *,
    recipe: Recipe = Recipe(),
    style_blend: Sequence[float] | None = None,
    size: int = RECIPE_SIZE,
    crop: bool = True,
    init: str = "content",
    optimizer: str = "lbfgs",
    num_steps: int = NUM_STEPS,
    learning_rate: float = ADAM_LEARNING_RATE,
    clip_every_step: bool = False,
    seed: int = 0,
    progress_every: int = 0,
    log_every: int = 0,
) -> StyleTransferResult:
  """Paints `content` in the style of `styles` (Gatys et al.).

  Args:
    vgg_params: from `features.weights.load("vgg19", path)`.
    content: uint8 [H, W, 3], any size and aspect.
    styles: uint8 [H_s, W_s, 3] images, any sizes.
    recipe: layers and weights of the loss.
    style_blend: one weight per style image (normalised; None: equal).
    size: the working shorter side (the recipe: 256).
    crop: centre-crop every image to size x size (the recipe); else keep
      each image's aspect.
    init: 'content' (the recipe) or 'noise' (uniform in [0, 1]).
    optimizer: 'lbfgs' (the recipe) or 'adam'.
    num_steps: optimisation steps (L-BFGS iterations or Adam steps).
    learning_rate: Adam's step size in [0, 1] pixel units (L-BFGS uses its
      line search).
    clip_every_step: clip the image to [0, 1] after every step.
    seed: seeds the noise start.
    progress_every: keep a frame every this many steps (0: none).
    log_every: print the losses every this many steps (0: never).

  Returns:
    A StyleTransferResult.
  """
  if init not in INITS:
    raise UserError(f"unknown init {init!r} — choose one of {INITS}")
  if optimizer not in OPTIMIZERS:
    raise UserError(f"unknown optimizer {optimizer!r} — choose one of "
                    f"{OPTIMIZERS}")
  if num_steps < 0 or progress_every < 0 or log_every < 0:
    raise UserError("num_steps, progress_every and log_every must be >= 0")
  if not MIN_SIZE <= size <= MAX_SIZE:
    raise UserError(f"size must be in [{MIN_SIZE}, {MAX_SIZE}], got {size}")
  if not np.isfinite(learning_rate) or learning_rate <= 0:
    raise UserError(f"learning rate must be > 0, got {learning_rate}")
  _check_image("content", images_lib.to_channels(np.asarray(content), 3))
  content01 = preprocess(content, size, crop)
  styles01 = [preprocess(s, size, crop) for s in styles]
  objective = make_objective(vgg_params, content01, styles01, recipe,
                             style_blend)

  start = time.time()
  if init == "content":
    x = jnp.asarray(content01)[None]
  else:
    x = jax.random.uniform(jax.random.key(seed), (1,) + content01.shape)
  x = jnp.asarray(x, jnp.float32)
  if optimizer == "lbfgs":
    opt_state = _lbfgs().init(x)
    step = functools.partial(_lbfgs_step, clip=clip_every_step)
  else:
    opt_state = optax.scale_by_adam().init(x)
    step = functools.partial(_adam_step, learning_rate=jnp.float32(
        learning_rate), clip=clip_every_step)

  losses = [loss_terms(objective, x)["total"]]
  frames = []
  for i in range(num_steps):
    if progress_every and i % progress_every == 0:
      frames.append(to_uint8(x[0]))
    x, opt_state, value = step(objective, x, opt_state)
    if optimizer == "lbfgs":
      losses.append(value)  # at the new x
    elif i:
      losses.append(value)  # at the old x; the start is losses[0]
    if log_every and ((i + 1) % log_every == 0 or i + 1 == num_steps):
      terms = loss_terms(objective, x)
      style = np.asarray(terms["style"]).sum(axis=1)
      print(f"step {i + 1:5d}/{num_steps}: total "
            f"{float(terms['total']):.6g}, content "
            f"{float(terms['content']):.6g}, style "
            f"{', '.join(f'{s:.6g}' for s in style)}, tv "
            f"{float(terms['tv']):.4g} ({time.time() - start:.1f}s)",
            flush=True)
  if optimizer == "adam" and num_steps:
    losses.append(loss_terms(objective, x)["total"])
  result01 = np.clip(np.asarray(x[0]), 0.0, 1.0)
  seconds = time.time() - start
  if progress_every:
    frames.append(to_uint8(result01))
  h, w = content01.shape[:2]
  return StyleTransferResult(
      image=_resize_u8(to_uint8(result01),
                       output_size(np.shape(content), crop)),
      working_image=result01, content=content01,
      losses=np.asarray([float(v) for v in losses], np.float64),
      frames=(np.stack(frames) if frames else
              np.zeros((0, h, w, 3), np.uint8)),
      scores=score(objective, result01, content01),
      content_scores=score(objective, content01, content01),
      seconds=seconds)


if __name__ == "__main__":  # python -m stylegan_jax.style_transfer
  # pylint: disable-next=g-import-not-at-top
  from stylegan_jax.tools.style_transfer import main
  main()
