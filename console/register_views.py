"""The register's views for the console: open cases with filters, a case's audit, the annual
timeliness report and its chart, each as a page and as CSV, always limited to the person's partnership."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from sqlmodel import Session

from models.identity import Person
from register.db import engine, migrate
from register.models import CaseRow
from register.queries import CaseListing, audit_trail, messages_to, open_cases
from register.report import MEASURES, AuthorityFigures, as_rows, authority_names, chart_figure, timeliness
from starter import cell, happened_on

_migrated: set[str] = set()


def ready() -> None:
    """The register's schema, upgraded once per process (as the command line does before reading)."""
    if "done" not in _migrated:
        migrate()
        _migrated.add("done")


def cases(person: Person, authority: str = "", stage: str = "", overdue: bool = False) -> list[CaseListing]:
    ready()
    return open_cases(person.partnership, authority or None, stage or None, overdue)


def partnership_of(case_id: str) -> tuple[bool, str | None]:
    """Whether the register knows the case, and its partnership."""
    ready()
    with Session(engine()) as session:
        row = session.get(CaseRow, case_id)
    return (row is not None, row.partnership if row else None)


AUDIT_COLUMNS = ["at", "case_id", "seq", "kind", "name", "detail", "happened_on", "to"]


def audit_rows(case_id: str) -> list[dict[str, Any]]:
    events = audit_trail(case_id)
    recipients = messages_to([e.detail for e in events if e.kind.startswith("message_") and e.detail])
    return [
        {
            "at": e.at, "case_id": e.case_id, "seq": e.seq, "kind": e.kind, "name": e.name, "detail": e.detail or "",
            "happened_on": happened_on(e.detail),
            "to": "; ".join(recipients.get(e.detail or "", [])) if e.kind.startswith("message_") else "",
        }
        for e in events
    ]


def report(person: Person, start: date, end: date) -> tuple[list[AuthorityFigures], list[dict[str, object]]]:
    ready()
    figures = timeliness(start, end, person.partnership)
    return figures, as_rows(figures, authority_names())


def chart_png(figures: list[AuthorityFigures], title: str) -> bytes:
    import matplotlib.pyplot as plt

    figure = chart_figure(figures, title, authority_names())
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return out.getvalue()


def as_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """CSV a spreadsheet will not run (starter.cell neutralises a leading =, +, -, @)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(column)) for column in columns])
    return out.getvalue()


CASE_COLUMNS = list(CaseListing.model_fields)
MEASURE_TITLES = MEASURES
