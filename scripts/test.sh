#!/usr/bin/env bash
# Set up everything and run the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/install-infra.sh
export LITELLM_LOCAL_MODEL_COST_MAP=True
# Three workers: most integration tests wait on daemons, servers and scripts rather than compute.
# Tests of the shared engines and the Slurm cluster form one group, run by one worker (conftest.py).
exec .venv/bin/python -m pytest -q -n 3 --dist loadgroup --durations=30 "$@"
