"""The console's single sign-on (console/oidc.py) against a real OpenID Connect provider on loopback
(tests/oidc_provider.py: discovery, JWKS, authorize, token; RS256 ID tokens from a key made here).

The console's side is driven through httpx as a browser would be: the sign-in page's button, the
provider's redirect back with a code, the callback. A verified address with an account signs in as that
account (partnership and roles from the account file) and records decisions as itself; every bad answer
(state, nonce, audience, issuer, expiry, signature, algorithm, unverified or unknown or disabled
address) is the refusal page, with no session started and nobody named in the log."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio

import starter
from console import accounts, oidc
from console.app import create_app
from tests.oidc_provider import CLIENT_ID, DROP, FakeProvider, Served, console_environment, new_key
from tests.test_console import Console, another, console_env, dsp_post, serving, started_case  # noqa: F401 (a fixture)
from tests.test_web_ui import free_port

OFFICER, OTHER, GONE = "officer@hsscp.example.org", "officer@stscp.example.org", "gone@hsscp.example.org"
CONSOLE_URL = "https://console.test"  # as the provider sends people back (the ASGI client is http://console.test)


@pytest.fixture(scope="module")
def accounts_file(tmp_path_factory) -> Path:
    """Accounts without passwords (single sign-on only), and one disabled."""
    path = tmp_path_factory.mktemp("sso-accounts") / "accounts.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAFEGUARDING_ACCOUNTS_FILE", str(path))
        accounts.add_account(OFFICER, "HSSCP", ["dsp"], None)
        accounts.add_account(OTHER, "STSCP", ["business_unit"], None)
        accounts.add_account(GONE, "HSSCP", ["dsp"], None)
        accounts.disable_account(GONE)
    return path


@pytest.fixture(scope="module")
def provider():
    with Served() as served:
        yield served


@pytest_asyncio.fixture(loop_scope="session")
async def sso_console(env, console_env, provider, monkeypatch):
    provider.reset()
    for name, value in console_environment(provider, CONSOLE_URL).items():
        monkeypatch.setenv(name, value)
    async with serving(env) as console:
        yield console


async def through_provider(console: Console, provider: FakeProvider, email: str = OFFICER, **user: object) -> httpx.Response:
    """Press 'Sign in with …', let the provider sign `email` in, and come back: the callback's response."""
    return await come_back(console, provider, await start(console), {"email": email, "email_verified": True} | user)


async def start(console: Console) -> str:
    started = await console.http.get("/sign-in/oidc")
    assert started.status_code == 302, started.text[-1000:]
    return started.headers["location"]


async def come_back(console: Console, provider: FakeProvider, provider_url: str, user: dict) -> httpx.Response:
    provider.user = user
    async with httpx.AsyncClient() as browser:
        answered = await browser.get(provider_url)
    assert answered.status_code == 302, answered.text
    back = urlsplit(answered.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == f"{CONSOLE_URL}/oidc/callback"
    return await console.http.get(f"/oidc/callback?{back.query}")


async def signed_in_as(console: Console) -> str | None:
    page = await console.http.get("/register/report")
    if page.status_code != 200:
        return None
    return re.search(r"Signed in as\s+(\S+)", page.text).group(1)


# ---- the happy path ---------------------------------------------------------------------------------------


async def test_a_verified_address_signs_in_as_its_account_and_records_decisions_as_itself(env, sso_console, provider, caplog):
    caplog.set_level(logging.INFO)
    page = await sso_console.http.get("/sign-in")
    assert "Sign in with Tees Valley sign-in" in page.text and 'name="password"' in page.text
    provider_url = await start(sso_console)
    asked = parse_qs(urlsplit(provider_url).query)
    assert provider_url.startswith(f"{provider.issuer}/authorize?")
    assert asked["client_id"] == [CLIENT_ID] and asked["response_type"] == ["code"] and asked["code_challenge_method"] == ["S256"]
    assert set(asked["scope"][0].split()) == {"openid", "email"} and asked["state"][0] and asked["nonce"][0] and asked["code_challenge"][0]
    back = await come_back(sso_console, provider, provider_url, {"email": OFFICER.upper(), "email_verified": True})
    assert back.status_code == 303 and back.headers["location"] == "/"
    assert "code_verifier" in provider.token_requests[-1], "PKCE: the verifier went to the token endpoint"
    assert await signed_in_as(sso_console) == OFFICER

    case_id = await started_case(env)
    recorded = await sso_console.post_form(f"/cases/{case_id}/decisions/dsp_decision", dsp_post())
    assert recorded.status_code == 303, recorded.text[-2000:]
    (decision,) = (await starter.case_status(env.client, case_id)).decisions
    assert decision.accepted and decision.recorded_by == OFFICER

    out = await sso_console.http.post("/sign-out", data={"csrf_token": await sso_console.token()})
    assert out.status_code == 303 and await signed_in_as(sso_console) is None
    assert not [r for r in caplog.records if "hsscp" in r.getMessage().lower()], "nobody named in the log"


async def test_the_partnership_comes_from_the_account_not_the_provider(env, sso_console, provider):
    case_id = await started_case(env)  # Stockton-on-Tees: HSSCP's
    back = await through_provider(sso_console, provider, OTHER, partnership="HSSCP", roles=["operations"])
    assert back.status_code == 303 and await signed_in_as(sso_console) == OTHER
    assert (await sso_console.http.get(f"/cases/{case_id}")).status_code == 404


# ---- every refusal ----------------------------------------------------------------------------------------

REFUSALS = {
    "unknown address": ({"email": "nobody@hsscp.example.org"}, {}),
    "disabled account": ({"email": GONE}, {}),
    "unverified address": ({"email_verified": False}, {}),
    "no email_verified claim": ({"email_verified": DROP}, {}),
    "email_verified as a string": ({"email_verified": "true"}, {}),
    "no email claim": ({"email": DROP}, {}),
    "another audience": ({}, {"aud": "another-client"}),
    "another audience, naming this console as azp": ({}, {"aud": "another-client", "azp": CLIENT_ID}),
    "another issuer": ({}, {"iss": "http://127.0.0.1:9/other"}),
    "expired": ({}, {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}),
    "a replayed nonce": ({}, {"nonce": "the nonce of an earlier sign-in"}),
    "no nonce": ({}, {"nonce": DROP}),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_bad_answer_is_refused_with_no_session(sso_console, provider, case, caplog):
    user, tamper = REFUSALS[case]
    provider.tamper = dict(tamper)
    caplog.set_level(logging.INFO)
    provider_url = await start(sso_console)
    back = await come_back(sso_console, provider, provider_url, {k: v for k, v in ({"email": OFFICER, "email_verified": True} | user).items() if v is not DROP})
    assert_refused(back)
    assert await signed_in_as(sso_console) is None
    logged = " ".join(r.getMessage() for r in caplog.records).lower()
    assert "single sign-on refused" in logged and "hsscp" not in logged and "nobody" not in logged


@pytest.mark.parametrize("signed", ["by another key", "HS256 with the client secret", "not at all (alg none)"])
async def test_a_token_not_signed_by_the_providers_key_is_refused(sso_console, provider, signed):
    if signed == "by another key":
        provider.signing_key = new_key()
    else:
        provider.algorithm = "HS256" if "HS256" in signed else "none"
    assert_refused(await through_provider(sso_console, provider))
    assert await signed_in_as(sso_console) is None


async def test_an_answer_without_an_id_token_is_refused(sso_console, provider):
    provider.id_token = False
    assert_refused(await through_provider(sso_console, provider))
    assert await signed_in_as(sso_console) is None


async def test_a_discovery_document_naming_another_issuer_is_refused(sso_console, provider):
    provider.issuer_in_discovery = "https://login.example.org"
    started = await sso_console.http.get("/sign-in/oidc")
    assert started.status_code == 503 and "sign-in service is unavailable" in started.text
    assert await signed_in_as(sso_console) is None


async def test_a_bad_or_used_state_is_refused(sso_console, provider):
    provider_url = await start(sso_console)
    provider.user = {"email": OFFICER, "email_verified": True}
    async with httpx.AsyncClient() as browser:
        code_and_state = urlsplit((await browser.get(provider_url)).headers["location"]).query
    query = parse_qs(code_and_state)
    forged = f"code={query['code'][0]}&state=not-the-state"
    assert_refused(await sso_console.http.get(f"/oidc/callback?{forged}"))
    assert_refused(await sso_console.http.get(f"/oidc/callback?{code_and_state}")), "the refusal dropped the sign-in begun"
    assert_refused(await sso_console.http.get("/oidc/callback"))
    # A callback made for someone else's browser (login CSRF): this browser has no such state.
    attacker = another(sso_console)
    assert_refused(await attacker.http.get(f"/oidc/callback?{code_and_state}"))
    assert await signed_in_as(attacker) is None

    good = await through_provider(sso_console, provider)
    assert good.status_code == 303
    replayed = await sso_console.http.get(f"/oidc/callback?{urlsplit(good.request.url.raw_path.decode()).query}")
    assert_refused(replayed)  # the state is used once
    assert await signed_in_as(sso_console) is None, "a bad callback ends the session"


async def test_a_sign_in_started_elsewhere_signs_nobody_in(sso_console, provider):
    """The start is a link (a form's redirect would break the CSP's form-action): one followed from
    another site only begins a sign-in in that browser, and a second start replaces nothing it needs."""
    first = await start(sso_console)
    for _ in range(10):  # started again and again: one pending sign-in, the latest, and a cookie that stays small
        latest = await start(sso_console)
    assert len(sso_console.http.cookies["console_session"]) < 2000
    assert parse_qs(urlsplit(first).query)["state"] != parse_qs(urlsplit(latest).query)["state"]
    assert_refused(await come_back(sso_console, provider, first, {"email": OFFICER, "email_verified": True}))
    back = await through_provider(sso_console, provider)
    assert back.status_code == 303 and await signed_in_as(sso_console) == OFFICER
    assert (await sso_console.http.post("/sign-in/oidc", data={})).status_code == 405


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 403, (response.status_code, response.text[-1500:])
    assert "You could not be signed in" in response.text and "govuk-heading-l" in response.text


# ---- configuration ------------------------------------------------------------------------------------------


def test_single_sign_on_is_configured_whole_or_not_at_all(console_env, monkeypatch):
    assert oidc.provider_from_environment() is None
    monkeypatch.setenv("SAFEGUARDING_CONSOLE_OIDC_ISSUER", "https://login.example.org")
    with pytest.raises(oidc.Misconfigured, match="SAFEGUARDING_CONSOLE_OIDC_CLIENT_ID"):
        oidc.provider_from_environment()
    for name, value in {"CLIENT_ID": "c", "CLIENT_SECRET": "s", "REDIRECT_URL": "http://console.example.org/oidc/callback"}.items():
        monkeypatch.setenv(f"SAFEGUARDING_CONSOLE_OIDC_{name}", value)
    with pytest.raises(oidc.Misconfigured, match="https"):
        oidc.provider_from_environment()
    monkeypatch.setenv("SAFEGUARDING_CONSOLE_OIDC_REDIRECT_URL", "https://console.example.org/elsewhere")
    with pytest.raises(oidc.Misconfigured, match="/oidc/callback"):
        oidc.provider_from_environment()
    monkeypatch.setenv("SAFEGUARDING_CONSOLE_OIDC_REDIRECT_URL", "https://console.example.org/oidc/callback")
    assert oidc.provider_from_environment().issuer == "https://login.example.org"
    with pytest.raises(oidc.Misconfigured, match="nobody could sign in"):
        monkeypatch.setenv("SAFEGUARDING_CONSOLE_PASSWORD_SIGN_IN", "false")
        oidc.password_sign_in(None)


async def test_the_password_form_can_be_turned_off(env, console_env, provider, monkeypatch):
    provider.reset()
    for name, value in console_environment(provider, CONSOLE_URL).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SAFEGUARDING_CONSOLE_PASSWORD_SIGN_IN", "false")
    async with serving(env) as console:
        page = await console.http.get("/sign-in")
        assert "Sign in with Tees Valley sign-in" in page.text and 'name="password"' not in page.text
        assert 'name="csrf_token"' not in page.text, "no form on the page"
        posted = await console.http.post("/sign-in", data={"email": OFFICER, "password": "x" * 20})
        assert posted.status_code == 404 and await signed_in_as(console) is None


async def test_an_unreachable_provider_is_a_clear_page(env, console_env, monkeypatch):
    unreachable = FakeProvider(port=free_port())  # nothing listens there
    for name, value in console_environment(unreachable, CONSOLE_URL).items():
        monkeypatch.setenv(name, value)
    app = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test") as http:
        started = await http.get("/sign-in/oidc")
        assert started.status_code == 503 and "Try again in a few minutes" in started.text
