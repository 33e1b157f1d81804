"""Renders what people receive, from the examples, into docs/ for the README:

    python scripts/render_docs.py

docs/serious-incident-notification-form.png and docs/rapid-review-report.png are page 1 of the Word
documents (docx -> PDF with LibreOffice, PDF -> PNG with poppler's pdftoppm: `apt-get install
libreoffice-writer-nogui poppler-utils`); docs/timeliness-chart.png is the report's chart for a sample
year. The .docx files are written beside them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from activities.documents import serious_incident_form_document  # noqa: E402
from activities.routing import load_routing  # noqa: E402
from models.decisions import Decision, parse_decision  # noqa: E402
from models.reports import RapidReviewReportRequest  # noqa: E402
from register.report import AuthorityFigures, draw_chart  # noqa: E402

DOCS = PROJECT / "docs"
CASE_ID = "SI-20251223-3fa2c1"


def example(name: str) -> dict:
    return json.loads((PROJECT / "examples" / name).read_text(encoding="utf-8"))


def decision(name: str):
    return parse_decision(Decision(name=name, body=example(f"decisions/{name}.json")))


def form_document(folder: Path) -> Path:
    path = folder / "serious-incident-notification-form.docx"
    context = {"meeting_held_on": "2025-12-24", "notification_due_on": "2025-12-31"}
    path.write_bytes(serious_incident_form_document(example("serious-incident-form.json"), CASE_ID, load_routing(), context))
    return path


def rapid_review_report(folder: Path) -> Path:
    from activities.reports import render

    os.environ["SAFEGUARDING_REPORTS_DIR"] = str(folder / "reports")
    request = RapidReviewReportRequest(
        case_id=CASE_ID,
        local_authority="stockton-on-tees",
        partnership="HSSCP",
        csons_reference="CSONS-0000001",
        notified_on=date(2025, 12, 29),
        convened=decision("rapid_review_convened"),
        contributions=[decision("agency_contribution_received")],
        meeting=decision("rapid_review_meeting_held"),
        executive=decision("executive_decision"),
        sign_off=decision("chair_sign_off"),
    )
    path = folder / "rapid-review-report.docx"
    shutil.copy(render(request), path)
    return path


def sample_figures() -> list[AuthorityFigures]:
    """A sample year: what the annual report's chart looks like with a few cases per authority."""
    figures = []
    for authority, judged_met in {
        "hartlepool": [(3, 3), (2, 1), (2, 2), (1, 1), (4, 3)],
        "middlesbrough": [(5, 4), (3, 3), (3, 2), (0, 0), (2, 2)],
        "redcar-and-cleveland": [(2, 1), (1, 1), (1, 0), (0, 0), (0, 0)],
        "stockton-on-tees": [(4, 4), (3, 2), (3, 3), (1, 1), (6, 4)],
    }.items():
        row = AuthorityFigures(authority, forms_received=judged_met[0][0])
        for (judged, met), measure in zip(judged_met, row.measures.values()):
            measure.judged, measure.met = judged, met
        figures.append(row)
    return figures


def page_one_png(document: Path, png: Path) -> bool:
    soffice, pdftoppm = shutil.which("soffice") or shutil.which("libreoffice"), shutil.which("pdftoppm")
    if not (soffice and pdftoppm):
        print(f"{png.name}: not rendered (LibreOffice and pdftoppm are needed)", file=sys.stderr)
        return False
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(
            [soffice, f"-env:UserInstallation=file://{work}/profile", "--headless", "--convert-to", "pdf", "--outdir", work, str(document)],
            check=True, capture_output=True, timeout=180,
        )
        pdf = Path(work) / f"{document.stem}.pdf"
        subprocess.run([pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(png.with_suffix(""))], check=True, timeout=60)
    return True


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for document in (form_document(Path(work)), rapid_review_report(Path(work))):
            shutil.copy(document, DOCS / document.name)
            page_one_png(DOCS / document.name, DOCS / f"{document.stem}.png")
    names = {authority.value: config.name for authority, config in load_routing().local_authorities.items()}
    draw_chart(sample_figures(), DOCS / "timeliness-chart.png", "Timeliness, cases received 1 April 2025 to 31 March 2026 (sample)", names)
    print(f"written: {', '.join(sorted(p.name for p in DOCS.iterdir()))}")


if __name__ == "__main__":
    main()
