"""The register's views for the console: open cases with filters, a case's audit, the annual
timeliness report and its chart, each as a page and as CSV, always limited to the person's partnership.
Read from the case register (register/queries.py, register/report.py), as `starter.py cases|audit|report`."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from console import cases as case_access
from console.pages import choice, csv_download, page, signed_in, today
from models.case import Stage
from models.forms import LocalAuthority
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


# ---- the pages ----------------------------------------------------------------------------------------


@signed_in
async def register_cases(request: Request) -> Response:
    query = request.query_params
    authority = choice(query.get("authority"), [a.value for a in LocalAuthority])
    stage = choice(query.get("stage"), [s.value for s in Stage])
    overdue = query.get("overdue") == "yes"
    rows = cases(request.state.person, authority, stage, overdue)
    if query.get("format") == "csv":
        return csv_download(as_csv(CASE_COLUMNS, [r.model_dump() for r in rows]), "cases.csv")
    return page(request, "register_cases.html", rows=rows, authority=authority, stage=stage, overdue=overdue,
                authorities=list(LocalAuthority), stages=list(Stage), query=str(query))


@signed_in
async def register_audit(request: Request) -> Response:
    case_id = request.path_params["case_id"]
    known, partnership = partnership_of(case_id) if case_access.CASE_ID.fullmatch(case_id) else (False, None)
    if not known or not case_access.may_see(request.state.person, partnership):
        raise HTTPException(404, "Page not found")
    rows = audit_rows(case_id)
    if request.query_params.get("format") == "csv":
        return csv_download(as_csv(AUDIT_COLUMNS, rows), f"audit-{case_id}.csv")
    return page(request, "register_audit.html", case_id=case_id, rows=rows)


def _period(request: Request) -> tuple[date, date]:
    """The report's period from ?from=&to= (default: the last twelve months)."""
    end, start = today(), today() - timedelta(days=365)
    try:
        start = date.fromisoformat(request.query_params.get("from") or start.isoformat())
        end = date.fromisoformat(request.query_params.get("to") or end.isoformat())
    except ValueError:
        raise HTTPException(400, "Dates are written YYYY-MM-DD.") from None
    if start > end or (end - start).days > 3660:
        raise HTTPException(400, "The period must start before it ends and be at most ten years.")
    return start, end


@signed_in
async def register_report(request: Request) -> Response:
    start, end = _period(request)
    figures, rows = report(request.state.person, start, end)
    if request.query_params.get("format") == "csv":
        columns = list(rows[0]) if rows else ["local_authority"]
        return csv_download(as_csv(columns, rows), f"timeliness-{start}-{end}.csv")
    return page(request, "register_report.html", figures=figures, start=start, end=end, measures=MEASURE_TITLES)


@signed_in
async def register_chart(request: Request) -> Response:
    start, end = _period(request)
    figures, _ = report(request.state.person, start, end)
    png = chart_png(figures, f"Timeliness, cases received {start} to {end}")
    return Response(png, media_type="image/png")
