"""A small but real OpenID Connect provider for the console's single sign-on tests: a Starlette app
served by uvicorn on a loopback port in a thread of the test, with an RSA key made in the test.

It serves discovery, its JWKS, an authorize endpoint (which signs in `user` at once and sends the
browser back with a code and the console's `state`) and a token endpoint that checks the client's
secret, the redirect URL and the PKCE verifier (S256) before it hands out an ID token (RS256) carrying
the console's `nonce`. A test makes the provider misbehave by setting `tamper` (claims to change or
drop in the next ID tokens), `signing_key` (a key not in its JWKS), `algorithm` or
`issuer_in_discovery`."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.test_web_ui import free_port

CLIENT_ID = "safeguarding-console"
CLIENT_SECRET = "a client secret for the tests only"
DROP = object()  # a claim left out of the ID token


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeProvider:
    port: int
    key: rsa.RSAPrivateKey = field(default_factory=new_key)
    user: dict[str, Any] = field(default_factory=dict)  # who signs in at the provider: email, email_verified
    tamper: dict[str, Any] = field(default_factory=dict)  # claims of the ID token to change (DROP: leave out)
    signing_key: rsa.RSAPrivateKey | None = None  # signs with a key not in the JWKS
    algorithm: str = "RS256"  # "HS256": signed with the client secret; "none": not signed
    id_token: bool = True  # False: the token endpoint answers without one (plain OAuth)
    issuer_in_discovery: str | None = None
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.user, self.tamper, self.signing_key, self.issuer_in_discovery, self.algorithm, self.id_token = {}, {}, None, None, "RS256", True

    # ---- endpoints ----

    async def discovery(self, request: Request) -> Response:
        return JSONResponse({
            "issuer": self.issuer_in_discovery or self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "none", "HS256"],  # the console keeps RS256 only
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        })

    async def jwks(self, request: Request) -> Response:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [public | {"kid": "test-key", "use": "sig", "alg": "RS256"}]})

    async def authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.authorize_requests.append(query)
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return JSONResponse({"error": "invalid_request"}, 400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"query": query, "user": dict(self.user), "used": False}
        return RedirectResponse(f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}", 302)

    async def token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_requests.append(form)
        client_id, secret = _client_of(request, form)
        grant = self.codes.get(form.get("code", ""))
        if client_id != CLIENT_ID or secret != CLIENT_SECRET:
            return JSONResponse({"error": "invalid_client"}, 401)
        if grant is None or grant["used"] or form.get("redirect_uri") != grant["query"]["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, 400)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
        if grant["query"].get("code_challenge_method") != "S256" or challenge != grant["query"].get("code_challenge"):
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        grant["used"] = True
        answer = {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300}
        if self.id_token:
            answer["id_token"] = self.signed_id_token(grant["user"], grant["query"].get("nonce"))
        return JSONResponse(answer)

    def signed_id_token(self, user: dict[str, Any], nonce: str | None) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": "subject-" + hashlib.sha256(str(user.get("email")).encode()).hexdigest()[:12],
                  "aud": CLIENT_ID, "iat": now, "exp": now + 300, "nonce": nonce, **user}
        for name, value in self.tamper.items():
            if value is DROP:
                claims.pop(name, None)
            else:
                claims[name] = value
        key: Any = {"RS256": self.signing_key or self.key, "HS256": CLIENT_SECRET, "none": None}[self.algorithm]
        return jwt.encode(claims, key, algorithm=self.algorithm, headers={"kid": "test-key"})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/jwks", self.jwks),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
        ])


def _client_of(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """The client's id and secret: HTTP Basic (client_secret_basic) or the form (client_secret_post)."""
    header = request.headers.get("authorization", "")
    if header.startswith("Basic "):
        client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        return unquote_plus(client_id), unquote_plus(secret)
    return form.get("client_id"), form.get("client_secret")


class Served:
    """The provider on a loopback port, in a thread of the test process, until stopped."""

    def __init__(self) -> None:
        self.provider = FakeProvider(port=free_port())
        config = uvicorn.Config(self.provider.app(), host="127.0.0.1", port=self.provider.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="fake-oidc-provider", daemon=True)

    def __enter__(self) -> FakeProvider:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise AssertionError("the fake OpenID Connect provider did not start")
            time.sleep(0.05)
        return self.provider

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def console_environment(provider: FakeProvider, console_url: str) -> dict[str, str]:
    """The console's single sign-on settings for this provider."""
    return {
        "SAFEGUARDING_CONSOLE_OIDC_ISSUER": provider.issuer,
        "SAFEGUARDING_CONSOLE_OIDC_CLIENT_ID": CLIENT_ID,
        "SAFEGUARDING_CONSOLE_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "SAFEGUARDING_CONSOLE_OIDC_REDIRECT_URL": f"{console_url}/oidc/callback",
        "SAFEGUARDING_CONSOLE_OIDC_NAME": "Tees Valley sign-in",
    }
