#!/usr/bin/env bash
# Set up everything and run the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/install-infra.sh
export LITELLM_LOCAL_MODEL_COST_MAP=True
# Keep compiled modules (in __pycache__, which git ignores): every xdist worker, daemon process and
# CLI call imports airad, and each worker imports every test module; with PYTHONDONTWRITEBYTECODE
# set, each of them compiled all that source again (~7 s of CPU per worker's collection alone).
# airad is compiled once here, before the workers start; pytest caches the rewritten test modules.
unset PYTHONDONTWRITEBYTECODE
.venv/bin/python -m compileall -q airad >/dev/null
# Three workers: most integration tests wait on daemons, servers and scripts rather than compute.
# Tests of the shared engines form one group, run by one worker, and the Slurm cluster's and the
# runtime image's tests one group each (conftest.py, test_container_image.py).
exec .venv/bin/python -m pytest -q -n 3 --dist loadgroup --durations=30 "$@"
