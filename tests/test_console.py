"""The staff console (console/), fast: its pages through httpx in the test's own event loop, against a
real time-skipping Temporal server and worker; accounts made as `starter.py users add` makes them.

Sign-in, sessions and their idle timeout, CSRF on every POST, the size limit of a post, partnership
isolation (another partnership's case is not found), roles (a viewer records nothing), forms generated
from the models with errors next to their fields, decisions signed with the console's own key and
recorded as the signed-in person, a refusal shown on the form."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

import settings
import starter
from console import accounts, auth, cases, forms, lockout
from console.app import create_app
from models.decisions import DECISIONS
from models.forms import LearningRequestForm, SeriousIncidentForm
from tests.journey import example
from worker import build_worker

PROJECT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"
PEOPLE = {  # email: (partnership, roles)
    "officer@hsscp.example.org": ("HSSCP", ["business_unit"]),
    "officer@stscp.example.org": ("STSCP", ["business_unit"]),
    "viewer@hsscp.example.org": ("HSSCP", ["viewer"]),
    "dsp@hsscp.example.org": ("HSSCP", ["dsp"]),
}


@pytest.fixture(scope="module")
def accounts_file(tmp_path_factory) -> Path:
    """The accounts, made once for the module (argon2 is slow on purpose)."""
    path = tmp_path_factory.mktemp("accounts") / "accounts.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAFEGUARDING_ACCOUNTS_FILE", str(path))
        for email, (partnership, roles) in PEOPLE.items():
            accounts.add_account(email, partnership, roles, PASSWORD)
    return path


@pytest.fixture
def console_env(accounts_file, tmp_path, monkeypatch, outbox):
    monkeypatch.setenv("SAFEGUARDING_ACCOUNTS_FILE", str(accounts_file))
    monkeypatch.setenv("SAFEGUARDING_DATA_DIR", str(tmp_path / "data"))


class Console:
    """A browser-like client of the console: cookies kept, the page's CSRF token read from its forms."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def token(self, path: str = "/sign-in") -> str:
        page = await self.http.get(path)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, f"no CSRF token in {path} ({page.status_code})"
        return match.group(1)

    async def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        token = await self.token()
        return await self.http.post("/sign-in", data={"email": email, "password": password, "csrf_token": token})

    async def post_form(self, path: str, data: dict[str, Any]) -> httpx.Response:
        token = await self.token(path)
        return await self.http.post(path, data={**data, "csrf_token": token})


@asynccontextmanager
async def serving(env) -> AsyncIterator[Console]:
    """The console app (made as the environment configures it now) with the test server's client, and
    a worker on the cases' task queue."""
    async def connect():
        return env.client

    app = create_app(connect)
    async with build_worker(env.client, task_queue=settings.TASK_QUEUE):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test") as http:
            yield Console(http)


@pytest_asyncio.fixture(loop_scope="session")
async def console(env, console_env):
    async with serving(env) as console:
        yield console


def another(console: Console) -> Console:
    """A second person's browser on the same console."""
    return Console(httpx.AsyncClient(transport=console.http._transport, base_url="http://console.test"))


async def started_case(env, authority: str = "stockton-on-tees") -> str:
    body = example("serious-incident-form.json") | {"local_authority": authority}
    form = SeriousIncidentForm.model_validate(body)
    case_id = (await starter.start_case(env.client, "serious-incident", form))["case_id"]
    for _ in range(100):  # the case's routing step sets its partnership, which a decision is checked against
        if (await starter.case_status(env.client, case_id)).partnership:
            return case_id
        await asyncio.sleep(0.1)
    raise AssertionError(f"case {case_id} did not take its partnership")


async def next_deadline_set(env, case_id: str, clock: str):
    """The case once its next deadline is set: the case computes it in an activity, a moment after."""
    for _ in range(100):
        case = await starter.case_status(env.client, case_id)
        if any(d.key.value == clock for d in case.deadlines):
            return case
        await asyncio.sleep(0.1)
    raise AssertionError(f"case {case_id} did not set its {clock} deadline")


def post_of(fields: list[forms.FormField], body: dict[str, Any]) -> dict[str, str]:
    """What a person would type into the generated form to give `body`."""
    data: dict[str, str] = {}
    for f in fields:
        value = body.get(f.name.rpartition(".")[2])
        if value is None:
            continue
        if f.kind == "fieldset":
            data |= post_of(f.children, value)
        elif f.kind == "date":
            year, month, day = value.split("-")
            data |= {f"{f.name}-day": str(int(day)), f"{f.name}-month": str(int(month)), f"{f.name}-year": year}
        elif f.kind == "yesno":
            data[f.name] = "yes" if value else "no"
        elif f.kind == "lines":
            data[f.name] = "\n".join(value)
        elif f.kind == "rows":
            data[f.name] = "\n".join(" | ".join(str(row[c]) for c in f.columns if c in row) for row in value)
        else:
            data[f.name] = str(value)
    return data


def dsp_post(**changes: str) -> dict[str, str]:
    fields = forms.fields_of(DECISIONS["dsp_decision"])
    return post_of(fields, example("decisions/dsp_decision.json")) | changes


# ---- accounts --------------------------------------------------------------------------------------


def users_add(tmp_path: Path, *args: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEGUARDING_")}
    env["SAFEGUARDING_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([sys.executable, "starter.py", "users", "add", *args], cwd=PROJECT, env=env,
                          input=password + "\n", capture_output=True, text=True, timeout=60)


def test_users_add_stores_an_argon2_hash_owner_only_and_refuses_in_one_line(tmp_path):
    added = users_add(tmp_path, "Officer@HSSCP.example.org", "--partnership", "HSSCP", "--role", "business_unit")
    assert added.returncode == 0, added.stderr
    path = tmp_path / "data" / "accounts.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert PASSWORD not in text and "$argon2id$" in text
    account = json.loads(text)["officer@hsscp.example.org"]
    assert account["partnership"] == "HSSCP" and account["roles"] == ["business_unit"]

    for args, password, says in [
        (["--partnership", "XXSCP", "--role", "business_unit"], PASSWORD, "unknown partnership XXSCP"),
        (["--partnership", "HSSCP", "--role", "chief"], PASSWORD, "unknown role"),
        (["--partnership", "HSSCP", "--role", "dsp"], "short", "at least 12 characters"),
        (["--partnership", "HSSCP", "--role", "dsp"], "", "at least 12 characters"),
        (["--role", "dsp"], PASSWORD, "--partnership is required"),
    ]:
        refused = users_add(tmp_path, "someone@hsscp.example.org", *args, password=password)
        assert refused.returncode != 0 and len(refused.stderr.splitlines()) == 1 and says in refused.stderr, refused
    assert "someone@hsscp.example.org" not in path.read_text()


def test_an_account_signs_in_with_its_password_only(accounts_file, tmp_path, monkeypatch):
    monkeypatch.setenv("SAFEGUARDING_ACCOUNTS_FILE", str(accounts_file))
    monkeypatch.setenv("SAFEGUARDING_DATA_DIR", str(tmp_path / "data"))
    assert accounts.authenticate("OFFICER@hsscp.example.org", PASSWORD).email == "officer@hsscp.example.org"
    assert accounts.authenticate("officer@hsscp.example.org", PASSWORD + "x") is None
    assert accounts.authenticate("nobody@hsscp.example.org", PASSWORD) is None


def test_sign_in_is_refused_for_a_while_after_five_wrong_passwords_even_after_a_restart(accounts_file, tmp_path, monkeypatch):
    monkeypatch.setenv("SAFEGUARDING_ACCOUNTS_FILE", str(accounts_file))
    monkeypatch.setenv("SAFEGUARDING_DATA_DIR", str(tmp_path / "data"))
    for _ in range(lockout.TRIES):
        assert accounts.authenticate("dsp@hsscp.example.org", "guessing and guessing") is None
    assert accounts.authenticate("dsp@hsscp.example.org", PASSWORD) is None, "refused even with the right one"
    assert accounts.authenticate("viewer@hsscp.example.org", PASSWORD) is not None, "other accounts unaffected"
    restarted = subprocess.run([sys.executable, "-c", "from console import lockout; print(lockout.is_locked('dsp@hsscp.example.org'))"],
                               cwd=PROJECT, env=os.environ.copy(), capture_output=True, text=True, timeout=60)
    assert restarted.stdout.strip() == "True", restarted.stderr  # another process (a restarted console) sees it
    kept = lockout.lockout_file()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and b"dsp@hsscp" not in kept.read_bytes(), "owner-only, no address in it"
    later = time.time() + lockout.WAIT_SECONDS + 1
    monkeypatch.setattr(lockout.time, "time", lambda: later)
    assert accounts.authenticate("dsp@hsscp.example.org", PASSWORD) is not None
    person = accounts.account_of("viewer@hsscp.example.org").person()
    assert person.partnership == "HSSCP" and [r.value for r in person.roles] == ["viewer"]


def test_a_single_sign_on_account_has_no_password_and_a_disabled_account_is_refused(tmp_path, monkeypatch):
    added = users_add(tmp_path, "sso@hsscp.example.org", "--partnership", "HSSCP", "--role", "dsp", "--single-sign-on", password="")
    assert added.returncode == 0 and "single sign-on only" in added.stdout + added.stderr, added
    assert users_add(tmp_path, "officer@hsscp.example.org", "--partnership", "HSSCP", "--role", "dsp").returncode == 0
    monkeypatch.setenv("SAFEGUARDING_DATA_DIR", str(tmp_path / "data"))
    stored = json.loads((tmp_path / "data" / "accounts.json").read_text())
    assert stored["sso@hsscp.example.org"]["password_hash"] is None
    assert accounts.authenticate("sso@hsscp.example.org", "not anyone's password") is None  # the stand-in hash's own
    assert accounts.account_of("sso@hsscp.example.org") is not None
    disabled = subprocess.run([sys.executable, "starter.py", "users", "disable", "officer@hsscp.example.org"], cwd=PROJECT,
                              env=os.environ | {"SAFEGUARDING_DATA_DIR": str(tmp_path / "data")}, capture_output=True, text=True, timeout=60)
    assert disabled.returncode == 0, disabled.stderr
    assert accounts.account_of("officer@hsscp.example.org") is None
    assert accounts.authenticate("officer@hsscp.example.org", PASSWORD) is None
    assert json.loads((tmp_path / "data" / "accounts.json").read_text())["officer@hsscp.example.org"]["disabled"] is True


# ---- sign-in, sessions, CSRF, headers ----------------------------------------------------------------


async def test_sign_in_sets_a_private_session_and_a_wrong_password_is_an_error_on_the_page(console):
    wrong = await console.sign_in("officer@hsscp.example.org", "not the password at all")
    assert wrong.status_code == 200 and "There is a problem" in wrong.text and 'href="#email"' in wrong.text
    assert (await console.http.get("/register")).status_code == 303  # still signed out
    signed = await console.sign_in("officer@hsscp.example.org")
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=1800" in cookie
    assert not re.search("officer|hsscp|email|csrf", _decoded(signed.headers["set-cookie"])), "encrypted, not only signed"
    page = await console.http.get("/register")
    assert page.status_code == 200 and "officer@hsscp.example.org" in page.text
    headers = page.headers
    assert headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"] and headers["cache-control"] == "no-store"


def _decoded(set_cookie: str) -> str:
    """A cookie's value as base64 would show it (Fernet's is base64url of the ciphertext)."""
    import base64

    value = set_cookie.split(";", 1)[0].split("=", 1)[1]
    return set_cookie + base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("latin-1")


async def test_a_session_cookie_not_made_by_this_console_is_no_session(console):
    await console.sign_in("officer@hsscp.example.org")
    cookie = console.http.cookies["console_session"]
    console.http.cookies.set("console_session", cookie[:-6] + ("AAAAAA" if not cookie.endswith("AAAAAA") else "BBBBBB"), domain="console.test")
    assert (await console.http.get("/register")).status_code == 303  # a changed cookie: signed out
    forged = foreign_cookie()
    console.http.cookies.set("console_session", forged, domain="console.test")
    assert (await console.http.get("/register")).status_code == 303


def foreign_cookie() -> str:
    """A session naming the officer, encrypted with a key that is not the console's."""
    from console.sessions import cookie_key

    return cookie_key("not the console's secret").encrypt(json.dumps({"email": "officer@hsscp.example.org", "seen": int(time.time())}).encode()).decode()


async def test_an_idle_session_ends(console, monkeypatch):
    await console.sign_in("officer@hsscp.example.org")
    assert (await console.http.get("/register")).status_code == 200
    later = time.time() + auth.idle_timeout_seconds() + 5
    monkeypatch.setattr(auth.time, "time", lambda: later)
    gone = await console.http.get("/register")
    assert gone.status_code == 303 and gone.headers["location"] == "/sign-in"


async def test_every_post_without_the_sessions_csrf_token_is_refused(env, console):
    case_id = await started_case(env)
    await console.sign_in("officer@hsscp.example.org")
    token = await console.token("/intake/serious-incident")
    posts = ["/sign-in", "/sign-out", "/intake/serious-incident", "/intake/learning-request",
             f"/cases/{case_id}/decisions/dsp_decision"]
    for path in posts:
        for data in ({}, {"csrf_token": "forged"}, {"csrf_token": token + "x"}):
            refused = await console.http.post(path, data=data | dsp_post())
            assert refused.status_code == 403, (path, data)
            assert "did not come from this site" in refused.text
    status = await starter.case_status(env.client, case_id)
    assert status.decisions == [], "a forged post recorded nothing"
    assert (await console.http.get("/register")).status_code == 200, "and the session is still there"


async def test_a_post_larger_than_the_limit_is_refused(console):
    await console.sign_in("officer@hsscp.example.org")
    token = await console.token("/intake/serious-incident")
    big = await console.http.post("/intake/serious-incident", data={"csrf_token": token, "x": "a" * (auth.MAX_POST_BYTES + 1)})
    assert big.status_code == 413


# ---- partnerships and roles --------------------------------------------------------------------------


async def test_another_partnerships_case_is_not_found_and_operations_sees_every_case(env, console, accounts_file, monkeypatch):
    case_id = await started_case(env, "stockton-on-tees")  # HSSCP's
    await console.sign_in("officer@hsscp.example.org")
    assert (await console.http.get(f"/cases/{case_id}")).status_code == 200

    other = another(console)
    await other.sign_in("officer@stscp.example.org")
    for path in (f"/cases/{case_id}", f"/cases/{case_id}/decisions/dsp_decision", f"/register/cases/{case_id}/audit"):
        hidden = await other.http.get(path)
        assert hidden.status_code == 404 and case_id not in hidden.text, path
    unknown = await other.http.get("/cases/SI-20250101-000000")
    assert unknown.status_code == 404
    hidden = await other.http.get(f"/cases/{case_id}")
    assert re.sub(r'nonce="[^"]+"', "", unknown.text) == re.sub(r'nonce="[^"]+"', "", hidden.text), "no telling the two apart"
    token = await other.token("/register")
    post = await other.http.post(f"/cases/{case_id}/decisions/dsp_decision", data=dsp_post() | {"csrf_token": token})
    assert post.status_code == 404
    assert (await starter.case_status(env.client, case_id)).decisions == []

    accounts.add_account("ops@localhost.example.org", None, ["operations"], PASSWORD)
    ops = another(console)
    await ops.sign_in("ops@localhost.example.org")
    assert (await ops.http.get(f"/cases/{case_id}")).status_code == 200


async def test_a_viewer_sees_the_case_but_gets_no_decision_form_and_cannot_post_one(env, console):
    case_id = await started_case(env)
    await console.sign_in("viewer@hsscp.example.org")
    page = await console.http.get(f"/cases/{case_id}")
    assert page.status_code == 200 and case_id in page.text
    assert f"/cases/{case_id}/decisions/" not in page.text
    assert (await console.http.get(f"/cases/{case_id}/decisions/dsp_decision")).status_code == 403
    token = await console.token("/register")
    refused = await console.http.post(f"/cases/{case_id}/decisions/dsp_decision", data=dsp_post() | {"csrf_token": token})
    assert refused.status_code == 403
    assert (await starter.case_status(env.client, case_id)).decisions == []
    assert (await console.http.get("/intake/serious-incident")).status_code == 403


# ---- forms from the models -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DECISIONS))
def test_every_decision_form_gives_back_the_example_decision(name):
    """The generated form covers every field of the model: what a person types into it gives the
    command line's example file back (one place to add a field: the model)."""
    model = DECISIONS[name]
    files = {"agency_contribution_received": "agency_contribution_received"}
    body = example(f"decisions/{files.get(name, name)}.json")
    expected = {k: v for k, v in body.items() if k not in forms.NOT_ON_FORMS}
    fields = forms.fields_of(model)
    names = {f.name.split(".")[0] for f in fields}
    assert names == set(model.model_fields) - forms.NOT_ON_FORMS
    form = httpx.QueryParams(post_of(fields, body))
    got = forms.values_of(_FormData(form), fields)
    assert model.model_validate(got | {"recorded_by": "x@example.org"}).model_dump(exclude={"recorded_by"} | forms.NOT_ON_FORMS) == \
        model.model_validate(expected | {"recorded_by": "x@example.org"}).model_dump(exclude={"recorded_by"} | forms.NOT_ON_FORMS)


class _FormData:
    def __init__(self, params: httpx.QueryParams) -> None:
        self.params = params

    def get(self, key: str) -> str | None:
        return self.params.get(key)


def test_the_intake_forms_give_back_the_example_forms():
    for model, file in ((SeriousIncidentForm, "serious-incident-form.json"), (LearningRequestForm, "learning-request-form.json")):
        fields = forms.fields_of(model)
        body = example(file)
        got = forms.values_of(_FormData(httpx.QueryParams(post_of(fields, body))), fields)
        assert model.model_validate(got) == model.model_validate(body)


async def test_an_invalid_intake_form_shows_each_error_next_to_its_field_and_starts_nothing(env, console, monkeypatch):
    started: list[str] = []
    real_start = starter.start_case

    async def counting(*args: Any) -> dict[str, Any]:
        result = await real_start(*args)
        started.append(result["case_id"])
        return result

    monkeypatch.setattr(starter, "start_case", counting)
    await console.sign_in("officer@hsscp.example.org")
    fields = forms.fields_of(SeriousIncidentForm)
    body = example("serious-incident-form.json")
    data = post_of(fields, body)
    data.pop("referrer.email")
    data |= {"received_on-day": "31", "received_on-month": "2", "incident.outcome": "fine"}
    page = await console.post_form("/intake/serious-incident", data)
    assert page.status_code == 400 and "There is a problem" in page.text
    assert 'href="#referrer-email"' in page.text and 'href="#received_on-day"' in page.text and 'href="#incident-outcome"' in page.text
    assert page.text.count("govuk-error-message") >= 3
    assert 'value="Alex Practitioner"' in page.text, "what was typed is kept"
    assert started == []

    stscp = await console.post_form("/intake/serious-incident", post_of(fields, body | {"local_authority": "middlesbrough"}))
    assert stscp.status_code == 400 and "not your partnership" in stscp.text and started == []

    valid = await console.post_form("/intake/serious-incident", post_of(fields, body))
    assert valid.status_code == 303 and started and valid.headers["location"] == f"/cases/{started[0]}"
    case = await starter.case_status(env.client, started[0])
    assert case.local_authority.value == "stockton-on-tees" and case.kind.value == "serious_incident"
    page = await console.http.get(valid.headers["location"])
    assert page.status_code == 200 and f"Case {started[0]}" in page.text, "the new case opens at once"


# ---- decisions -----------------------------------------------------------------------------------------


async def test_a_decision_is_recorded_as_the_signed_in_person_with_the_consoles_key(env, console):
    case_id = await started_case(env)
    await console.sign_in("dsp@hsscp.example.org")
    page = await console.http.get(f"/cases/{case_id}")
    assert f"/cases/{case_id}/decisions/dsp_decision" in page.text
    recorded = await console.post_form(f"/cases/{case_id}/decisions/dsp_decision", dsp_post())
    assert recorded.status_code == 303, recorded.text[-2000:]
    case = await starter.case_status(env.client, case_id)
    (decision,) = case.decisions
    assert decision.accepted and decision.recorded_by == "dsp@hsscp.example.org" and decision.via == "update"
    trusted = json.loads((Path(os.environ["SAFEGUARDING_SIGNING_DIR"]) / "trusted.json").read_text())
    assert "staff console" in {entry["door"] for entry in trusted.values()}
    case = await next_deadline_set(env, case_id, "panel_notification")
    notification = [d for d in case.deadlines if d.key.value == "panel_notification"]
    shown = await console.http.get(recorded.headers["location"])
    assert "DSP decision recorded" in shown.text and "dsp@hsscp.example.org" in shown.text
    next_deadline = re.search(r"Next deadline\s*</dt>\s*<dd[^>]*>\s*([^<]+)", shown.text).group(1)
    assert notification[0].title in next_deadline and f"{notification[0].due_on:%-d %B %Y}" in next_deadline


async def test_a_decision_with_errors_is_shown_again_and_a_refused_one_shows_the_cases_reason(env, console):
    case_id = await started_case(env)
    await console.sign_in("officer@hsscp.example.org")
    path = f"/cases/{case_id}/decisions/dsp_decision"
    missing = dsp_post()
    missing.pop("decision")
    invalid = await console.post_form(path, missing)
    assert invalid.status_code == 400 and 'href="#decision"' in invalid.text
    # A meeting before the form was received: valid as a model, refused by the case.
    refused = await console.post_form(path, dsp_post(**{"meeting_held_on-day": "1", "meeting_held_on-month": "12", "meeting_held_on-year": "2025"}))
    assert refused.status_code == 400 and "The case refused this decision" in refused.text
    assert "is before the form&#39;s receipt" in refused.text or "is before" in refused.text
    assert (await starter.case_status(env.client, case_id)).decisions == []


def test_which_decisions_a_role_may_record_comes_from_the_journeys_tables():
    from models.case import CaseKind, CaseStatus, Stage
    from models.identity import Person, PersonRole

    case = CaseStatus(case_id="SI-1", kind=CaseKind.SERIOUS_INCIDENT, stage=Stage.GOVERNANCE, local_authority="hartlepool",
                      partnership="HSSCP", received_on="2025-12-23", deadlines=[], decisions=[], messages=[])
    names = [s.name.value for s in cases.steps_now(case)]
    assert names[-1] == "case_withdrawn" and {"executive_decision", "chair_sign_off", "agency_contribution_received"} <= set(names)
    executive = Person(email="e@example.org", partnership="HSSCP", roles=[PersonRole.EXECUTIVE])
    assert [s.name.value for s in cases.steps_now(case) if s.may_record(executive)] == ["executive_decision"]
    viewer = Person(email="v@example.org", partnership="HSSCP", roles=[PersonRole.VIEWER])
    assert not any(s.may_record(viewer) for s in cases.steps_now(case)) and not cases.may_record_anything(viewer)


# ---- corrections, the worklist, the register ----------------------------------------------------------


async def test_a_recorded_decision_is_corrected_from_the_case_page_with_a_reason(env, console):
    case_id = await started_case(env)
    await console.sign_in("officer@hsscp.example.org")
    assert (await console.post_form(f"/cases/{case_id}/decisions/dsp_decision", dsp_post())).status_code == 303
    page = await console.http.get(f"/cases/{case_id}")
    assert f"/cases/{case_id}/corrections/dsp_decision" in page.text
    path = f"/cases/{case_id}/corrections/dsp_decision"
    no_reason = await console.post_form(path, dsp_post(rationale="Serious harm; neglect known."))
    assert no_reason.status_code == 400 and 'href="#reason"' in no_reason.text
    corrected = await console.post_form(path, dsp_post(rationale="Serious harm; neglect known.") | {"reason": "rationale mistyped"})
    assert corrected.status_code == 303, corrected.text[-1500:]
    case = await starter.case_status(env.client, case_id)
    correction = case.decisions[-1]
    assert correction.via == "correction" and correction.reason == "rationale mistyped"
    assert correction.recorded_by == "officer@hsscp.example.org" and correction.replaces == 0


async def test_the_worklist_lists_what_each_role_may_record_and_what_waits_on_others(env, console):
    from datetime import date

    from console import worklist
    from models.identity import Person, PersonRole

    case_id = await started_case(env)
    await console.sign_in("officer@hsscp.example.org")
    assert (await console.post_form(f"/cases/{case_id}/decisions/dsp_decision", dsp_post())).status_code == 303
    case = await next_deadline_set(env, case_id, "panel_notification")
    officer = Person(email="o@example.org", partnership="HSSCP", roles=[PersonRole.BUSINESS_UNIT])
    dsp = Person(email="d@example.org", partnership="HSSCP", roles=[PersonRole.DSP])
    today = date(2025, 12, 24)
    mine, others = worklist.worklist([case], officer, today, worklist.Filters())
    assert [i.decision for i in mine] == ["notification_submitted"] and not others, "a withdrawal is never due"
    notification = mine[0]
    deadline = next(d for d in case.deadlines if d.key.value == "panel_notification")
    assert notification.due_on == deadline.due_on and notification.days_left == worklist.days_left(today, deadline.due_on) > 0
    mine, others = worklist.worklist([case], dsp, today, worklist.Filters())
    assert mine == [] and [i.decision for i in others] == ["notification_submitted"]
    assert [i.decision for i in worklist.worklist([case], dsp, today, worklist.Filters(role="notifier"))[1]] == ["notification_submitted"]
    assert worklist.worklist([case], officer, today, worklist.Filters(authority="middlesbrough")) == ([], [])
    assert len(worklist.worklist([case], officer, today, worklist.Filters(stage="panel_notification"))[0]) == 1
    assert worklist.worklist([case], officer, today, worklist.Filters(stage="dsp_meeting")) == ([], [])
    late = worklist.worklist([case], officer, deadline.due_on.replace(year=deadline.due_on.year + 1), worklist.Filters())[0][0]
    assert late.overdue and late.days_left < 0


async def test_the_register_views_keep_to_the_persons_partnership_and_download_as_csv(env, console):
    from datetime import date, datetime, timezone

    from register.db import engine
    from register.models import CaseRow
    from sqlmodel import Session

    with Session(engine()) as session:
        for case_id, authority, partnership in (("SI-20251223-aaaaaa", "hartlepool", "HSSCP"), ("SI-20251223-bbbbbb", "middlesbrough", "STSCP")):
            session.add(CaseRow(case_id=case_id, kind="serious_incident", local_authority=authority, partnership=partnership,
                                stage="dsp_meeting", received_on=date(2025, 12, 23), next_due_on=date(2025, 12, 30),
                                updated_at=datetime.now(timezone.utc)))
        session.commit()
    await console.sign_in("officer@hsscp.example.org")
    listed = await console.http.get("/register")
    assert "SI-20251223-aaaaaa" in listed.text and "SI-20251223-bbbbbb" not in listed.text
    csv_text = (await console.http.get("/register?format=csv")).text
    assert csv_text.splitlines()[0].startswith("case_id,") and "SI-20251223-aaaaaa" in csv_text and "bbbbbb" not in csv_text
    assert (await console.http.get("/register/cases/SI-20251223-aaaaaa/audit?format=csv")).status_code == 200
    assert (await console.http.get("/register/cases/SI-20251223-bbbbbb/audit")).status_code == 404
    report = await console.http.get("/register/report?from=2025-01-01&to=2025-12-31&format=csv")
    assert report.status_code == 200 and "hartlepool" in report.text and "middlesbrough" not in report.text
    chart = await console.http.get("/register/report/chart.png?from=2025-01-01&to=2025-12-31")
    assert chart.status_code == 200 and chart.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert (await console.http.get("/register/report?from=yesterday")).status_code == 400


async def test_a_cases_documents_download_only_to_its_partnership(env, console, monkeypatch):
    case_id = await started_case(env)
    folder = settings.documents_dir() / case_id
    folder.mkdir(parents=True)
    (folder / "final-report.pdf").write_bytes(b"%PDF-1.4 the report")
    (settings.documents_dir() / "elsewhere.pdf").write_bytes(b"%PDF-1.4 not the case's")
    await console.sign_in("officer@hsscp.example.org")
    page = await console.http.get(f"/cases/{case_id}")
    assert f"/cases/{case_id}/documents/final-report.pdf" in page.text
    got = await console.http.get(f"/cases/{case_id}/documents/final-report.pdf")
    assert got.status_code == 200 and got.content == b"%PDF-1.4 the report"
    assert got.headers["content-disposition"].startswith("attachment")
    for name in ("..%2Felsewhere.pdf", "missing.pdf", ".hidden"):
        assert (await console.http.get(f"/cases/{case_id}/documents/{name}")).status_code == 404, name
    other = another(console)
    await other.sign_in("officer@stscp.example.org")
    assert (await other.http.get(f"/cases/{case_id}/documents/final-report.pdf")).status_code == 404


async def test_the_business_unit_records_the_chairs_sign_off_with_the_written_sign_off_attached(env, console):
    """A decision's document goes with its form (multipart): stored in the case's documents folder
    as the command line stores it, named in the decision, offered for download on the case page."""
    from models.identity import Person, PersonRole

    case_id = await started_case(env)
    officer = Person(email="officer@hsscp.example.org", partnership="HSSCP", roles=[PersonRole.BUSINESS_UNIT])
    for name in ("dsp_decision", "notification_submitted", "rapid_review_convened", "rapid_review_meeting_held", "executive_decision"):
        for _ in range(100):  # a step the case is still setting up says "send it again"
            try:
                await cases.record(env.client, case_id, name, example(f"decisions/{name}.json"), officer)
                break
            except starter.Refused as refused:
                assert "send it again" in str(refused), refused
                await asyncio.sleep(0.1)
    await console.sign_in("officer@hsscp.example.org")
    path = f"/cases/{case_id}/decisions/chair_sign_off"
    form_page = await console.http.get(path)
    assert 'enctype="multipart/form-data"' in form_page.text and 'type="file"' in form_page.text
    fields = forms.fields_of(DECISIONS["chair_sign_off"])
    data = post_of(fields, example("decisions/chair_sign_off.json")) | {"csrf_token": await console.token(path)}
    without = await console.http.post(path, data=data)
    assert without.status_code == 400 and "written say-so" in without.text.replace("&#39;", "'"), "refused by the case without it"
    wrong = await console.http.post(path, data=data, files={"written_sign_off": ("sign-off.pdf", b"not a pdf", "application/pdf")})
    assert wrong.status_code == 400 and "not a Word document (.docx) or a PDF" in wrong.text and "/tmp" not in wrong.text
    signed = await console.http.post(path, data=data, files={"written_sign_off": ("Chair's sign-off.pdf", b"%PDF-1.4 signed", "application/pdf")})
    assert signed.status_code == 303, signed.text[-1500:]
    case = await starter.case_status(env.client, case_id)
    assert case.decisions[-1].name == "chair_sign_off" and case.decisions[-1].accepted
    stored = [p.name for p in (settings.documents_dir() / case_id).iterdir()]
    assert len(stored) == 1 and stored[0].startswith("Chair-s-sign-off-") and stored[0].endswith(".pdf")
    page = await console.http.get(f"/cases/{case_id}")
    assert f"/cases/{case_id}/documents/{stored[0]}" in page.text


def test_trust_key_makes_the_consoles_key_and_trusts_it_then_stops(tmp_path):
    """Production's one-shot console-trust service: the console itself never mounts the worker's signing folder."""
    env = os.environ | {"SAFEGUARDING_SIGNING_DIR": str(tmp_path / "data" / "signing"),
                        "SAFEGUARDING_CONSOLE_SIGNING_KEY": str(tmp_path / "key" / "console.key")}
    for _ in range(2):  # a second run changes nothing
        done = subprocess.run([sys.executable, "-m", "console", "trust-key"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "key is trusted" in done.stdout, done.stderr
    trusted = json.loads((tmp_path / "data" / "signing" / "trusted.json").read_text())
    assert [entry["door"] for entry in trusted.values()] == ["staff console"]
    assert stat.S_IMODE((tmp_path / "key" / "console.key").stat().st_mode) == 0o600
