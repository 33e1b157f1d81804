"""The staff console in real headless Chromium (Debian's `chromium`, driven by Playwright), against the
embedded default as `scripts/run.sh` runs it: a Temporal dev server, the worker, the codec server and
the console, on free loopback ports, with accounts made by `starter.py users add`.

A Business Unit officer signs in, enters a serious-incident form, records the DSP decision, and the case
page shows the next deadline; a refused decision shows the case's reason on the form; a viewer cannot
record a decision; another partnership's officer cannot open the case by its URL; a forged post without
the CSRF token is refused. A person signs in through the partnership's OpenID Connect provider (a
real one on loopback, tests/oidc_provider.py) to a console with the password form off, and records a
decision as themselves. axe-core (axe-playwright-python's bundled axe.min.js) checks every page: no
serious or critical violation.

Screenshots of the worklist, a case page and a decision form are written to a temporary folder, or to
docs/ with SAFEGUARDING_CONSOLE_SCREENSHOTS=docs (how the README's were made).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from tests.oidc_provider import FakeProvider, Served, console_environment
from tests.test_web_ui import CHROMIUM, PERSONAL, PROJECT, Stack, embedded_default, free_port, wait_for  # noqa: F401 (the fixture)

pytestmark = pytest.mark.browser

PASSWORD = "a long passphrase for the browser test"
OFFICER, VIEWER, OTHER = "officer@hsscp.example.org", "viewer@hsscp.example.org", "officer@stscp.example.org"
SCREENSHOTS = ("console-worklist.png", "console-case.png", "console-decision-form.png")
AXE_IMPACTS = ("serious", "critical")


def console_url(stack: Stack) -> str:
    return f"http://localhost:{stack.env['SAFEGUARDING_CONSOLE_PORT']}"


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def console(embedded_default: Stack) -> Iterator[tuple[Stack, str]]:
    """run.sh's console, with three accounts (two partnerships, one a viewer)."""
    url = console_url(embedded_default)
    wait_for(lambda: healthy(url), "the staff console to answer", 120)
    for email, partnership, role in ((OFFICER, "HSSCP", "business_unit"), (VIEWER, "HSSCP", "viewer"), (OTHER, "STSCP", "business_unit")):
        added = subprocess.run([sys.executable, "starter.py", "users", "add", email, "--partnership", partnership, "--role", role],
                               cwd=PROJECT, env=embedded_default.env | {"SAFEGUARDING_DATA_DIR": str(embedded_default.data)},
                               input=PASSWORD + "\n", capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stderr
    yield embedded_default, url


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


class Person:
    """One person's browser: their own context (cookies), axe-checking each page they see."""

    def __init__(self, browser, url: str, email: str, checked: dict[str, list[str]]) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.url = url
        self.checked = checked
        self.sign_in(email)

    def sign_in(self, email: str) -> None:
        self.page.goto(f"{self.url}/sign-in")
        self.axe()
        self.page.get_by_label("Email address").fill(email)
        self.page.get_by_label("Password", exact=True).fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"{self.url}/")

    def goto(self, path: str):
        response = self.page.goto(f"{self.url}{path}")
        self.axe()
        return response

    def axe(self) -> None:
        axe(self.page, self.url, self.checked)

    def close(self) -> None:
        self.context.close()


def axe(page, url: str, checked: dict[str, list[str]]) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    serious = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
               for v in results.response["violations"] if v["impact"] in AXE_IMPACTS]
    path = re.sub(r"[0-9a-f]{6}\b", "…", page.url.removeprefix(url).split("?")[0])
    checked[path] = serious
    assert not serious, f"{page.url}:\n" + "\n".join(serious)


@pytest.fixture(scope="module")
def checked() -> dict[str, list[str]]:
    return {}


def fill_date(page, field: str, day: date) -> None:
    page.fill(f"#{field}-day", str(day.day))
    page.fill(f"#{field}-month", str(day.month))
    page.fill(f"#{field}-year", str(day.year))


def enter_serious_incident(officer: Person, today: date) -> str:
    page = officer.page
    page.get_by_role("link", name="Serious incident form").click()
    page.wait_for_url("**/intake/serious-incident")
    officer.axe()
    page.get_by_role("button", name="Start the case").click()  # nothing filled in: errors, nothing started
    assert page.locator(".govuk-error-summary").is_visible()
    assert "/intake/serious-incident" in page.url
    officer.axe()
    page.get_by_label("Stockton-on-Tees").check()
    for field in ("received_on", "became_aware_on", "incident-date"):
        fill_date(page, field, today)
    page.fill("#referrer-name", "Alex Practitioner")
    page.fill("#referrer-agency", "Cleveland Police")
    page.fill("#referrer-email", "alex.practitioner@example.org")
    page.fill("#child-reference", "Child A")
    page.locator("#incident-outcome-2").check()  # serious harm
    page.locator("#incident-abuse_or_neglect-2").check()  # suspected
    page.fill("#incident-summary", "Free text describing what happened")
    page.fill("#agencies_involved", "Cleveland Police\nStockton-on-Tees Children's Services")
    page.get_by_role("button", name="Start the case").click()
    page.wait_for_url(re.compile(r".*/cases/SI-\d{8}-[0-9a-f]{6}$"))
    officer.axe()
    return page.url.rsplit("/", 1)[1]


def fill_dsp_decision(page, meeting: date) -> None:
    page.get_by_label("Notify", exact=True).check()
    fill_date(page, "meeting_held_on", meeting)
    page.fill("#rationale", "Serious harm; neglect suspected.")
    page.fill("#attendees", "DSP local authority\nDSP police\nDSP integrated care board")
    page.locator("#independent_scrutineer_attended").check()  # yes


def wait_for_case_partnership(stack: Stack, case_id: str) -> None:
    def has_partnership() -> bool:
        shown = stack.starter("status", case_id, "--json")
        return shown.returncode == 0 and '"partnership": "HSSCP"' in shown.stdout
    wait_for(has_partnership, "the case to take its partnership", 60)


def test_an_officer_enters_a_form_records_the_dsp_decision_and_sees_the_next_deadline(console, browser, checked, shots):
    stack, url = console
    today = date.fromisoformat(_today())
    officer = Person(browser, url, OFFICER, checked)
    try:
        case_id = enter_serious_incident(officer, today)
        page = officer.page
        assert "DSP decision" in page.inner_text("main")
        wait_for_case_partnership(stack, case_id)

        officer.goto("/")
        wait_for(lambda: _reload_until(officer.page, case_id), "the new case on the worklist", 30)
        mine = page.locator("table", has_text="For you to record")
        assert case_id in mine.inner_text() and "DSP decision" in mine.inner_text()
        assert "DSP teleconference and decision" in mine.inner_text()
        page.screenshot(path=str(shots / SCREENSHOTS[0]), full_page=True)

        mine.get_by_role("link", name=re.compile(f"DSP decision.*{case_id}")).click()
        page.wait_for_url(f"**/cases/{case_id}/decisions/dsp_decision")
        officer.axe()
        fill_dsp_decision(page, today)
        page.screenshot(path=str(shots / SCREENSHOTS[2]), full_page=True)
        page.get_by_role("button", name="Record the decision").click()
        page.wait_for_url(re.compile(f".*/cases/{case_id}\\?recorded=dsp_decision"))
        officer.axe()
        main = page.inner_text("main")
        assert "DSP decision recorded on this case" in main and OFFICER in main
        wait_for(lambda: _reload_until(officer.page, "LA notification to the National Panel"), "the next deadline on the case page", 30)
        summary = page.locator(".govuk-summary-list").inner_text()
        assert re.search(r"Next deadline\s+LA notification to the National Panel: \d+ \w+ \d{4} \(\d+ working days left\)", summary), summary
        page.screenshot(path=str(shots / SCREENSHOTS[1]), full_page=True)

        for path in ("/intake/learning-request", "/register", f"/register/cases/{case_id}/audit", "/register/report",
                     "/cases/SI-20000101-000000"):
            officer.goto(path)
        assert "Page not found" in page.inner_text("main")
    finally:
        officer.close()
    keep = os.environ.get("SAFEGUARDING_CONSOLE_SCREENSHOTS")
    if keep:
        for name in SCREENSHOTS:
            shutil.copyfile(shots / name, PROJECT / keep / name)


def _today() -> str:
    from models.dates import london_today
    from datetime import datetime, timezone

    return london_today(datetime.now(timezone.utc)).isoformat()


def _reload_until(page, text: str) -> bool:
    page.reload()
    return text in page.inner_text("main")


@contextmanager
def on_a_new_case(console, browser, checked, email: str) -> Iterator[tuple[Stack, str, str, Person]]:
    """A case started from the example form by the command line, and `email` signed in to the console."""
    stack, url = console
    case_id = started_case(stack)
    person = Person(browser, url, email, checked)
    try:
        yield stack, url, case_id, person
    finally:
        person.close()


def started_case(stack: Stack) -> str:
    launched = stack.starter("serious-incident", "examples/serious-incident-form.json", "--json")
    assert launched.returncode == 0, launched.stderr
    case_id = re.search(r'"case_id": "([^"]+)"', launched.stdout).group(1)
    wait_for_case_partnership(stack, case_id)
    return case_id


def test_a_refused_decision_shows_the_cases_reason_on_the_form(console, browser, checked):
    with on_a_new_case(console, browser, checked, OFFICER) as (stack, url, case_id, officer):  # received 2025-12-23
        officer.goto(f"/cases/{case_id}/decisions/dsp_decision")
        fill_dsp_decision(officer.page, date(2025, 12, 22))  # before the form was received
        officer.page.get_by_role("button", name="Record the decision").click()
        officer.page.wait_for_load_state()
        officer.axe()
        refusal = officer.page.locator(".govuk-error-summary").inner_text()
        assert "The case refused this decision" in refusal and "is before the form's receipt" in refusal, refusal
        assert officer.page.input_value("#rationale") == "Serious harm; neglect suspected.", "what was typed is kept"
    shown = stack.starter("status", case_id, "--json")
    assert '"accepted": true' not in shown.stdout


def test_a_viewer_cannot_record_a_decision(console, browser, checked):
    with on_a_new_case(console, browser, checked, VIEWER) as (stack, url, case_id, viewer):
        viewer.goto(f"/cases/{case_id}")
        assert case_id in viewer.page.inner_text("main")
        assert viewer.page.locator(f"a[href*='/cases/{case_id}/decisions/']").count() == 0
        refused = viewer.goto(f"/cases/{case_id}/decisions/dsp_decision")
        assert refused.status == 403 and "You cannot do this" in viewer.page.inner_text("main")
        viewer.goto("/")
        token = viewer.page.locator("input[name=csrf_token]").first.get_attribute("value")
        posted = viewer.context.request.post(f"{url}/cases/{case_id}/decisions/dsp_decision",
                                             form={"csrf_token": token, "decision": "notify"}, max_redirects=0)
        assert posted.status == 403


def test_another_partnerships_officer_cannot_open_the_case_by_its_url(console, browser, checked):
    with on_a_new_case(console, browser, checked, OTHER) as (stack, url, case_id, other):
        for path in (f"/cases/{case_id}", f"/cases/{case_id}/decisions/dsp_decision", f"/register/cases/{case_id}/audit"):
            response = other.goto(path)
            assert response.status == 404 and case_id not in other.page.inner_text("main"), path
        other.goto("/")
        assert case_id not in other.page.inner_text("main")


def test_a_forged_post_without_the_csrf_token_is_refused(console, browser, checked):
    with on_a_new_case(console, browser, checked, OFFICER) as (stack, url, case_id, officer):
        form = {"decision": "notify", "meeting_held_on-day": "24", "meeting_held_on-month": "12", "meeting_held_on-year": "2025",
                "rationale": "forged", "attendees": "A", "independent_scrutineer_attended": "yes"}
        posted = officer.context.request.post(f"{url}/cases/{case_id}/decisions/dsp_decision", form=form, max_redirects=0)
        assert posted.status == 403 and "did not come from this site" in posted.text()
        # A page of another site posting into the console: the session cookie (SameSite=Lax) is not sent.
        officer.page.set_content(f'<form method="post" action="{url}/cases/{case_id}/decisions/dsp_decision">'
                                 '<input name="decision" value="notify"><button>go</button></form>')
        with officer.page.expect_navigation():
            officer.page.click("button")
        assert "/sign-in" in officer.page.url or "did not come from this site" in officer.page.inner_text("body")
    assert '"accepted": true' not in stack.starter("status", case_id, "--json").stdout


SSO_OFFICER = "sso.officer@hsscp.example.org"


@pytest.fixture(scope="module")
def sso_console(console) -> Iterator[tuple[Stack, str, FakeProvider, Path]]:
    """A second console on the same stack, as production runs it: single sign-on through a provider on
    loopback (tests/oidc_provider.py), the password form turned off, an account with no password."""
    stack, _ = console
    added = subprocess.run([sys.executable, "starter.py", "users", "add", SSO_OFFICER, "--partnership", "HSSCP", "--role", "business_unit",
                            "--single-sign-on"], cwd=PROJECT, env=stack.env, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    port = free_port()
    url = f"http://localhost:{port}"
    log = stack.folder / "sso-console.log"
    with Served() as provider, log.open("wb") as out:
        env = stack.env | console_environment(provider, url) | {"SAFEGUARDING_CONSOLE_PORT": str(port),
                                                                 "SAFEGUARDING_CONSOLE_PASSWORD_SIGN_IN": "false"}
        process = subprocess.Popen([sys.executable, "-m", "console"], cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: healthy(url) or process.poll() is not None, "the single sign-on console to answer", 120)
            assert process.poll() is None, log.read_text()
            yield stack, url, provider, log
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_a_person_signs_in_through_the_partnerships_provider_and_records_as_themselves(sso_console, browser, checked):
    stack, url, provider, log = sso_console
    case_id = started_case(stack)
    provider.user = {"email": SSO_OFFICER, "email_verified": True, "name": "Someone Else"}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{url}/sign-in")
        assert page.get_by_label("Password", exact=True).count() == 0, "the password form is off"
        axe(page, url, checked)
        page.get_by_role("button", name="Sign in with Tees Valley sign-in").click()
        page.wait_for_url(f"{url}/")
        assert provider.authorize_requests[-1]["code_challenge_method"] == "S256"
        assert f"Signed in as {SSO_OFFICER}" in page.inner_text("body")
        mine = page.locator("table", has_text="For you to record")
        wait_for(lambda: _reload_until(page, case_id), "the case on the worklist", 30)
        mine.get_by_role("link", name=re.compile(f"DSP decision.*{case_id}")).click()
        page.wait_for_url(f"**/cases/{case_id}/decisions/dsp_decision")
        fill_dsp_decision(page, date(2025, 12, 24))
        page.get_by_role("button", name="Record the decision").click()
        page.wait_for_url(re.compile(f".*/cases/{case_id}\\?recorded=dsp_decision"))
        assert SSO_OFFICER in page.inner_text("main")

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{url}/sign-in")
        assert page.goto(f"{url}/").url == f"{url}/sign-in", "signed out"
        provider.user = {"email": SSO_OFFICER, "email_verified": False}
        page.get_by_role("button", name="Sign in with Tees Valley sign-in").click()
        page.wait_for_load_state()
        assert "You could not be signed in" in page.inner_text("main") and page.url.startswith(f"{url}/oidc/callback")
        axe(page, url, checked)
        assert page.goto(f"{url}/").url == f"{url}/sign-in", "no session from a refused sign-in"
    finally:
        context.close()
    shown = stack.starter("status", case_id, "--json")
    assert f'"recorded_by": "{SSO_OFFICER}"' in shown.stdout, shown.stdout[-2000:]
    logged = log.read_text(errors="replace").lower()
    assert "sign-in (single sign-on)" in logged and "single sign-on refused: email not verified" in logged
    assert SSO_OFFICER not in logged and "someone else" not in logged


def test_the_console_logs_no_personal_data(console):
    """run.sh's output (the console's log lines among it): ids and outcomes, never a person or a form."""
    stack, _ = console
    log = stack.log.read_text(errors="replace")
    assert "staff console listening on" in log and "decision dsp_decision recorded on case" in log
    leaked = [value for value in PERSONAL + [OFFICER, VIEWER, OTHER, PASSWORD] if value.lower() in log.lower()]
    assert not leaked, f"personal data in the console's log: {leaked}"


def test_every_page_was_checked_by_axe(checked):
    """Every kind of page the console has went through axe-core above, none with a serious violation."""
    pages = set(checked)
    expected = {"/sign-in", "/oidc/callback", "/", "/intake/serious-incident", "/intake/learning-request", "/register", "/register/report"}
    assert expected <= pages, expected - pages
    assert any(p.startswith("/cases/") and p.count("/") == 2 for p in pages), pages  # a case page
    assert any(p.endswith("/decisions/dsp_decision") for p in pages), pages
    assert any(p.endswith("/audit") for p in pages), pages
    assert not any(checked.values())
