#!/usr/bin/env bash
# Installs the project with its test dependencies and runs the whole test suite against real
# Temporal servers (the time-skipping test server and the dev server, both from PyPI packages) and,
# for the Web UI, Debian's chromium (tests marked `browser`; `-m "not browser"` leaves them out).
# The case register's tests also run on PostgreSQL at 127.0.0.1:5432: the machine's PostgreSQL is
# started if it is installed and down; without one, those tests are skipped and say why in the summary.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432 && command -v pg_ctlcluster >/dev/null; then
  for version in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 && break || true
  done
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# The locked dependencies, hash-checked (what was tested is what runs), then the project itself.
if ! cat requirements-test.lock pyproject.toml | cmp -s - .venv/.installed-test; then
  .venv/bin/pip install --quiet --require-hashes -r requirements-test.lock
  .venv/bin/pip install --quiet --no-deps -e .
  cat requirements-test.lock pyproject.toml >.venv/.installed-test
fi
exec .venv/bin/python -m pytest "$@"
