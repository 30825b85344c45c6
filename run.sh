#!/usr/bin/env bash
# Thin launcher. Sets up .venv on first use (or when pyproject.toml changes),
# then runs one of:
#   ./run.sh                 train experiments/demo.py into workdirs/demo
#   ./run.sh test [ARGS]     the test suite (ARGS go to pytest)
#   ./run.sh train [FLAGS]   python -m stylegan_jax.main FLAGS
set -euo pipefail
cd "$(dirname "$0")"

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "run.sh: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
stamp=.venv/.stylegan_jax-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "run.sh: installing stylegan_jax and its dependencies into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  echo "$want" > "$stamp"
fi
export PYTHONUNBUFFERED=1

cmd=${1:-main}
[ $# -gt 0 ] && shift
case "$cmd" in
  main)
    workdir=workdirs/demo
    .venv/bin/python -m stylegan_jax.main --config experiments/demo.py \
      --workdir "$workdir" "$@"
    latest=$(ls -1 "$workdir"/samples/fakes*.png | tail -n 1)
    echo "run.sh: sample grids are in $workdir/samples (latest: $latest)"
    echo "run.sh: TensorBoard logs: tensorboard --logdir $workdir/logs" ;;
  train)
    exec .venv/bin/python -m stylegan_jax.main "$@" ;;
  test)
    exec .venv/bin/python -m pytest -q "$@" ;;
  *)
    echo "run.sh: unknown command '$cmd' (expected: test, train, or nothing)" >&2
    exit 2 ;;
esac
