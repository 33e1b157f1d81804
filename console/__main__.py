"""`python -m console`: the staff console on SAFEGUARDING_CONSOLE_HOST:SAFEGUARDING_CONSOLE_PORT
(default 127.0.0.1:8000), served by uvicorn. Access logs are off: a URL names a case, and the console's
own log lines carry ids and outcomes only.

`python -m console trust-key`: make the console's signing key if it has none and add its public key to
the worker's trusted keys, then stop: production runs it as a one-shot service, so that the console
itself never holds the worker's signing folder (docker-compose.yml)."""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

import signing
from console.app import create_app


def main() -> None:
    if sys.argv[1:] == ["trust-key"]:
        signing.ensure_key(signing.console_key_file(), door="staff console")
        print(f"the staff console's key is trusted ({signing.trusted_file()})", flush=True)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    host = os.environ.get("SAFEGUARDING_CONSOLE_HOST", "127.0.0.1")
    port = int(os.environ.get("SAFEGUARDING_CONSOLE_PORT", "8000"))
    print(f"staff console listening on http://{host}:{port}", flush=True)
    uvicorn.run(create_app(), host=host, port=port, access_log=False, proxy_headers=False, server_header=False,
                limit_concurrency=100, timeout_keep_alive=5)


if __name__ == "__main__":
    main()
