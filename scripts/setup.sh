#!/usr/bin/env bash
# Create .venv and install protege into it. `--dev` adds the test and lint tools.
# torch==2.13.0 goes first: with it in place the package's torch range installs nothing
# more, instead of pulling a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".${extras}"
