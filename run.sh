#!/usr/bin/env bash
# Thin launcher. Sets up .venv on first use (or when pyproject.toml changes),
# then runs one of:
#   ./run.sh [--config.x=y ...]   train experiments/demo.py into workdirs/demo
#   ./run.sh test [ARGS]          the test suite on 2 workers (ARGS go to
#                                 pytest)
#   ./run.sh train FLAGS          python -m stylegan_jax.main FLAGS
#   ./run.sh TOOL ARGS            a tool: generate, style_mixing, interpolate,
#                                 project, metrics, convert, style_transfer,
#                                 translate (see README.md)
#   ./run.sh tensorboard ARGS     TensorBoard from .venv
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

cmd=main
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  cmd=$1
  shift
fi
case "$cmd" in
  main)
    workdir=workdirs/demo
    prev=
    for arg in "$@"; do
      case "$arg" in --workdir=*) workdir=${arg#--workdir=} ;; esac
      [ "$prev" = --workdir ] && workdir=$arg
      prev=$arg
    done
    .venv/bin/python -m stylegan_jax.main --config experiments/demo.py \
      --workdir "$workdir" "$@"
    # The final snapshot's style accuracy/diversity (already computed).
    .venv/bin/python -c 'import sys
from stylegan_jax.evaluators import style_report
style_report.print_report(sys.argv[1])' "$workdir" | sed 's/^/run.sh: /'
    latest=$(ls -1 "$workdir"/samples/fakes*.png 2>/dev/null | tail -n 1)
    echo "run.sh: sample grids are in $workdir/samples (latest: $latest)"
    echo "run.sh: TensorBoard: ./run.sh tensorboard --logdir $workdir/logs" ;;
  train)
    exec .venv/bin/python -m stylegan_jax.main "$@" ;;
  test)
    # Two pytest workers (the CI machine's cores); STYLEGAN_JAX_TEST_WORKERS
    # changes it (0: one process).
    exec .venv/bin/python -m pytest -q -n "${STYLEGAN_JAX_TEST_WORKERS:-2}" \
      --dist worksteal "$@" ;;
  tensorboard)
    exec .venv/bin/tensorboard "$@" ;;
  generate|style_mixing|interpolate|project|metrics|convert|style_transfer|translate)
    exec .venv/bin/python -m "stylegan_jax.$cmd" "$@" ;;
  *)
    echo "error: unknown command '$cmd' — use test, train, tensorboard, a tool" \
      "(generate, style_mixing, interpolate, project, metrics, convert," \
      "style_transfer, translate), or --config.x=y overrides for the demo" >&2
    exit 2 ;;
esac
