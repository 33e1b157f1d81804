"""The console's session: a cookie encrypted and authenticated with Fernet (AES-128-CBC and
HMAC-SHA256, from `cryptography`), keyed from the console's secret, HttpOnly and SameSite=Lax.

Encrypted, not only signed: the session holds the person's address and, while a single sign-on is under
way, its PKCE verifier and nonce, none of which anyone holding the cookie should read. A cookie, not a
server-side store: the console keeps no session table to grow or clean, and a restart signs nobody out.
A cookie past its time (Fernet's timestamp, rewritten on every change) or not made by this console is an
empty session. The idle timeout itself is auth.py's."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_COOKIE_BYTES = 4000  # what every browser keeps; a larger session is a fault, not a cookie to send


def cookie_key(secret: str) -> Fernet:
    """The cookie's Fernet key, derived from the console's secret (HKDF-SHA256, its own purpose)."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"staff console session cookie").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


class EncryptedSessions:
    """ASGI middleware: `scope["session"]` is the cookie's content (a dict), written back when changed."""

    def __init__(self, app: ASGIApp, secret: str, cookie: str, max_age: int, https_only: bool) -> None:
        self.app = app
        self.fernet = cookie_key(secret)
        self.cookie = cookie
        self.max_age = max_age
        self.flags = f"path=/; httponly; samesite=lax{'; secure' if https_only else ''}"

    def read(self, value: str | None) -> dict[str, Any]:
        if not value:
            return {}
        try:
            data = json.loads(self.fernet.decrypt(value.encode(), ttl=self.max_age))
        except (InvalidToken, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = HTTPConnection(scope).cookies.get(self.cookie)
        session = self.read(given)
        before = json.dumps(session, sort_keys=True)
        scope["session"] = session

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                now = scope["session"]
                headers = MutableHeaders(scope=message)
                if now and json.dumps(now, sort_keys=True) != before:
                    token = self.fernet.encrypt(json.dumps(now).encode()).decode()
                    if len(token) > MAX_COOKIE_BYTES:
                        raise ValueError("the session is too large for its cookie")
                    headers.append("Set-Cookie", f"{self.cookie}={token}; Max-Age={self.max_age}; {self.flags}")
                elif not now and given:
                    headers.append("Set-Cookie", f"{self.cookie}=; Max-Age=0; expires=Thu, 01 Jan 1970 00:00:00 GMT; {self.flags}")
            await send(message)

        await self.app(scope, receive, with_cookie)
