"""The codec server: how the Temporal Web UI (and `temporal ... --codec-endpoint`) shows a case decrypted.

    python codec_server.py                 # http://127.0.0.1:8081, for the Web UI at TEMPORAL_UI_URL

It speaks Temporal's remote codec protocol: POST `.../encode` and `.../decode` take and return a
`Payloads` message as protobuf JSON, through the same codec and keyring as the worker (codec.py,
settings.keyring()). The browser calls it directly, so the payloads are decrypted between the codec
server and the person's browser only: the Temporal server never sees a key or a decrypted payload.

Secured by (README, "Data protection"):
  - CORS: only the Web UI's origin may call it from a browser (SAFEGUARDING_CODEC_ORIGINS, comma-
    separated; default the origin of TEMPORAL_UI_URL); a request from any other origin is refused.
  - Credentials: with SAFEGUARDING_CODEC_OIDC_JWKS_URL set, every call needs `Authorization: Bearer
    <access token>`, an OIDC access token signed by a key of that JWKS, unexpired, and, when set, of
    SAFEGUARDING_CODEC_OIDC_ISSUER and for SAFEGUARDING_CODEC_OIDC_AUDIENCE. The Web UI sends the
    signed-in person's token with TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true. SAFEGUARDING_CODEC_TOKEN_FILE
    names a file holding a static token as well (for `temporal --codec-auth "Bearer ..."`).
  - Without credentials configured it listens on the loopback interface only (the embedded default);
    asked to listen elsewhere without them, it refuses to start.
  - Payloads and keys are never logged; a payload it cannot decrypt is refused with its key id only.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

import settings
from codec import EncryptionCodec, Keyring, KeyringError

log = logging.getLogger("codec_server")
MAX_BODY = 16 * 1024 * 1024  # a history's biggest payloads (the form, a report's inputs) fit well


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class Access:
    """Who may call: browser origins, and the credentials a call must carry (none: loopback only)."""

    origins: frozenset[str]
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    token: str | None = None
    _jwks: object = field(default=None, repr=False)

    @classmethod
    def from_environment(cls) -> Access:
        origins = os.environ.get("SAFEGUARDING_CODEC_ORIGINS") or origin_of(settings.temporal_ui_url())
        token_file = os.environ.get("SAFEGUARDING_CODEC_TOKEN_FILE")
        return cls(
            origins=frozenset(o.strip().rstrip("/") for o in origins.split(",") if o.strip()),
            jwks_url=os.environ.get("SAFEGUARDING_CODEC_OIDC_JWKS_URL") or None,
            issuer=os.environ.get("SAFEGUARDING_CODEC_OIDC_ISSUER") or None,
            audience=os.environ.get("SAFEGUARDING_CODEC_OIDC_AUDIENCE") or None,
            token=Path(token_file).read_text(encoding="utf-8").strip() if token_file else None,
        )

    @property
    def needs_credentials(self) -> bool:
        return bool(self.jwks_url or self.token)

    async def allows(self, authorization: str | None) -> bool:
        if not self.needs_credentials:
            return True
        scheme, _, credential = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return False
        credential = credential.strip()
        if self.token and hmac.compare_digest(credential.encode(), self.token.encode()):
            return True
        if self.jwks_url:
            return await asyncio.to_thread(self._valid_jwt, credential)
        return False

    def _valid_jwt(self, token: str) -> bool:
        import jwt

        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(self.jwks_url, cache_keys=True, lifespan=300)
        try:
            key = self._jwks.get_signing_key_from_jwt(token)  # type: ignore[attr-defined]
            jwt.decode(
                token,
                key.key,
                algorithms=["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp"], "verify_aud": self.audience is not None},
                leeway=30,
            )
            return True
        except jwt.PyJWTError as error:
            log.info("codec call refused: %s", type(error).__name__)
            return False


def build_codec_server(keyring: Keyring, access: Access) -> web.Application:
    codec = EncryptionCodec(keyring)

    def cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        response.headers[hdrs.VARY] = "Origin"
        if origin in access.origins:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = "POST"
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = "content-type,x-namespace,authorization"
            response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = "600"
        return response

    def refused_origin(request: web.Request) -> bool:
        origin = request.headers.get(hdrs.ORIGIN)
        return origin is not None and origin not in access.origins

    async def preflight(request: web.Request) -> web.StreamResponse:
        if refused_origin(request):
            return web.Response(status=403, text="origin not allowed")
        return cors(request, web.Response(status=204))

    def handler(apply: Callable[[Sequence[Payload]], Awaitable[list[Payload]]]):
        async def handle(request: web.Request) -> web.StreamResponse:
            if refused_origin(request):
                return web.Response(status=403, text="origin not allowed")
            if not await access.allows(request.headers.get(hdrs.AUTHORIZATION)):
                return cors(request, web.Response(status=401, text="credentials required",
                                                  headers={hdrs.WWW_AUTHENTICATE: "Bearer"}))
            if request.content_type != "application/json":
                return cors(request, web.Response(status=415, text="application/json expected"))
            try:
                payloads = json_format.Parse(await request.read(), Payloads())
                result = Payloads(payloads=await apply(payloads.payloads))
            except (json_format.ParseError, ValueError) as error:
                # The key id at most: never a payload, never a key.
                message = str(error) if isinstance(error, KeyringError) else "payloads could not be read"
                return cors(request, web.Response(status=400, text=message))
            return cors(request, web.json_response(text=json_format.MessageToJson(result)))

        return handle

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    encode, decode = handler(codec.encode), handler(codec.decode)
    app = web.Application(client_max_size=MAX_BODY)
    app.add_routes(
        [
            web.get("/health", health),
            # Only the last part of the path counts (the protocol), so it can be mounted at any depth.
            web.post(r"/{prefix:.*}encode", encode),
            web.post(r"/{prefix:.*}decode", decode),
            web.options(r"/{prefix:.*}", preflight),
        ]
    )
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    host = os.environ.get("SAFEGUARDING_CODEC_HOST", "127.0.0.1")
    port = int(os.environ.get("SAFEGUARDING_CODEC_PORT", "8081"))
    access = Access.from_environment()
    if not access.needs_credentials and not is_loopback(host):
        sys.exit(
            f"codec server: refusing to listen on {host} without credentials; set "
            "SAFEGUARDING_CODEC_OIDC_JWKS_URL (and _ISSUER, _AUDIENCE) or SAFEGUARDING_CODEC_TOKEN_FILE"
        )
    keyring = settings.keyring()
    log.info(
        "codec server on http://%s:%s for %s; credentials %s; keys %s (current %s)",
        host, port, sorted(access.origins), "required" if access.needs_credentials else "not required (loopback)",
        list(keyring.keys), keyring.current,
    )
    web.run_app(build_codec_server(keyring, access), host=host, port=port, print=None)


if __name__ == "__main__":
    main()
