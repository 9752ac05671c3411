#!/usr/bin/env bash
# The tests: set up .venv if needed, then run pytest (unit tests of mialib, notebook hygiene,
# a papermill smoke run of every notebook, and the nbgrader round trip: the test set-up also installs
# requirements-teaching.txt). Extra arguments go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tools/setup_env.sh --teaching
export HF_HUB_OFFLINE=1 MPLBACKEND=Agg MIALIB_PROGRESS=0
exec .venv/bin/python -m pytest "$@"
