#!/usr/bin/env bash
# Set up airad on a fresh Debian machine: system packages, a virtualenv, pinned dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing bubblewrap (the local executor's sandbox)" >&2
    apt-get install -y -qq bubblewrap >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq bubblewrap >/dev/null; }
  else
    echo "setup: bubblewrap is not installed; scripts will run without a sandbox (install the 'bubblewrap' package)" >&2
  fi
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade "pip==26.3"
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
# The example plugins (docs/extending.md), editable and without dependencies: they need only airad,
# installed above, and builds with the same setuptools as airad's own install.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e examples/plugins/airad-halving -e examples/plugins/airad-friedman
echo "setup: done. The airad command is .venv/bin/airad (\`. .venv/bin/activate\` puts it on the PATH)."
