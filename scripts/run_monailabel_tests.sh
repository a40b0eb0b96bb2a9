#!/usr/bin/env bash
# Copyright (c) 2026 Renogram parenchyma bundle contributors.
# Licensed under the Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
#
# End-to-end test of the exported bundle in a real MONAI Label server (.ci/run calls it after the main suite).
# MONAI Label lives in its own virtual environment OUTSIDE the repository:
#   ${RENOGRAM_MONAILABEL_VENV:-$HOME/.cache/renogram/monailabel-venv}
# created on first use from scripts/monailabel_requirements.txt (~3 min, 8 GB) and reused while that file is unchanged.
# Extra arguments go to pytest, e.g. `bash scripts/run_monailabel_tests.sh -x -k info`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
"$PY" -m scripts.monailabel_app setup --python "$PY"
VENV="${RENOGRAM_MONAILABEL_VENV:-$HOME/.cache/renogram/monailabel-venv}"
# -p no:cacheprovider: nothing written into the repository; -m monailabel overrides pyproject's "not monailabel".
RENOGRAM_REQUIRE_MONAILABEL=1 exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider -m monailabel tests/monailabel "$@"
