"""The timeliness report's figures, checked against a register of cases with known outcomes."""

from __future__ import annotations

import csv
import re
import io
from datetime import date, datetime, timezone

from sqlmodel import Session

import starter
from register.db import engine_for, migrate
from register.models import CaseRow, DeadlineRow

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def case(case_id, authority, partnership, received_on, stage, kind="serious_incident", parent=None):
    return CaseRow(
        case_id=case_id, kind=kind, local_authority=authority, partnership=partnership, parent_case_id=parent,
        stage=stage, received_on=received_on, updated_at=NOW,
    )


def clock(case_id, key, starts_on, due_on, status, step_on=None, subject=None):
    return DeadlineRow(
        case_id=case_id, key=f"{key}:{subject}" if subject else key, clock=key, subject=subject,
        starts_on=starts_on, due_on=due_on, status=status, step_on=step_on,
    )


def known_register(url: str) -> None:
    migrate(url)
    rows = [
        # Stockton: one case on time throughout, one late at every step.
        case("SI-A", "stockton-on-tees", "HSSCP", date(2025, 12, 23), "local_review"),
        clock("SI-A", "dsp_meeting", date(2025, 12, 23), date(2025, 12, 29), "met", date(2025, 12, 24)),  # 1 wd
        clock("SI-A", "panel_notification", date(2025, 12, 22), date(2025, 12, 31), "met", date(2025, 12, 29)),  # 3 wd
        clock("SI-A", "rapid_review_submission", date(2025, 12, 29), date(2026, 1, 20), "met", date(2026, 1, 16)),  # 13 wd
        case("SI-A-lcspr", "stockton-on-tees", "HSSCP", date(2026, 1, 15), "monitoring", "local_review", parent="SI-A"),
        clock("SI-A-lcspr", "lcspr_publication", date(2026, 1, 15), date(2026, 7, 15), "met", date(2026, 7, 9)),
        clock("SI-A-lcspr", "recommendation", date(2026, 5, 28), date(2026, 10, 29), "met", date(2026, 10, 20), "R1"),
        clock("SI-A-lcspr", "recommendation", date(2026, 5, 28), date(2026, 10, 1), "missed", date(2026, 10, 20), "R2"),
        case("SI-B", "stockton-on-tees", "HSSCP", date(2025, 3, 3), "closed"),
        clock("SI-B", "dsp_meeting", date(2025, 3, 3), date(2025, 3, 5), "missed", date(2025, 3, 10)),  # 5 wd
        clock("SI-B", "panel_notification", date(2025, 3, 3), date(2025, 3, 10), "missed", date(2025, 3, 14)),  # 9 wd
        clock("SI-B", "rapid_review_submission", date(2025, 3, 14), date(2025, 4, 4), "open"),  # not judged
        # Middlesbrough: not notified, and a learning request.
        case("SI-C", "middlesbrough", "STSCP", date(2025, 6, 2), "closed"),
        clock("SI-C", "dsp_meeting", date(2025, 6, 2), date(2025, 6, 4), "met", date(2025, 6, 4)),  # 2 wd
        case("LR-D", "middlesbrough", "STSCP", date(2025, 11, 20), "closed", kind="learning_request"),
        # Outside the range: not counted.
        case("SI-E", "hartlepool", "HSSCP", date(2024, 12, 2), "closed"),
        clock("SI-E", "dsp_meeting", date(2024, 12, 2), date(2024, 12, 4), "missed", date(2024, 12, 9)),
    ]
    with Session(engine_for(url)) as session:
        session.add_all(rows)
        session.commit()


def test_the_figures_per_authority(register_url, capsys, tmp_path):
    known_register(register_url)
    starter.report(starter.parse_args(["report", "--from", "2025-01-01", "--to", "2025-12-31", "--csv"]))
    rows = {r["local_authority"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert set(rows) == {"stockton-on-tees", "middlesbrough"}

    stockton = rows["stockton-on-tees"]
    assert (stockton["forms_received"], stockton["serious_incidents"], stockton["notified"]) == ("2", "2", "2")
    assert (stockton["dsp_meeting_judged"], stockton["dsp_meeting_met"], stockton["dsp_meeting_percent"]) == ("2", "1", "50.0")
    assert stockton["dsp_meeting_median_working_days"] == "3.0"  # median of 1 and 5
    assert stockton["panel_notification_median_working_days"] == "6.0"  # median of 3 and 9
    assert (stockton["rapid_review_submission_judged"], stockton["rapid_review_submission_met"]) == ("1", "1")
    assert stockton["rapid_review_submission_median_working_days"] == "13"
    assert (stockton["lcspr_publication_met"], stockton["lcspr_publication_percent"]) == ("1", "100.0")
    assert (stockton["recommendation_judged"], stockton["recommendation_met"], stockton["recommendation_percent"]) == ("2", "1", "50.0")

    middlesbrough = rows["middlesbrough"]
    assert (middlesbrough["forms_received"], middlesbrough["learning_requests"]) == ("2", "1")
    assert (middlesbrough["notified"], middlesbrough["not_notified"]) == ("0", "1")
    assert (middlesbrough["dsp_meeting_percent"], middlesbrough["dsp_meeting_median_working_days"]) == ("100.0", "2")
    assert middlesbrough["rapid_review_submission_percent"] == ""  # none judged

    assert stockton["local_authority_name"] == "Stockton-on-Tees"

    chart = tmp_path / "timeliness.png"
    starter.report(starter.parse_args(["report", "--from", "2025-01-01", "--to", "2025-12-31", "--partnership", "HSSCP", "--chart", str(chart)]))
    table = capsys.readouterr().out
    assert "Cases received 1 January 2025 to 31 December 2025 (Hartlepool and Stockton-on-Tees Safeguarding Children Partnership)" in table
    assert "Stockton-on-Tees: 2 forms (2 serious incidents, 0 learning requests)" in table
    assert "middlesbrough" not in table.lower() and "stockton-on-tees" not in table
    assert re.search(r"DSP decisions within 2 working days +1 of 2 on time \(50%\), median 3 working days", table)
    assert re.search(r"Rapid Reviews submitted within 15 working days +1 of 1 on time \(100%\), median 13 working days", table)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000


def test_one_of_each_is_said_in_the_singular(register_url, capsys):
    known_register(register_url)
    starter.report(starter.parse_args(["report", "--from", "2025-12-01", "--to", "2025-12-31"]))
    table = capsys.readouterr().out
    assert "Stockton-on-Tees: 1 form (1 serious incident, 0 learning requests)" in table
    assert re.search(r"DSP decisions within 2 working days +1 of 1 on time \(100%\), median 1 working day$", table, re.M)
    assert re.search(r"Notifications within 5 working days +1 of 1 on time \(100%\), median 3 working days$", table, re.M)
    assert " 1 forms" not in table and " 1 working days" not in table
    starter.report(starter.parse_args(["report", "--from", "2025-11-01", "--to", "2025-11-30"]))
    assert "Middlesbrough: 1 form (0 serious incidents, 1 learning request)" in capsys.readouterr().out


def test_the_chart_says_what_each_bar_stands_on_and_its_legend_covers_no_bar(register_url):
    """Read back from the figure: each bar labelled n=<cases judged>, authorities by name, the legend
    outside the plotting area (it covered the last bar when drawn inside)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from register.report import chart_figure, timeliness

    known_register(register_url)
    figures = timeliness(date(2025, 1, 1), date(2025, 12, 31))
    fig = chart_figure(figures, "Timeliness")
    try:
        fig.canvas.draw()
        (ax,) = fig.axes
        legend = ax.get_legend()
        assert [t.get_text() for t in legend.get_texts()] == ["Middlesbrough", "Stockton-on-Tees"]
        labels = [t.get_text() for t in ax.texts]
        # per authority (Middlesbrough, Stockton) and measure: how many cases were judged
        assert labels == ["n=1", "n=0", "n=0", "n=0", "n=0", "n=0", "n=2", "n=2", "n=1", "n=1", "n=0", "n=2"]
        renderer = fig.canvas.get_renderer()
        box = legend.get_window_extent(renderer)
        bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_height() > 0]
        assert bars
        assert not any(box.overlaps(bar.get_window_extent(renderer)) for bar in bars)
        assert box.y1 < ax.get_window_extent(renderer).y0, "the legend is below the chart"
        assert "stockton-on-tees" not in " ".join(t.get_text() for t in fig.findobj(plt.Text))
    finally:
        plt.close(fig)


def test_the_report_counts_from_the_corrected_dates(register_url, capsys):
    """Issue 14: a Rapid Review judged by the day its report reached the Panel (signed in time, sent late),
    copies judged against the actual publication, a ¶2.4 clock set aside by "do not notify"."""
    migrate(register_url)
    rows = [
        case("SI-F", "hartlepool", "HSSCP", date(2025, 3, 3), "closed"),  # not notified: its ¶2.4 clock set aside
        clock("SI-F", "dsp_meeting", date(2025, 3, 3), date(2025, 3, 5), "met", date(2025, 3, 4)),
        clock("SI-F", "panel_notification", date(2025, 3, 3), date(2025, 3, 10), "cancelled"),
        case("SI-G", "hartlepool", "HSSCP", date(2025, 3, 3), "local_review"),
        clock("SI-G", "panel_notification", date(2025, 3, 3), date(2025, 3, 10), "met", date(2025, 3, 6)),
        # signed on 2025-03-27, the last day; the report reached the Panel on 2025-04-01
        clock("SI-G", "rapid_review_submission", date(2025, 3, 6), date(2025, 3, 27), "missed", date(2025, 4, 1)),
        case("SI-G-lcspr", "hartlepool", "HSSCP", date(2025, 4, 1), "monitoring", "local_review", parent="SI-G"),
        # planned for 2025-10-01, published 2025-09-10: the copies of 2025-09-05 were due by 2025-09-01
        clock("SI-G-lcspr", "publication_copies", date(2025, 9, 10), date(2025, 9, 1), "missed", date(2025, 9, 5)),
        clock("SI-G-lcspr", "lcspr_publication", date(2025, 4, 1), date(2025, 10, 1), "met", date(2025, 9, 10)),
    ]
    with Session(engine_for(register_url)) as session:
        session.add_all(rows)
        session.commit()
    starter.report(starter.parse_args(["report", "--from", "2025-01-01", "--to", "2025-12-31", "--csv"]))
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert (row["notified"], row["not_notified"]) == ("1", "1")
    assert (row["panel_notification_judged"], row["panel_notification_met"]) == ("1", "1")
    assert (row["rapid_review_submission_judged"], row["rapid_review_submission_met"]) == ("1", "0")
    assert row["rapid_review_submission_median_working_days"] == "18"
    assert (row["publication_copies_judged"], row["publication_copies_met"], row["publication_copies_percent"]) == ("1", "0", "0.0")
    assert row["publication_copies_median_working_days"] == ""
