#!/usr/bin/env bash
# The main job: set up .venv if needed, then execute every notebook with papermill under one
# profile (smoke | quick | full; default quick), regenerating figures/ and results/.
# Executed copies land in build/executed/, each notebook's output in build/logs/. Up to two
# notebooks run at once on a machine with two or more CPUs (--jobs 1: one at a time). Stops at
# the first failing notebook and cell. Ends with the run's cost in units of one reference
# training step, timed before and after the notebooks (benchmarks/suite_cost.py).
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
mkdir -p build/logs
log=build/logs/run_all.log
: > "$log"
timed=0
if [ "$profile" != smoke ]; then timed=1; fi
if [ "$timed" = 1 ]; then .venv/bin/python benchmarks/suite_cost.py --step-only 2>/dev/null | tee -a "$log"; fi
start=$(date +%s)
.venv/bin/python -m mialib.notebook.runner "$profile" "$@" 2>&1 | tee -a "$log"
echo "[run_all] notebooks wall time: $(( $(date +%s) - start )) s" | tee -a "$log"
if [ "$timed" = 1 ]; then .venv/bin/python benchmarks/suite_cost.py --log "$log" 2>/dev/null || true; fi
