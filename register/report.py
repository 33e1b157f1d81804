"""The timeliness report: the figures a partnership's annual report and the National Panel look for,
per local authority, from the case register.

For the cases received in a date range (and their local reviews): forms received, notifications made
and not made, and for each statutory step how many were judged, how many met their deadline, the
percentage, and the median number of working days the step took.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlmodel import Session, col, select

from models.working_days import working_days_between
from register.db import engine
from register.models import CaseRow, DeadlineRow

MEASURES = {
    "dsp_meeting": "DSP decisions within 2 working days",
    "panel_notification": "Notifications within 5 working days",
    "rapid_review_submission": "Rapid Reviews submitted within 15 working days",
    "lcspr_publication": "LCSPRs published within 6 months",
    "recommendation": "Recommendations completed on time",
}


@dataclass
class Measure:
    judged: int = 0
    met: int = 0
    working_days: list[int] = field(default_factory=list)

    @property
    def percent(self) -> float | None:
        return round(100 * self.met / self.judged, 1) if self.judged else None

    @property
    def median_working_days(self) -> float | None:
        return statistics.median(self.working_days) if self.working_days else None


@dataclass
class AuthorityFigures:
    local_authority: str
    forms_received: int = 0
    serious_incidents: int = 0
    learning_requests: int = 0
    notified: int = 0
    not_notified: int = 0
    measures: dict[str, Measure] = field(default_factory=lambda: {key: Measure() for key in MEASURES})


def timeliness(start: date, end: date, partnership: str | None = None) -> list[AuthorityFigures]:
    with Session(engine()) as session:
        query = select(CaseRow).where(
            CaseRow.received_on >= start, CaseRow.received_on <= end, col(CaseRow.parent_case_id).is_(None)
        )
        if partnership:
            query = query.where(CaseRow.partnership == partnership)
        cases = {case.case_id: case for case in session.exec(query)}
        children = session.exec(select(CaseRow).where(col(CaseRow.parent_case_id).in_(list(cases)))).all()
        authority_of = {case_id: case.local_authority for case_id, case in cases.items()}
        authority_of |= {child.case_id: cases[child.parent_case_id].local_authority for child in children}  # type: ignore[index]
        deadlines = session.exec(select(DeadlineRow).where(col(DeadlineRow.case_id).in_(list(authority_of)))).all()

    figures: dict[str, AuthorityFigures] = {}
    for case in cases.values():
        row = figures.setdefault(case.local_authority, AuthorityFigures(case.local_authority))
        row.forms_received += 1
        row.serious_incidents += case.kind == "serious_incident"
        row.learning_requests += case.kind == "learning_request"
    notified = {d.case_id for d in deadlines if d.clock == "panel_notification"}
    for case in cases.values():
        if case.kind == "serious_incident" and case.stage not in ("dsp_meeting", "withdrawn"):
            row = figures[case.local_authority]
            if case.case_id in notified:
                row.notified += 1
            elif case.stage in ("challenge_window", "dispute_resolution", "closed"):
                row.not_notified += 1
    for deadline in deadlines:
        if deadline.clock not in MEASURES or deadline.status not in ("met", "missed"):
            continue
        measure = figures[authority_of[deadline.case_id]].measures[deadline.clock]
        measure.judged += 1
        measure.met += deadline.status == "met"
        if deadline.starts_on and deadline.step_on:
            measure.working_days.append(working_days_between(deadline.starts_on, deadline.step_on))
    return [figures[authority] for authority in sorted(figures)]


def as_rows(figures: list[AuthorityFigures]) -> list[dict[str, object]]:
    rows = []
    for f in figures:
        row: dict[str, object] = {
            "local_authority": f.local_authority,
            "forms_received": f.forms_received,
            "serious_incidents": f.serious_incidents,
            "learning_requests": f.learning_requests,
            "notified": f.notified,
            "not_notified": f.not_notified,
        }
        for key, m in f.measures.items():
            row |= {
                f"{key}_judged": m.judged,
                f"{key}_met": m.met,
                f"{key}_percent": m.percent,
                f"{key}_median_working_days": m.median_working_days,
            }
        rows.append(row)
    return rows


def draw_chart(figures: list[AuthorityFigures], path: Path, title: str) -> Path:
    """A bar chart of the percentage of each step on time, per authority, as a PNG for the annual report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(MEASURES)
    width = 0.8 / max(len(figures), 1)
    fig, ax = plt.subplots(figsize=(11, 5.5))
    for n, f in enumerate(figures):
        values = [f.measures[k].percent or 0 for k in keys]
        ax.bar([i + n * width for i in range(len(keys))], values, width, label=f.local_authority)
    ax.set_xticks([i + width * (len(figures) - 1) / 2 for i in range(len(keys))])
    ax.set_xticklabels([MEASURES[k].replace(" within", "\nwithin").replace(" on", "\non") for k in keys], fontsize=8)
    ax.set_ylabel("% on time")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
