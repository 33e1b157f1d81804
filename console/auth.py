"""Who is signed in, for how long, and the guards every request passes: the session (an encrypted,
HttpOnly, SameSite=Lax cookie: sessions.py), its idle timeout, the CSRF token every
POST form carries, the size limit of a post, and the security headers of every response."""

from __future__ import annotations

import hmac
import os
import secrets
import time
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import settings
from console.accounts import account_of
from models.identity import Person

MAX_POST_BYTES = 256 * 1024  # a form or a decision is a few kilobytes
MAX_UPLOAD_BYTES = 26 * 1024 * 1024  # a decision with its document (at most 25 MB, activities/files.py)
MAX_FIELDS = 400


def idle_timeout_seconds() -> int:
    """A session ends after this long without a request (SAFEGUARDING_CONSOLE_IDLE_MINUTES, default 30)."""
    return int(float(os.environ.get("SAFEGUARDING_CONSOLE_IDLE_MINUTES", "30")) * 60)


def secure_cookies() -> bool:
    """Cookies only over HTTPS (SAFEGUARDING_CONSOLE_SECURE_COOKIES=true behind a TLS proxy in production)."""
    return os.environ.get("SAFEGUARDING_CONSOLE_SECURE_COOKIES", "false").lower() in ("1", "true", "yes")


def session_secret() -> str:
    """SAFEGUARDING_CONSOLE_SECRET, else a secret made on first use in the data folder (owner-only)."""
    given = os.environ.get("SAFEGUARDING_CONSOLE_SECRET")
    if given:
        return given
    path = settings.data_dir() / "console-session.key"
    if not path.exists():
        try:
            settings.write_private(path, secrets.token_urlsafe(48).encode(), exclusive=True)
        except FileExistsError:
            pass
    return path.read_text(encoding="utf-8").strip()


# ---- the session ------------------------------------------------------------------------------------


def sign_in(request: Request, email: str) -> None:
    """The one place a session starts (a password checked by accounts.py, or an address verified by oidc.py)."""
    request.session.clear()  # a new session on sign-in: no fixation of one made before
    request.session.update({"email": email, "seen": int(time.time()), "csrf": secrets.token_urlsafe(32)})


def sign_out(request: Request) -> None:
    request.session.clear()


def current_person(request: Request) -> Person | None:
    """The signed-in person, from their account as it is now (a removed account signs out); None when
    nobody is signed in or the session has been idle too long."""
    session = request.session
    email, seen = session.get("email"), session.get("seen")
    if not isinstance(email, str) or not isinstance(seen, int):
        return None
    now = int(time.time())
    if now - seen > idle_timeout_seconds():
        session.clear()
        return None
    account = account_of(email)
    if account is None:
        session.clear()
        return None
    session["seen"] = now
    return account.person()


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made for a visitor not yet signed in too: the sign-in form has one)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def checked_form(request: Request, max_files: int = 0) -> FormData:
    """A POST's form, refused (403) unless it carries the session's CSRF token, (413) if too large."""
    form = await request.form(max_files=max_files, max_fields=MAX_FIELDS, max_part_size=MAX_POST_BYTES)
    expected = request.session.get("csrf")
    given = form.get("csrf_token")
    if not isinstance(expected, str) or not isinstance(given, str) or not hmac.compare_digest(expected, given):
        raise HTTPException(403, "This form has expired or did not come from this site. Go back, reload the page and try again.")
    return form


# ---- every request ----------------------------------------------------------------------------------


class Guard:
    """ASGI middleware: a post larger than MAX_POST_BYTES is refused (413) before it is read whole,
    and every response carries the security headers (a CSP with a per-request nonce for the GOV.UK
    template's one inline script, no framing, no sniffing, no caching of pages)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        limit = post_limit(scope["path"], dict(scope["headers"]).get(b"content-type", b""))
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self.refuse(send, 413, b"Too large: a form is at most 256 KB, a document 25 MB.")
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, "Too large: a form is at most 256 KB, a document 25 MB.")
            return message

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in security_headers(nonce, scope["path"]).items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, limited, with_headers)

    @staticmethod
    async def refuse(send: Send, status: int, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
        await send({"type": "http.response.body", "body": body})


def post_limit(path: str, content_type: bytes) -> int:
    """A decision form may carry a document (multipart); every other post is a few kilobytes."""
    if content_type.startswith(b"multipart/form-data") and "/decisions/" in path:
        return MAX_UPLOAD_BYTES
    return MAX_POST_BYTES


def security_headers(nonce: str, path: str) -> dict[str, Any]:
    headers = {
        "Content-Security-Policy": (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
            "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    if not path.startswith(("/static/", "/assets/")):
        headers["Cache-Control"] = "no-store"  # pages hold personal data: never kept by a browser or proxy
    return headers
