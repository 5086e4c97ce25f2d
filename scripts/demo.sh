#!/usr/bin/env bash
# The first README command: set up everything on a fresh machine, index the bundled demo
# catalog with the default multilingual model, print example searches and serve the web page.
# Pass --no-serve to stop after the example searches; other arguments go to `podsearch demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh onnx
exec .venv/bin/podsearch demo "$@"
