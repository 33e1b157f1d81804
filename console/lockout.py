"""Failed password sign-ins, kept across console restarts: TRIES failures for one address within
WAIT_SECONDS refuse that address until they pass. Kept in the console's own small SQLite file in the data
folder (`data/console-sign-in.db`, owner-only; `SAFEGUARDING_CONSOLE_LOCKOUT_FILE`), each address as
an HMAC-SHA256 under a random key of the file's own, so the file names nobody in plain text."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import settings

TRIES = 5  # failed sign-ins for one address before it must wait
WAIT_SECONDS = 15 * 60
MAX_ROWS = 100_000  # bounded, whatever is tried


def lockout_file() -> Path:
    return Path(os.environ.get("SAFEGUARDING_CONSOLE_LOCKOUT_FILE", settings.data_dir() / "console-sign-in.db"))


def _connect() -> sqlite3.Connection:
    path = lockout_file()
    if not path.exists():
        settings.private_folder(path.parent)
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # owner-only before SQLite opens it
        except FileExistsError:
            pass
    connection = sqlite3.connect(path, timeout=10, isolation_level=None)  # its journal takes the file's mode
    connection.executescript(
        "CREATE TABLE IF NOT EXISTS failures (address BLOB NOT NULL, at REAL NOT NULL);"
        "CREATE INDEX IF NOT EXISTS failures_by_address ON failures (address);"
        "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
    )
    connection.execute("INSERT OR IGNORE INTO meta VALUES ('key', ?)", (secrets.token_bytes(32),))
    return connection


def _keyed(connection: sqlite3.Connection, address: str) -> bytes:
    (key,) = connection.execute("SELECT value FROM meta WHERE name = 'key'").fetchone()
    return hmac.new(key, address.encode(), hashlib.sha256).digest()


def is_locked(address: str) -> bool:
    with closing(_connect()) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM failures WHERE address = ? AND at > ?", (_keyed(connection, address), time.time() - WAIT_SECONDS)
        ).fetchone()
    return count >= TRIES


def failed(address: str) -> None:
    now = time.time()
    with closing(_connect()) as connection:
        connection.execute("DELETE FROM failures WHERE at <= ?", (now - WAIT_SECONDS,))
        connection.execute("INSERT INTO failures VALUES (?, ?)", (_keyed(connection, address), now))
        connection.execute("DELETE FROM failures WHERE rowid IN (SELECT rowid FROM failures ORDER BY at DESC LIMIT -1 OFFSET ?)", (MAX_ROWS,))


def passed(address: str) -> None:
    with closing(_connect()) as connection:
        connection.execute("DELETE FROM failures WHERE address = ?", (_keyed(connection, address),))
