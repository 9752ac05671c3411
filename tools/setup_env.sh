#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment .venv and install requirements.txt and
# mialib into it. Re-installs only when requirements.txt or pyproject.toml changed.
# Usage: tools/setup_env.sh            (PYTHON=python3.11 tools/setup_env.sh to pick the interpreter)
#        tools/setup_env.sh --teaching (also requirements-teaching.txt: nbgrader; tools/test.sh does this)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
teaching=0
for arg in "$@"; do
  case "$arg" in
    --teaching) teaching=1 ;;
    *) echo "setup: unknown option '$arg' (the only one is --teaching)" >&2; exit 2 ;;
  esac
done
py="${PYTHON:-python3}"
if ! command -v "$py" >/dev/null 2>&1; then
  echo "setup: '$py' not found; install Python 3.10+ or set PYTHON=/path/to/python" >&2; exit 1
fi
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "setup: Python 3.10 or newer is needed, $py is $("$py" --version 2>&1)" >&2; exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $("$py" --version 2>&1)"
  "$py" -m venv .venv
fi
stamp=.venv/.mialib-installed
want="$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing requirements (first run: a few minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements.txt
  .venv/bin/python -m pip install --quiet --no-deps -e .
  .venv/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mialib)" >/dev/null
  echo "$want" > "$stamp"
fi
if [ "$teaching" = 1 ]; then
  tstamp=.venv/.mialib-teaching-installed
  twant="$(cat requirements.txt requirements-teaching.txt | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$tstamp" ] || [ "$(cat "$tstamp")" != "$twant" ]; then
    echo "[setup] installing the teaching extra (nbgrader)"
    .venv/bin/python -m pip install --quiet -r requirements.txt -r requirements-teaching.txt
    echo "$twant" > "$tstamp"
  fi
fi
