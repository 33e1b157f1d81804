"""The sign-in page (the provider's start button when single sign-on is configured, oidc.py; the
password form unless turned off), the password sign-in and sign-out. Nothing personal is logged."""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from console import accounts, auth, forms
from console.pages import page

LOG = logging.getLogger("console")


def _sign_in_page(request: Request, **context: Any) -> Response:
    """The sign-in page: the provider's button when single sign-on is configured, the password form unless turned off."""
    provider = request.app.state.oidc
    return page(request, "sign_in.html", provider_name=provider.name if provider else None,
                passwords=request.app.state.passwords, **context)


async def sign_in_page(request: Request) -> Response:
    return _sign_in_page(request)


async def sign_in(request: Request) -> Response:
    if not request.app.state.passwords:
        raise HTTPException(404, "Page not found")
    form = await auth.checked_form(request)
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    # argon2 and the lockout file take tens of milliseconds: off the event loop, so one sign-in (or a flood
    # of guesses) does not hold every other page
    account = await run_in_threadpool(accounts.authenticate, email, password) if email and password else None
    if account is None:
        LOG.info("sign-in refused")
        error = forms.FieldError("email", "Enter the email address and password of your account")
        return _sign_in_page(request, errors={"email": error}, email=email[:255])
    auth.sign_in(request, account.email)
    LOG.info("sign-in")
    return RedirectResponse("/", status_code=303)


async def sign_out(request: Request) -> Response:
    await auth.checked_form(request)
    auth.sign_out(request)
    return RedirectResponse("/sign-in", status_code=303)
