#!/usr/bin/env bash
# The README's test command: set up .venv (idempotent), lint, and run the whole pytest suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/env.sh"
bash "$ROOT/tools/build_test_interfaces.sh"
cd "$ROOT"
"$ROOT/.venv/bin/ruff" check .
# Every variant's torch-vs-ONNX parity runs by default (SGNET_FULL_TESTS=0 skips ResNet-50/101).
export SGNET_FULL_TESTS="${SGNET_FULL_TESTS:-1}"
# pytest exits 5 when it collected no test; that must fail too, so no special-casing here.
exec "$ROOT/.venv/bin/python" -m pytest test "$@"
