"""Where the register is and how it is brought up to date.

SAFEGUARDING_REGISTER_URL names the database: a SQLite file by default (data/register.db, beside the
embedded Temporal server's), PostgreSQL by URL (postgresql+psycopg://user@host/db). `migrate` upgrades
it in place to the newest schema: a register that holds years of cases is never recreated.

    python -m register.db     # migrate the register SAFEGUARDING_REGISTER_URL names, then exit

The worker migrates this way, in a process of its own, so that Alembic (about 12 MB once imported)
is not kept in the memory of a process that runs for months.
"""

from __future__ import annotations

import os
import sqlite3
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, event
from sqlmodel import create_engine

import settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def register_url() -> str:
    default = f"sqlite:///{settings.data_dir() / 'register.db'}"
    return os.environ.get("SAFEGUARDING_REGISTER_URL", default)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    if not url.startswith("sqlite:///"):
        return create_engine(url, pool_pre_ping=True)  # a server's connection may have gone while idle
    # Owner-only: the folder 0700, the file created 0600 before SQLite opens it (its journal files take
    # the database file's mode).
    path = Path(url.removeprefix("sqlite:///"))
    settings.private_folder(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    path.chmod(0o600)  # a register created before this rule is tightened too
    engine = create_engine(url)  # a file: no connection to lose, so none pinged before each write
    event.listen(engine, "connect", write_ahead_log)
    return engine


def write_ahead_log(connection: sqlite3.Connection, _record: object) -> None:
    """SQLite's write-ahead log: a write is one append and one sync of the log, not a rollback journal
    created, synced and deleted with the database synced besides; `synchronous` stays FULL, so a written
    event survives a power cut as before; readers (the console) do not block the worker's writes."""
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")  # said, not left to how SQLite was built


def engine() -> Engine:
    return engine_for(register_url())


def migrate(url: str | None = None) -> None:
    """Bring the register's schema to the newest migration."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url or register_url())
    with engine_for(url or register_url()).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


if __name__ == "__main__":
    migrate()
