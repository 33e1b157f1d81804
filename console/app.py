"""The staff console's routes: sign-in (sign_in.py; single sign-on in oidc.py), the worklist, intake forms, the case page, decision and
correction forms, the register's views. Every page needs a signed-in person (auth.py); every case is
checked against their partnership (another partnership's case is 'not found'); every POST carries the
session's CSRF token; decisions are signed with the console's key for the person (cases.py)."""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from temporalio.client import Client

import settings
import signing
import starter
from activities.files import DOCUMENT_NAME, case_folder
from console import auth, cases, forms, oidc, register_views, sign_in, worklist
from console.sessions import EncryptedSessions
from console.pages import HERE, choice, page, signed_in, temporal, today, visible_case
from models.case import CaseStatus, Stage
from models.forms import LocalAuthority
from models.identity import Person, PersonRole
from models.text import Text

LOG = logging.getLogger("console")  # ids and outcomes only: never a name, an address or a form's content
INTAKE_ROLES = frozenset({PersonRole.BUSINESS_UNIT, PersonRole.OPERATIONS})  # the Business Unit logs incoming forms


# ---- the worklist -----------------------------------------------------------------------------------


@signed_in
async def home(request: Request) -> Response:
    person = request.state.person
    query = request.query_params
    filters = worklist.Filters(
        authority=choice(query.get("authority"), [a.value for a in LocalAuthority]),
        stage=choice(query.get("stage"), [s.value for s in Stage]),
        role=choice(query.get("role"), [r.value for r in PersonRole]),
    )
    open_cases = await worklist.open_cases(await temporal(request), person)
    mine, others = worklist.worklist(open_cases, person, today(), filters)
    return page(request, "worklist.html", mine=mine, others=others, filters=filters, cases_count=len(open_cases),
                authorities=list(LocalAuthority), stages=list(Stage), roles=list(PersonRole), today=today())


# ---- intake -----------------------------------------------------------------------------------------

INTAKE = {"serious-incident": "Serious incident notification", "learning-request": "Learning request"}


@signed_in
async def intake(request: Request) -> Response:
    journey = request.path_params["journey"]
    if journey not in INTAKE:
        raise HTTPException(404, "Page not found")
    person = request.state.person
    if not INTAKE_ROLES & set(person.roles):
        raise HTTPException(403, "Only the Business Unit records incoming forms.")
    model = cast(type[BaseModel], starter.JOURNEYS[journey][1])
    fields = forms.fields_of(model)
    if request.method == "GET":
        return page(request, "intake.html", title=INTAKE[journey], fields=fields, values={}, errors={})
    form = await auth.checked_form(request)
    values = forms.shown_values(form)
    try:
        parsed = model.model_validate(forms.values_of(form, fields), context={"today": today()})
        _served_by(parsed, person)
    except ValidationError as error:
        errors = forms.errors_of(error, fields)
        return page(request, "intake.html", 400, title=INTAKE[journey], fields=fields, values=values, errors=errors)
    started = await starter.start_case(await temporal(request), journey, parsed)
    LOG.info("case %s started from the console", started["case_id"])
    return RedirectResponse(f"/cases/{started['case_id']}", status_code=303)


def _served_by(form: Any, person: Person) -> None:
    """A person records forms for the authorities of their own partnership only (ValidationError)."""
    from activities.routing import load_routing

    partnership, _ = load_routing().partnership_of(form.local_authority)
    if person.partnership is not None and partnership != person.partnership:
        raise ValidationError.from_exception_data(
            "form", [{"type": "value_error", "loc": ("local_authority",), "input": form.local_authority.value,
                      "ctx": {"error": ValueError(f"is served by {partnership}, not your partnership ({person.partnership})")}}]
        )


# ---- the case page ----------------------------------------------------------------------------------


@signed_in
async def case_page(request: Request) -> Response:
    case = await visible_case(request)
    person = request.state.person
    steps = cases.steps_now(case)
    return page(
        request, "case.html", case=case, mine=[s for s in steps if s.may_record(person)],
        others=[s for s in steps if not s.may_record(person)], documents=list(_documents(case)),
        working_days_left=lambda due: worklist.days_left(today(), due), today=today(),
        review=case.details.get("local_review"), corrections=_correctable(case, person),
        next=worklist.next_deadline(case), outstanding=worklist.outstanding,
    )


def _correctable(case: CaseStatus, person: Person) -> list[str]:
    """The accepted decisions this person may correct (their role may record them)."""
    names = []
    for record in case.decisions:
        step = cases.decision_model(record.name)
        if record.accepted and record.via != "correction" and step and record.name not in names and cases.may_record_anything(person, record.name):
            names.append(record.name)
    return names


def _documents(case: CaseStatus) -> dict[str, Path]:
    """The case's documents and its local review's (the reviewer's report), by name."""
    ids = [case.case_id] + ([case.details["local_review_id"]] if case.details.get("local_review_id") else [])
    found: dict[str, Path] = {}
    for folder in (case_folder(settings.documents_dir(), workflow_id) for workflow_id in ids):
        if folder.is_dir():
            found |= {p.name: p for p in folder.iterdir() if p.is_file()}
    return dict(sorted(found.items()))


@signed_in
async def document(request: Request) -> Response:
    case = await visible_case(request)
    name = request.path_params["name"]
    path = _documents(case).get(name) if DOCUMENT_NAME.fullmatch(name) else None
    if path is None:
        raise HTTPException(404, "Page not found")
    return FileResponse(path, filename=name)  # as an attachment, never shown inline


# ---- decisions and corrections ----------------------------------------------------------------------


def _may_act(person: Person) -> None:
    if not cases.may_record_anything(person):
        raise HTTPException(403, "Your role can see cases but not record decisions on them.")


@signed_in
async def decision_form(request: Request) -> Response:
    person = request.state.person
    _may_act(person)
    case = await visible_case(request)
    step = cases.step_for(case, request.path_params["name"], person)
    if step is None:
        raise HTTPException(404, "This case does not take that decision now, or your role does not record it.")
    fields = forms.fields_of(step.model)
    context: dict[str, Any] = {"case": case, "step": step, "fields": fields}
    if request.method == "GET":
        return page(request, "decision.html", values={}, errors={}, refusal=None, **context)
    form = await auth.checked_form(request, max_files=len(forms.DOCUMENTS))
    values = forms.shown_values(form)
    body = forms.values_of(form, fields) | {"recorded_by": person.email}
    try:
        step.model.model_validate(body, context={"today": today()})
        with tempfile.TemporaryDirectory(prefix="console-upload-") as folder:
            documents = await uploads(form, fields, Path(folder))
            await cases.record(await temporal(request), case.case_id, step.name.value, body, person, documents)
    except ValidationError as error:
        return page(request, "decision.html", 400, values=values, errors=forms.errors_of(error, fields), refusal=None, **context)
    except starter.Refused as refused:
        LOG.info("decision %s refused by case %s", step.name.value, case.case_id)
        return page(request, "decision.html", 400, values=values, errors={}, refusal=str(refused), **context)
    LOG.info("decision %s recorded on case %s", step.name.value, case.case_id)
    return RedirectResponse(f"/cases/{case.case_id}?recorded={step.name.value}", status_code=303)


async def uploads(form: FormData, fields: list[forms.FormField], folder: Path) -> dict[str, Path]:
    """The documents sent with a decision, each written to `folder` under a plain name (the stored
    document's name is made from it; the case checks its type and size)."""
    found: dict[str, Path] = {}
    for f in fields:
        upload = form.get(f.name)
        if f.kind == "file" and isinstance(upload, UploadFile) and upload.filename:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(upload.filename).name).strip("-.")[-100:] or "document"
            path = folder / name
            path.write_bytes(await upload.read())
            found[f.name] = path
    return found


class _Reason(BaseModel):
    reason: Text


@signed_in
async def correction_form(request: Request) -> Response:
    person = request.state.person
    _may_act(person)
    case = await visible_case(request)
    name = request.path_params["name"]
    model = cases.decision_model(name)
    if model is None or name not in _correctable(case, person):
        raise HTTPException(404, "Page not found")
    fields = [f for f in forms.fields_of(model) if f.kind != "file"] + forms.fields_of(_Reason)
    context: dict[str, Any] = {"case": case, "name": name, "fields": fields, "title": forms.label_of(name)}
    if request.method == "GET":
        return page(request, "correction.html", values={}, errors={}, refusal=None, **context)
    form = await auth.checked_form(request)
    values = forms.shown_values(form)
    everything = forms.values_of(form, fields)
    reason = everything.pop("reason", None)
    body = everything | {"recorded_by": person.email}
    try:
        _Reason.model_validate({"reason": reason} if reason else {})
        model.model_validate(body, context={"today": today()})
        await cases.correct(await temporal(request), case.case_id, name, body, str(reason), person)
    except ValidationError as error:
        return page(request, "correction.html", 400, values=values, errors=forms.errors_of(error, fields), refusal=None, **context)
    except starter.Refused as refused:
        return page(request, "correction.html", 400, values=values, errors={}, refusal=str(refused), **context)
    LOG.info("decision %s corrected on case %s", name, case.case_id)
    return RedirectResponse(f"/cases/{case.case_id}?corrected={name}", status_code=303)


# ---- the register -----------------------------------------------------------------------------------


# ---- errors and the app -----------------------------------------------------------------------------


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if not hasattr(request.state, "person"):
        request.state.person = auth.current_person(request) if "session" in request.scope else None
    return page(request, "error.html", error.status_code, status=error.status_code, detail=error.detail)


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


def create_app(connect: Callable[[], Awaitable[Client]] | None = None) -> Starlette:
    """The console; `connect` makes its Temporal client (settings.connect by default; tests give theirs)."""
    signing.ensure_key(signing.console_key_file(), door="staff console")
    routes = [
        Route("/health", health),
        Route("/sign-in", sign_in.sign_in_page, methods=["GET"]),
        Route("/sign-in", sign_in.sign_in, methods=["POST"]),
        Route("/sign-in/oidc", oidc.start, methods=["GET"]),
        Route(oidc.CALLBACK_PATH, oidc.callback, methods=["GET"]),
        Route("/sign-out", sign_in.sign_out, methods=["POST"]),
        Route("/", home),
        Route("/intake/{journey}", intake, methods=["GET", "POST"]),
        Route("/cases/{case_id}", case_page),
        Route("/cases/{case_id}/documents/{name}", document),
        Route("/cases/{case_id}/decisions/{name}", decision_form, methods=["GET", "POST"]),
        Route("/cases/{case_id}/corrections/{name}", correction_form, methods=["GET", "POST"]),
        Route("/register", register_views.register_cases),
        Route("/register/cases/{case_id}/audit", register_views.register_audit),
        Route("/register/report", register_views.register_report),
        Route("/register/report/chart.png", register_views.register_chart),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        Mount("/assets", StaticFiles(directory=HERE / "static" / "govuk" / "assets"), name="assets"),
    ]
    middleware = [
        Middleware(auth.Guard),
        Middleware(EncryptedSessions, secret=auth.session_secret(), cookie="console_session",
                   max_age=auth.idle_timeout_seconds(), https_only=auth.secure_cookies()),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: http_error})
    app.state.connect = connect or settings.connect
    app.state.client = None
    app.state.oidc = oidc.provider_from_environment()  # None: passwords only (the embedded default)
    app.state.passwords = oidc.password_sign_in(app.state.oidc)
    return app

