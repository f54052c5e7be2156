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
# --dev: Meta-World for its tests (tests/envs/test_metaworld.py), without its dependencies:
# metaworld 3.1.1 pins mujoco 3.3.0, which would replace the 4.0.0 of the mujoco extra that
# the shipped MuJoCo experts were trained and are tested on (protege.envs.metaworld patches
# the one incompatibility); the rest it needs (gymnasium, numpy, scipy, imageio) is there
if [ "${1:-}" = "--dev" ]; then
  .venv/bin/python -m pip install --quiet --no-deps "metaworld==3.1.1"
fi
