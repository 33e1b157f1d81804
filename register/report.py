"""The timeliness report: the figures a partnership's annual report and the National Panel look for,
per local authority, from the case register.

For the cases received in a date range (and their local reviews): forms received, notifications made
and not made, and for each statutory step how many were judged, how many met their deadline, the
percentage, and the median number of working days the step took.

Each step is judged by the day it really happened against its last day, as the case recorded them
(issue 14): a Rapid Review by the day its report reached the National Panel, the copies by the actual
date of publication. A ¶2.4 clock set aside (a decision not to notify) is not a notification.
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
    "publication_copies": "Copies sent 7 working days before publication",
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
    notified = {d.case_id for d in deadlines if d.clock == "panel_notification" and d.status != "cancelled"}
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
        step_on = deadline.step_on
        measure.met += step_on <= deadline.due_on if step_on else deadline.status == "met"
        if deadline.starts_on and step_on and deadline.starts_on <= deadline.due_on:  # counted forward
            measure.working_days.append(working_days_between(deadline.starts_on, step_on))
    return [figures[authority] for authority in sorted(figures)]


def as_rows(figures: list[AuthorityFigures], names: dict[str, str] | None = None) -> list[dict[str, object]]:
    names = names if names is not None else authority_names()
    rows = []
    for f in figures:
        row: dict[str, object] = {
            "local_authority": f.local_authority,
            "local_authority_name": names.get(f.local_authority, f.local_authority),
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


def authority_names() -> dict[str, str]:
    """Each authority's and partnership's name as the routing file gives it (the slug if it has none)."""
    try:
        from activities.routing import load_routing

        routing = load_routing()
    except (OSError, ValueError):
        return {}
    names = {authority.value: config.name for authority, config in routing.local_authorities.items()}
    return names | {key: config.name for key, config in routing.partnerships.items()}


def plural(count: int, one: str, many: str | None = None) -> str:
    """'1 form', '2 forms', '1 serious incident', '3 serious incidents'."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


def number(value: float) -> str:
    """A median as people write it: 3, 1.5."""
    return f"{value:g}"


def median_text(m: Measure) -> str:
    if m.median_working_days is None:
        return "no median"
    value = m.median_working_days
    return f"median {number(value)} working day{'' if value == 1 else 's'}"


def chart_figure(figures: list[AuthorityFigures], title: str, names: dict[str, str] | None = None):
    """A bar chart of the percentage of each step on time, per authority, each bar labelled with the
    number of cases it stands on (n=); the legend below the chart, clear of the bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = names if names is not None else authority_names()
    keys = list(MEASURES)
    width = 0.8 / max(len(figures), 1)
    fig, ax = plt.subplots(figsize=(11, 6))
    for n, f in enumerate(figures):
        values = [f.measures[k].percent or 0 for k in keys]
        bars = ax.bar(
            [i + n * width for i in range(len(keys))], values, width, label=names.get(f.local_authority, f.local_authority)
        )
        ax.bar_label(bars, labels=[f"n={f.measures[k].judged}" for k in keys], padding=2, fontsize=7)
    ax.set_xticks([i + width * (len(figures) - 1) / 2 for i in range(len(keys))])
    ax.set_xticklabels([MEASURES[k].replace(" within", "\nwithin").replace(" on", "\non") for k in keys], fontsize=8)
    ax.set_ylabel("% on time (n = cases judged)")
    ax.set_ylim(0, 110)
    ax.set_yticks(range(0, 101, 20))
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=max(1, min(len(figures), 4)), frameon=False)
    fig.tight_layout()
    return fig


def draw_chart(figures: list[AuthorityFigures], path: Path, title: str, names: dict[str, str] | None = None) -> Path:
    """The chart as a PNG for the annual report."""
    import matplotlib.pyplot as plt

    fig = chart_figure(figures, title, names)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
