"""`python -m stylegan_jax.convert SOURCE DEST.npz`: export a model.

SOURCE is any model spec (an official network pickle, a training
workdir[@step], or an export); DEST is our exported format (variables plus
a versioned JSON config, no pickled code). A refused or unreadable source
exits with code 2 and one line, and writes nothing.
"""

from collections.abc import Sequence

from stylegan_jax import model_io
from stylegan_jax.tools import common


def build_parser() -> common.ArgumentParser:
  p = common.parser("python -m stylegan_jax.convert", __doc__)
  p.add_argument("source", help="Model spec: workdir[@step], .npz or .pkl.")
  p.add_argument("dest", help="The export to write (.npz).")
  p.add_argument("--network", default="G_ema", choices=model_io.NETWORKS,
                 help="Which generator to export.")
  return p


def _run(args) -> None:
  dest = common.check_output_file(args.dest)
  if dest.suffix != ".npz":
    raise model_io.ModelFileError(f"exported models end in .npz, got {dest} "
                                  f"— e.g. {dest.with_suffix('.npz')}")
  model = model_io.load_model(args.source, network=args.network)
  path = model_io.save_model(dest, model)
  print(f"wrote {path} ({model.source})")


def main(argv: Sequence[str] | None = None) -> None:
  common.run(_run, build_parser(), argv)


if __name__ == "__main__":
  main()
