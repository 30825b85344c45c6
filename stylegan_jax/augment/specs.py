"""What an augmentation pipeline does: `AugmentSpec` and the named `PIPES`.

A spec holds one probability multiplier per operation (0 turns it off; an
operation then runs on a sample with probability `p * multiplier`, where `p`
is the overall ADA strength) and the parameter distributions' widths. The
defaults are those of the ADA paper (Karras et al. 2020, appendix B). Widths
called `*_std` of multiplicative parameters are in log2 units: `scale_std=0.2`
draws `s = 2 ** N(0, 0.2^2)`, i.e. `ln s ~ N(0, (0.2 ln 2)^2)`.

`PIPES` are the official `--augpipe` presets plus `keras`: the
`ImageDataGenerator(shear_range=0.2, zoom_range=0.2, horizontal_flip=True)`
recipe, run through the same non-leaking geometric machinery.
"""

from collections.abc import Mapping
import dataclasses

# Pixel blitting (exact pixel copies) and general geometric operations, each
# in the order their inverse matrices are multiplied.
BLIT_OPS = ("xflip", "rotate90", "xint")
GENERAL_OPS = ("shear", "zoom", "scale", "rotate", "aniso", "xfrac")
GEOMETRIC_OPS = BLIT_OPS + GENERAL_OPS
COLOR_OPS = ("brightness", "contrast", "lumaflip", "hue", "saturation")
# Hue and saturation act only on colour images; on grey ones they are skipped.
RGB_ONLY_OPS = ("hue", "saturation")
OPS = GEOMETRIC_OPS + COLOR_OPS + ("imgfilter", "noise", "cutout")


@dataclasses.dataclass(frozen=True)
class AugmentSpec:
  """Probability multipliers and parameter widths of every operation.

  Pixel blitting: `xflip` (mirror x with probability 1/2), `rotate90` (0-3
  quarter turns), `xint` (integer translation, uniform in +-`xint_max` of
  the image size, rounded to whole pixels). General geometry: `scale`
  (isotropic, log2-normal), `rotate` (uniform in +-`rotate_max` half turns,
  applied before and after `aniso`, each with probability
  `1 - sqrt(1 - rotate * p)` so that at least one happens with probability
  `rotate * p`), `aniso` (x by s, y by 1/s), `xfrac` (normal translation,
  relative to the image size). Keras: `shear` (angle uniform in
  +-`shear_range` DEGREES, as Keras 2 reads `shear_range`), `zoom` (x and y
  zoom factors independent, uniform in [1 - zoom_range, 1 + zoom_range]; a
  factor above 1 zooms out, as Keras). Colour: `brightness` (normal offset),
  `contrast` (log2-normal), `lumaflip` (invert luma with probability 1/2),
  `hue` (rotation about the grey axis, uniform in +-`hue_max` half turns),
  `saturation` (log2-normal). `imgfilter`: each of four frequency bands,
  with probability `imgfilter * p * imgfilter_bands[i]`, amplified by a
  log2-normal gain. `noise`: additive Gaussian noise of a per-sample
  standard deviation `|N(0, noise_std^2)|`. `cutout`: a square of
  `cutout_size` times the image size, uniformly placed, set to 0.
  """

  xflip: float = 0.0
  rotate90: float = 0.0
  xint: float = 0.0
  xint_max: float = 0.125
  scale: float = 0.0
  rotate: float = 0.0
  aniso: float = 0.0
  xfrac: float = 0.0
  scale_std: float = 0.2
  rotate_max: float = 1.0
  aniso_std: float = 0.2
  xfrac_std: float = 0.125
  shear: float = 0.0
  zoom: float = 0.0
  shear_range: float = 0.2
  zoom_range: float = 0.2
  brightness: float = 0.0
  contrast: float = 0.0
  lumaflip: float = 0.0
  hue: float = 0.0
  saturation: float = 0.0
  brightness_std: float = 0.2
  contrast_std: float = 0.5
  hue_max: float = 1.0
  saturation_std: float = 1.0
  imgfilter: float = 0.0
  imgfilter_bands: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
  imgfilter_std: float = 1.0
  noise: float = 0.0
  cutout: float = 0.0
  noise_std: float = 0.1
  cutout_size: float = 0.5

  def __post_init__(self):
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      if field.name == "imgfilter_bands":
        value = tuple(float(v) for v in value)
        if len(value) != 4 or min(value) < 0:
          raise ValueError(
              "imgfilter_bands must be 4 non-negative multipliers (one per "
              f"frequency band, low to high), got {value}")
      else:
        value = float(value)
        if value < 0:
          raise ValueError(
              f"augment pipe: {field.name} must be >= 0, got {value}")
      object.__setattr__(self, field.name, value)

  def active(self, ops: tuple[str, ...]) -> tuple[str, ...]:
    """The names among `ops` whose multiplier is positive."""
    return tuple(op for op in ops if getattr(self, op) > 0)


_BLIT = {"xflip": 1, "rotate90": 1, "xint": 1}
_GEOM = {"scale": 1, "rotate": 1, "aniso": 1, "xfrac": 1}
_COLOR = {op: 1 for op in COLOR_OPS}
_FILTER = {"imgfilter": 1}
_NOISE = {"noise": 1}
_CUTOUT = {"cutout": 1}

# Named pipelines (the official `--augpipe` values): name -> multipliers.
PIPES: dict[str, dict[str, float]] = {
    "blit": _BLIT,
    "geom": _GEOM,
    "color": _COLOR,
    "filter": _FILTER,
    "noise": _NOISE,
    "cutout": _CUTOUT,
    "bg": {**_BLIT, **_GEOM},
    "bgc": {**_BLIT, **_GEOM, **_COLOR},
    "bgcf": {**_BLIT, **_GEOM, **_COLOR, **_FILTER},
    "bgcfn": {**_BLIT, **_GEOM, **_COLOR, **_FILTER, **_NOISE},
    "bgcfnc": {**_BLIT, **_GEOM, **_COLOR, **_FILTER, **_NOISE, **_CUTOUT},
    "keras": {"xflip": 1, "shear": 1, "zoom": 1},
}


def resolve_pipe(pipe: "str | Mapping[str, float] | AugmentSpec"
                 ) -> AugmentSpec:
  """A pipe name from `PIPES`, a mapping of `AugmentSpec` fields, or a spec.

  Raises:
    ValueError: on an unknown pipe name or field, or a negative value.
  """
  if isinstance(pipe, AugmentSpec):
    return pipe
  if isinstance(pipe, str):
    if pipe not in PIPES:
      raise ValueError(f"unknown augment pipe {pipe!r}; use one of "
                       f"{', '.join(PIPES)} or a dict of multipliers")
    pipe = PIPES[pipe]
  if not isinstance(pipe, Mapping):
    raise ValueError("augment pipe must be a name, a dict of multipliers or "
                     f"an AugmentSpec, got {type(pipe).__name__}")
  names = {f.name for f in dataclasses.fields(AugmentSpec)}
  unknown = sorted(set(pipe) - names)
  if unknown:
    raise ValueError(f"unknown augment option(s) {', '.join(unknown)}; "
                     f"valid: {', '.join(sorted(names))}")
  return AugmentSpec(**pipe)
