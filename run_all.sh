#!/usr/bin/env bash
# The main job: set up .venv if needed, then execute every notebook with papermill under one
# profile (smoke | quick | full; default quick), regenerating figures/ and results/.
# Executed copies land in build/executed/. Stops at the first failing notebook and cell.
#   ./run_all.sh            # quick profile, minutes on a 2-core CPU
#   ./run_all.sh full       # sized for one GPU
#   ./run_all.sh smoke      # seconds; what the tests run
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
profile="${1:-quick}"
shift || true
tools/setup_env.sh
export HF_HUB_OFFLINE=1
start=$(date +%s)
.venv/bin/python -m mialib.notebook.runner "$profile" "$@"
echo "[run_all] notebooks wall time: $(( $(date +%s) - start )) s"
