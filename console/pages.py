"""What every page of the console shares: the templates (GOV.UK Frontend's Jinja macros), rendering
a page with the person, the CSRF token and the CSP nonce, the signed-in guard, the Temporal client, the
case as the person may see it, and the small helpers of query strings and CSV downloads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, PrefixLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates
from temporalio.client import Client

import starter
from console import auth, cases, forms
from models.case import CaseStatus
from models.dates import LONDON

HERE = Path(__file__).resolve().parent


def templates() -> Jinja2Templates:
    environment = Environment(
        loader=ChoiceLoader([
            FileSystemLoader(HERE / "templates"),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]),
        autoescape=select_autoescape(["html"]),
    )
    environment.globals.update(
        params_of=forms.params_of, error_list=forms.error_list, option_text=forms.option_text, london=LONDON,
        message_state=starter.message_state,
    )
    return Jinja2Templates(env=environment)


TEMPLATES = templates()


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    person = getattr(request.state, "person", None)
    context |= {"person": person, "csrf_token": auth.csrf_token(request), "csp_nonce": request.state.csp_nonce}
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


# ---- who is asking ----------------------------------------------------------------------------------


Handler = Callable[[Request], Awaitable[Response]]


def signed_in(handler: Handler) -> Handler:
    """The page needs a signed-in person (else the sign-in page), kept on `request.state.person`."""

    async def guarded(request: Request) -> Response:
        person = auth.current_person(request)
        if person is None:
            return RedirectResponse("/sign-in", status_code=303)
        request.state.person = person
        return await handler(request)

    return guarded


async def temporal(request: Request) -> Client:
    app = request.app
    if app.state.client is None:
        try:
            app.state.client = await app.state.connect()
        except RuntimeError:
            raise HTTPException(503, "The case service (Temporal) cannot be reached. Try again in a few minutes.") from None
    return app.state.client


async def visible_case(request: Request) -> CaseStatus:
    case = await cases.case_for(await temporal(request), request.path_params["case_id"], request.state.person)
    if case is None:
        raise HTTPException(404, "Page not found")
    return case


def today() -> date:
    return starter.today()


def choice(value: str | None, allowed: list[str]) -> str:
    return value if value in allowed else ""


def csv_download(text: str, name: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'})
