"""Single sign-on through the partnership's OpenID Connect provider (production), with Authlib's
Starlette client: the authorization-code flow with PKCE (S256), `state` and `nonce` kept in the
encrypted session, the provider found by discovery (`ISSUER/.well-known/openid-configuration`, whose
`issuer` must be the one configured), and the ID token verified: its signature by a key of the provider's
JWKS (asymmetric algorithms only), `iss`, `aud` (this console's client id), `exp`, `nonce`, and
`email_verified` true.

The verified address only names the account (console/accounts.py): partnership and roles come from the
account file, never from the provider or a form, and an unknown or disabled account is refused like a
bad token. Every refusal is the same GOV.UK page, with no session started; the log says which check
refused, never who. A session starts in one place, `auth.sign_in`.

Configured from the environment: SAFEGUARDING_CONSOLE_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET,
_REDIRECT_URL (this console's `/oidc/callback` as the provider sees it) and _NAME (the button's name).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError

with warnings.catch_warnings():  # Authlib 1.9 would rather have `httpx2`; httpx (pinned, well kept) is what it uses here
    warnings.simplefilter("ignore")
    from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from console import accounts, auth
from console.pages import page

LOG = logging.getLogger("console")
REQUIRED = {  # all four, or none (passwords only)
    "issuer": "SAFEGUARDING_CONSOLE_OIDC_ISSUER",
    "client_id": "SAFEGUARDING_CONSOLE_OIDC_CLIENT_ID",
    "client_secret": "SAFEGUARDING_CONSOLE_OIDC_CLIENT_SECRET",
    "redirect_url": "SAFEGUARDING_CONSOLE_OIDC_REDIRECT_URL",
}
CALLBACK_PATH = "/oidc/callback"
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_SECONDS = 60  # clocks of the console and the provider may differ this much


class Misconfigured(RuntimeError):
    """The console's single sign-on settings are incomplete or unsafe: it does not start."""


class Refused(Exception):
    """A sign-in the console refuses; `check` names the check (logged), never the person."""

    def __init__(self, check: str) -> None:
        super().__init__(check)
        self.check = check


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str
    client_secret: str
    redirect_url: str
    name: str
    client: StarletteOAuth2App


def provider_from_environment() -> Provider | None:
    """The configured provider, None when single sign-on is not configured; Misconfigured if half is."""
    given = {key: os.environ.get(name, "").strip() for key, name in REQUIRED.items()}
    if not any(given.values()):
        return None
    missing = [REQUIRED[key] for key, value in given.items() if not value]
    if missing:
        raise Misconfigured(f"single sign-on needs {', '.join(missing)}")
    for key in ("issuer", "redirect_url"):
        if not _safe_url(given[key]):
            raise Misconfigured(f"{REQUIRED[key]} must be an https:// URL (http:// only on loopback)")
    if urlsplit(given["redirect_url"]).path != CALLBACK_PATH:
        raise Misconfigured(f"{REQUIRED['redirect_url']} must end in {CALLBACK_PATH}")
    issuer = given["issuer"]
    client = OAuth().register(
        "partnership", client_id=given["client_id"], client_secret=given["client_secret"],
        server_metadata_url=f"{issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email", "code_challenge_method": "S256", "timeout": 10},
    )
    name = os.environ.get("SAFEGUARDING_CONSOLE_OIDC_NAME", "").strip()[:80] or "your organisation's account"
    return Provider(issuer, given["client_id"], given["client_secret"], given["redirect_url"], name, client)


def password_sign_in(provider: Provider | None) -> bool:
    """The password form is offered unless SAFEGUARDING_CONSOLE_PASSWORD_SIGN_IN=false (with a provider)."""
    wanted = os.environ.get("SAFEGUARDING_CONSOLE_PASSWORD_SIGN_IN", "true").lower() not in ("0", "false", "no", "off")
    if not wanted and provider is None:
        raise Misconfigured("SAFEGUARDING_CONSOLE_PASSWORD_SIGN_IN=false needs single sign-on configured: nobody could sign in")
    return wanted


def _safe_url(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.hostname) and (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")))


async def _metadata(provider: Provider) -> dict[str, Any]:
    """The provider's discovery document, its issuer checked, its signing algorithms kept to asymmetric ones."""
    metadata = await provider.client.load_server_metadata()
    if metadata.get("issuer") != provider.issuer:
        raise Refused("discovery issuer")
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    metadata["id_token_signing_alg_values_supported"] = [a for a in offered if a in SIGNING_ALGORITHMS] or ["RS256"]
    return metadata


# ---- the routes -------------------------------------------------------------------------------------


async def start(request: Request) -> Response:
    """GET /sign-in/oidc (the sign-in page's start button, a link): off to the provider. A link, not a
    form: browsers hold a form's redirect to the provider to the page's CSP `form-action 'self'`. It
    changes nothing but this browser's pending sign-in, which the callback must match (state, nonce,
    PKCE verifier), so a link from elsewhere can sign nobody in as anyone but themselves."""
    provider = request.app.state.oidc
    if provider is None:
        return refused(request, "not configured", 404)
    for key in [k for k in request.session if k.startswith(f"_state_{provider.client.name}_")]:
        del request.session[key]  # one pending sign-in per browser: the cookie stays small
    try:
        await _metadata(provider)
        return await provider.client.authorize_redirect(request, provider.redirect_url)
    except (Refused, AuthlibBaseError, httpx.HTTPError, ValueError, KeyError) as error:
        return refused(request, getattr(error, "check", "provider unreachable"), 503)


async def callback(request: Request) -> Response:
    """GET /oidc/callback: the provider's answer; a session only for a verified address with an account."""
    provider = request.app.state.oidc
    if provider is None:
        return refused(request, "not configured", 404)
    try:
        email = await verified_email(request, provider)
    except Refused as refusal:
        return refused(request, refusal.check)
    auth.sign_in(request, email)
    LOG.info("sign-in (single sign-on)")
    return RedirectResponse("/", status_code=303)


async def verified_email(request: Request, provider: Provider) -> str:
    """The address of the account the provider vouches for, or Refused naming the check that failed."""
    try:
        await _metadata(provider)
        token = await provider.client.authorize_access_token(
            request, leeway=LEEWAY_SECONDS,
            claims_options={"iss": {"essential": True, "value": provider.issuer},
                            "aud": {"essential": True, "values": [provider.client_id]}},
        )
    except MismatchingStateError:
        raise Refused("state") from None
    except (AuthlibBaseError, JoseError) as error:  # the provider's error, the token endpoint's, or a check of the ID token
        raise Refused(f"answer or id token ({type(error).__name__})") from None
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
        raise Refused(f"provider ({type(error).__name__})") from None
    claims = token.get("userinfo")  # the ID token's verified claims (Authlib sets it only from an ID token)
    if not claims:
        raise Refused("no id token")
    if claims.get("email_verified") is not True:
        raise Refused("email not verified")
    email = claims.get("email")
    account = accounts.account_of(email.strip().lower()) if isinstance(email, str) and len(email) <= 255 else None
    if account is None:
        raise Refused("no account")
    return account.email


def refused(request: Request, check: str, status: int = 403) -> Response:
    """The one refusal page: no session (any begun is dropped), and only the check's name logged."""
    auth.sign_out(request)
    LOG.info("single sign-on refused: %s", check)
    request.state.person = None
    return page(request, "sign_in_refused.html", status, unavailable=status == 503)
