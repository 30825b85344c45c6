"""What the command-line tools share: argument definitions, checks, errors.

Each tool module owns its parser (`build_parser()`) and `main(argv=None)`;
the arguments several tools take (`--model`, `--network`, the generation
settings, `--outdir`, `--debug`) are defined here once. Arguments are
checked before any work starts (seed ranges and grid sizes against stated
caps, output folders writable, psi finite), and a mistake ends with one line
on stderr and exit code 2 (`run`), never a usage dump.
"""

import argparse
from collections.abc import Callable, Sequence
import math
import os
import pathlib
import sys
import tempfile

from stylegan_jax import errors
from stylegan_jax import model_io
from stylegan_jax.errors import UserError
from stylegan_jax.nets.synthesis import NOISE_MODES
from stylegan_jax.sampling import MAX_SEED
# Caps on what one call may ask for, checked before any work.
MAX_IMAGES = 100_000  # Images (seeds, frames) per call; outputs stream.
MAX_GRID_CELLS = 4096  # Cells of one style-mixing grid.
MAX_BATCH = 4096


class ArgumentParser(argparse.ArgumentParser):
  """argparse whose mistakes raise UserError (one line, no usage dump)."""

  def error(self, message):
    raise UserError(f"{message} — see {self.prog} --help")


def parser(prog: str, description: str) -> ArgumentParser:
  p = ArgumentParser(prog=prog, description=description,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--debug", action="store_true",
                 help="Show the traceback of a user error.")
  return p


def add_bool(p: argparse.ArgumentParser, name: str, default: bool,
             help_text: str) -> None:
  """--name / --noname, as absl spells booleans."""
  group = p.add_mutually_exclusive_group()
  group.add_argument(f"--{name}", dest=name, action="store_true",
                     help=help_text + (" (default)" if default else ""))
  group.add_argument(f"--no{name}", dest=name, action="store_false",
                     help=argparse.SUPPRESS)
  p.set_defaults(**{name: default})


def add_model_args(p: argparse.ArgumentParser, network: bool = True) -> None:
  p.add_argument("--model", required=True,
                 help="A training workdir[@step], an exported .npz or an "
                 "official .pkl.")
  if network:
    p.add_argument("--network", default="G_ema", choices=model_io.NETWORKS,
                   help="Which generator of a workdir or pickle.")


def add_generation_args(p: argparse.ArgumentParser,
                        batch_size: int = 8) -> None:
  p.add_argument("--truncation_psi", type=float, default=1.0,
                 help="Truncation psi (1: none, 0: the average image).")
  p.add_argument("--truncation_cutoff", type=int, default=None,
                 help="Truncate only the first N ws (default: all).")
  p.add_argument("--class", dest="class_label", default=None,
                 help="Class name or index (conditional models only).")
  p.add_argument("--noise_mode", default="const", choices=NOISE_MODES,
                 help="Per-pixel noise: const, random (from the seed) or "
                 "none.")
  p.add_argument("--batch_size", type=int, default=batch_size,
                 help="Images per generator call.")


def add_outdir(p: argparse.ArgumentParser, default: str = "out") -> None:
  p.add_argument("--outdir", default=default, help="Output folder.")


def generation_kwargs(args: argparse.Namespace) -> dict[str, object]:
  """The shared generation arguments, checked, as keyword arguments."""
  if not math.isfinite(args.truncation_psi):
    raise UserError(f"--truncation_psi must be a finite number, got "
                    f"{args.truncation_psi}")
  if not 1 <= args.batch_size <= MAX_BATCH:
    raise UserError(f"--batch_size must be in [1, {MAX_BATCH}], got "
                    f"{args.batch_size}")
  return dict(truncation_psi=args.truncation_psi,
              truncation_cutoff=args.truncation_cutoff,
              class_label=args.class_label, noise_mode=args.noise_mode,
              batch_size=args.batch_size)


def parse_range(text: str | None, name: str = "seeds", lo: int = 0,
                hi: int = MAX_SEED, max_count: int = MAX_IMAGES) -> list[int]:
  """'0-7,42' -> [0, 1, ..., 7, 42], in the order given.

  The count is checked before anything is expanded.

  Args:
    text: comma-separated integers and inclusive `a-b` ranges.
    name: the argument, for error messages.
    lo, hi: the inclusive bounds every number must lie in.
    max_count: the most numbers one argument may name.

  Returns:
    The list of integers (duplicates kept).

  Raises:
    UserError: naming the bad part of `text`.
  """
  if text is None or not str(text).strip():
    raise UserError(f"--{name} is empty — give e.g. '0-7,42'")
  parts, count = [], 0
  for part in str(text).split(","):
    part = part.strip()
    first, sep, last = part.partition("-")
    try:
      a = int(first)
      b = int(last) if sep else a
    except ValueError:
      raise UserError(f"bad --{name} entry {part!r} in {text!r} — expected "
                      "an integer or a range like '3-7'") from None
    if a > b:
      raise UserError(f"bad --{name} range {part!r} — the start is after "
                      "the end")
    if a < lo or b > hi:
      raise UserError(f"--{name} entry {part!r} is outside [{lo}, {hi}]")
    count += b - a + 1
    if count > max_count:
      raise UserError(f"--{name} names more than {max_count:,} values — "
                      "split the work over several calls")
    parts.append((a, b))
  return [x for a, b in parts for x in range(a, b + 1)]


def load_model(args: argparse.Namespace) -> model_io.Model:
  return model_io.load_model(args.model,
                             network=getattr(args, "network", "G_ema"))


def prepare_outdir(path: str | os.PathLike) -> pathlib.Path:
  """Creates the output folder and checks it is writable, before any work."""
  out = pathlib.Path(path)
  if out.exists() and not out.is_dir():
    raise UserError(f"--outdir {out} is a file — name a folder")
  try:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=out):
      pass
  except OSError as e:
    raise UserError(f"cannot write to --outdir {out} ({e.strerror}) — "
                    "choose a writable folder") from None
  return out


def check_output_file(path: str | os.PathLike) -> pathlib.Path:
  """Checks that a file can be written at `path` (its folder is created)."""
  path = pathlib.Path(path)
  if path.is_dir():
    raise UserError(f"{path} is a folder — name the output file")
  prepare_outdir(path.parent if str(path.parent) else ".")
  return path


def check_memory(num_bytes: float, what: str) -> None:
  """Refuses work whose result would not fit in half the available memory."""
  try:
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
  except (ValueError, OSError):
    return
  if num_bytes > available / 2:
    raise UserError(f"{what} would take {num_bytes / 2**30:.1f} GiB, more "
                    f"than half of the {available / 2**30:.1f} GiB free — "
                    "ask for fewer")


def run(body: Callable[[argparse.Namespace], None], p: ArgumentParser,
        argv: Sequence[str] | None = None) -> None:
  """Parses argv and runs body(args); user errors -> one line, exit 2."""
  argv = list(sys.argv[1:] if argv is None else argv)

  def go():
    body(p.parse_args(argv))

  errors.report_user_errors(go, argv)
