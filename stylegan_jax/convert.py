"""`python -m stylegan_jax.convert SOURCE DEST.npz`: export a model.

SOURCE is any model spec (an official network pickle, a training
workdir[@step], or an export); DEST is our exported format (variables plus
a versioned JSON config, no pickled code). A refused or unreadable source
exits non-zero and writes nothing.
"""

from collections.abc import Sequence
import sys

from absl import app
from absl import flags

from stylegan_jax import model_io
from stylegan_jax.interop import official_pickle

_NETWORK = flags.DEFINE_enum("network", "G_ema", model_io.NETWORKS,
                             "Which generator to export.")


def main(argv: Sequence[str]) -> None:
  if len(argv) != 3:
    raise app.UsageError("usage: python -m stylegan_jax.convert SOURCE "
                         "DEST.npz")
  source, dest = argv[1], argv[2]
  try:
    model = model_io.load_model(source, network=_NETWORK.value)
  except official_pickle.OfficialPickleError as e:
    print(f"convert: refused {source}: {e}", file=sys.stderr)
    sys.exit(2)
  except (FileNotFoundError, ValueError) as e:
    print(f"convert: cannot read {source}: {e}", file=sys.stderr)
    sys.exit(2)
  path = model_io.save_model(dest, model)
  print(f"wrote {path} ({model.source})")


if __name__ == "__main__":
  app.run(main)
