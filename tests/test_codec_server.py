"""The codec server: the Web UI's origin only, credentials when configured, the worker's codec.

Run in-process on loopback (aiohttp's test server); the OIDC check against a JWKS served by a second
loopback server, with tokens signed here by keys made for the test.
"""

from __future__ import annotations

import json
import time

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

import settings
from codec import ENCODING, EncryptionCodec, new_keyring, sealed_under
from codec_server import Access, build_codec_server, is_loopback

UI = "http://localhost:8233"
JSON = {"Content-Type": "application/json", "X-Namespace": "default"}


def as_json(*payloads: Payload) -> str:
    return json_format.MessageToJson(Payloads(payloads=list(payloads)))


def from_json(text: str) -> list[Payload]:
    return list(json_format.Parse(text, Payloads()).payloads)


async def serve(access: Access, ring=None) -> TestClient:
    client = TestClient(TestServer(build_codec_server(ring or settings.keyring(), access), host="127.0.0.1"))
    await client.start_server()
    return client


async def test_the_ui_reads_what_the_worker_wrote_and_nothing_else_can_call():
    # What the worker writes: the project's converter, the session's keys.
    (sealed,) = await settings.data_converter().encode([{"child": "zqx-child", "summary": "zqx-what-happened"}])
    assert sealed.metadata["encoding"] == ENCODING
    client = await serve(Access(origins=frozenset({UI})))
    try:
        response = await client.post("/decode", data=as_json(sealed), headers={**JSON, "Origin": UI})
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == UI
        (plain,) = from_json(await response.text())
        assert json.loads(plain.data) == {"child": "zqx-child", "summary": "zqx-what-happened"}
        assert plain.metadata["encoding"] == b"json/plain"

        # /encode (the UI's signal and reset forms) writes what the worker reads; mounted at any depth.
        response = await client.post("/codec/default/encode", data=as_json(plain), headers={**JSON, "Origin": UI})
        (again,) = from_json(await response.text())
        assert sealed_under(again)[0] == settings.keyring().current.encode()
        assert await settings.data_converter().decode([again]) == [{"child": "zqx-child", "summary": "zqx-what-happened"}]

        # The browser's preflight: allowed for the UI, with the headers the UI sends.
        response = await client.options("/decode", headers={"Origin": UI, "Access-Control-Request-Method": "POST"})
        assert response.status in (200, 204) and response.headers["Access-Control-Allow-Origin"] == UI
        assert "x-namespace" in response.headers["Access-Control-Allow-Headers"]

        # Any other origin: refused, and no CORS grant a browser could use.
        for path in ("/decode", "/encode"):
            response = await client.post(path, data=as_json(sealed), headers={**JSON, "Origin": "http://evil.test"})
            assert response.status == 403 and "Access-Control-Allow-Origin" not in response.headers
            assert "zqx" not in await response.text()
        response = await client.options("/decode", headers={"Origin": "http://localhost:9999"})
        assert response.status == 403 and "Access-Control-Allow-Origin" not in response.headers

        # A payload under a key it does not hold: refused with the key id, nothing else.
        foreign = EncryptionCodec(new_keyring("elsewhere")).encrypt(Payload(data=b"zqx"))
        response = await client.post("/decode", data=as_json(foreign), headers={**JSON, "Origin": UI})
        assert response.status == 400 and "elsewhere" in await response.text()
    finally:
        await client.close()


async def test_a_static_token_is_required_when_configured(tmp_path):
    (sealed,) = await settings.data_converter().encode(["zqx-secret"])
    client = await serve(Access(origins=frozenset({UI}), token="s3cret-token-for-the-cli"))
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token-for-the-cli"}):
            response = await client.post("/decode", data=as_json(sealed), headers={**JSON, **headers})
            assert response.status == 401 and "zqx" not in await response.text()
        response = await client.post(
            "/decode", data=as_json(sealed), headers={**JSON, "Authorization": "Bearer s3cret-token-for-the-cli"}
        )
        assert response.status == 200 and b"zqx-secret" in from_json(await response.text())[0].data
    finally:
        await client.close()


@pytest.fixture
async def identity_provider():
    """An OIDC provider's JWKS on loopback, and a function signing access tokens with its key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = {"keys": [{**public, "kid": "idp-1", "use": "sig", "alg": "RS256"}]}

    async def keys(_: web.Request) -> web.Response:
        return web.json_response(jwks)

    app = web.Application()
    app.add_routes([web.get("/.well-known/jwks.json", keys)])
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()

    def token(signer=key, kid="idp-1", **claims) -> str:
        now = int(time.time())
        body = {"iss": "https://idp.test/", "aud": "temporal-ui", "sub": "staff-1", "iat": now, "exp": now + 300}
        return jwt.encode({**body, **claims}, signer, algorithm="RS256", headers={"kid": kid})

    yield str(server.make_url("/.well-known/jwks.json")), token
    await server.close()


async def test_the_ui_users_access_token_is_verified(identity_provider):
    jwks_url, token = identity_provider
    (sealed,) = await settings.data_converter().encode(["zqx-secret"])
    access = Access(origins=frozenset({UI}), jwks_url=jwks_url, issuer="https://idp.test/", audience="temporal-ui")
    client = await serve(access)
    try:
        async def status(authorization: str | None) -> int:
            headers = {**JSON, "Origin": UI} | ({"Authorization": authorization} if authorization else {})
            response = await client.post("/decode", data=as_json(sealed), headers=headers)
            return response.status

        assert await status(f"Bearer {token()}") == 200
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        refused = {
            "no token": None,
            "not a token": "Bearer not-a-jwt",
            "expired": f"Bearer {token(exp=int(time.time()) - 120)}",
            "another audience": f"Bearer {token(aud='another-app')}",
            "another issuer": f"Bearer {token(iss='https://evil.test/')}",
            "signed by another key": f"Bearer {token(signer=stranger)}",
            "unsigned": "Bearer " + jwt.encode({"aud": "temporal-ui", "exp": int(time.time()) + 60}, None, algorithm="none"),
        }
        got = {name: await status(value) for name, value in refused.items()}
        assert got == {name: 401 for name in refused}
    finally:
        await client.close()


def test_without_credentials_it_listens_on_loopback_only(monkeypatch):
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("codec.example.org")
    import subprocess
    import sys
    from pathlib import Path

    environment = {"PATH": "/usr/bin:/bin", "SAFEGUARDING_CODEC_HOST": "0.0.0.0",
                   "SAFEGUARDING_KEYS": new_keyring("k").text()}
    done = subprocess.run(
        [sys.executable, "codec_server.py"], cwd=Path(__file__).resolve().parents[1], env=environment,
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0 and "refusing to listen on 0.0.0.0 without credentials" in done.stderr


def test_the_default_origin_is_the_web_uis(monkeypatch):
    monkeypatch.setenv("TEMPORAL_UI_URL", "https://temporal.partnership.example:8443/some/path")
    monkeypatch.delenv("SAFEGUARDING_CODEC_ORIGINS", raising=False)
    assert Access.from_environment().origins == {"https://temporal.partnership.example:8443"}
    assert not Access.from_environment().needs_credentials
