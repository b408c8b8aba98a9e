"""Forged, stale and crossed requests: each is rejected with its status and reason.

Every case runs against the in-process app and FakeJira. None may get a 500 response,
change a stored installation, or leave its token in the log, and each rejection is
logged at WARNING with the route and the client key the request claimed.

Installation A's token on installation B's removal gets 404, the same as an
unknown job id, so that a token cannot learn which job ids other installations have;
the store gives both cases the same message. A's token can never name B's export,
because the export route takes the installation from the token.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable

import httpx
import jwt
import pytest
from tests.security.conftest import World, assemble, snapshot

Send = Callable[[World], Awaitable[httpx.Response]]

MISSING = "Invalid or missing token: missing token."
NOT_ADMIN = "Only a Jira administrator of this site can see or remove the app's data."
NOT_JSON = "The request body is not valid UTF-8 JSON."


def token_error(reason: str) -> str:
    return f"Invalid or missing token: {reason}."


def job_not_found(job_id_of: Callable[[World], str]) -> Callable[[World], str]:
    def message(w: World) -> str:
        return (
            f"No removal job {job_id_of(w)!r} was found for this installation. "
            "Check the job id, or start a new removal."
        )

    return message


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    send: Send
    status: int
    error: str | Callable[[World], str]
    logged_as: Callable[[World], str | None] = lambda w: w.a.client_key
    key_fetches: list[str] | None = None


def api_get(path: str, token: Callable[[World], str | None]) -> Send:
    return lambda w: w.api("GET", path, token(w))


def inventory(token: Callable[[World], str | None]) -> Send:
    return api_get("/api/inventory", token)


def installed(token: Callable[[World], str | None], **body: object) -> Send:
    return lambda w: w.event("installed", token(w), w.body(w.a, "installed", **body))


def signed_installed(**changes: object) -> Send:
    return installed(lambda w: w.rs256(w.a, "installed", **changes))


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


CASES = [
    # Lifecycle: installed and uninstalled need an RS256 token signed by Atlassian.
    Case("installed-no-token", installed(lambda w: None), 401, MISSING, logged_as=lambda w: None),
    Case(
        "installed-unsigned-reinstall",
        installed(lambda w: w.shared(w.a, "installed")),
        401,
        token_error("unsupported algorithm"),
    ),
    Case(
        "installed-hs256-public-key-text",
        installed(
            lambda w: assemble(
                {"alg": "HS256", "typ": "JWT", "kid": w.fake.signing_key.kid},
                w.event_claims(w.a, "installed"),
                w.fake.signing_key.public_key_pem().encode(),
            )
        ),
        401,
        token_error("unsupported algorithm"),
        key_fetches=[],
    ),
    Case(
        "installed-alg-none",
        installed(lambda w: assemble({"alg": "none"}, w.event_claims(w.a, "installed"), None)),
        401,
        token_error("unsupported algorithm"),
    ),
    Case(
        "installed-missing-kid",
        signed_installed(kid=None),
        401,
        token_error("missing kid header"),
        key_fetches=[],
    ),
    *[
        Case(
            f"installed-kid-{name}",
            signed_installed(kid=kid),
            401,
            token_error("invalid key id"),
            key_fetches=[],
        )
        for name, kid in [
            ("traversal", "../x"),
            ("slash", "a/b"),
            ("query", "a?b"),
            ("fragment", "a#b"),
            ("too-long", "k" * 101),
        ]
    ],
    Case(
        "installed-unknown-kid",
        signed_installed(kid="unknown-key"),
        401,
        token_error("install key not found"),
        key_fetches=["unknown-key"],
    ),
    Case(
        "installed-key-server-error",
        signed_installed(kid="server-error"),
        401,
        token_error("install key server returned HTTP 500"),
        key_fetches=["server-error"],
    ),
    Case(
        "installed-key-not-pem",
        signed_installed(kid="not-a-pem"),
        401,
        token_error("install key is not a PEM public key"),
        key_fetches=["not-a-pem"],
    ),
    Case(
        "installed-key-timeout",
        signed_installed(kid="slow"),
        401,
        token_error("install key request timed out"),
        key_fetches=["slow"],
    ),
    Case(
        "installed-other-private-key",
        installed(lambda w: w.rs256(w.a, "installed", key=w.other_key)),
        401,
        token_error("invalid signature"),
    ),
    Case(
        "installed-missing-aud", signed_installed(aud=None), 401, token_error("missing aud claim")
    ),
    Case(
        "installed-wrong-aud",
        signed_installed(aud="https://evil.example.test"),
        401,
        token_error("audience mismatch"),
    ),
    Case(
        "installed-crossed-client-key",
        installed(lambda w: w.rs256(w.b, "installed")),
        401,
        token_error("issuer does not match the client key"),
    ),
    Case(
        "installed-expired",
        installed(lambda w: w.rs256(w.a, "installed", iat=w.now() - 600, exp=w.now() - 300)),
        401,
        token_error("token expired"),
    ),
    Case(
        "installed-qsh-of-other-route",
        installed(lambda w: w.rs256(w.a, "uninstalled")),
        401,
        token_error("query string hash mismatch"),
    ),
    Case(
        "installed-context-qsh",
        signed_installed(qsh="context-qsh"),
        401,
        token_error("context tokens are not accepted on this route"),
    ),
    Case(
        "installed-missing-qsh", signed_installed(qsh=None), 401, token_error("missing qsh claim")
    ),
    # Lifecycle payloads: a valid token does not make a broken body acceptable.
    Case(
        "installed-body-not-json",
        lambda w: w.event("installed", w.rs256(w.a, "installed"), content=b"{clientKey:"),
        400,
        NOT_JSON,
        logged_as=lambda w: None,
    ),
    Case(
        "installed-body-not-utf8",
        lambda w: w.event("installed", w.rs256(w.a, "installed"), content=b'{"a": "\xff"}'),
        400,
        NOT_JSON,
        logged_as=lambda w: None,
    ),
    Case(
        "installed-body-deeply-nested",
        lambda w: w.event("installed", w.rs256(w.a, "installed"), content=nested(20_000)),
        400,
        NOT_JSON,
        logged_as=lambda w: None,
    ),
    Case(
        "installed-body-array",
        lambda w: w.event("installed", w.rs256(w.a, "installed"), content=b"[]"),
        400,
        "The lifecycle payload is not a JSON object.",
        logged_as=lambda w: None,
    ),
    Case(
        "installed-body-too-large",
        lambda w: w.event("installed", w.rs256(w.a, "installed"), content=b" " * 1_000_000),
        413,
        "The request body is larger than 65536 bytes.",
        logged_as=lambda w: None,
    ),
    Case(
        "installed-client-key-number",
        installed(lambda w: w.rs256(w.a, "installed"), clientKey=12345),
        400,
        "The lifecycle payload lacks the clientKey field, or it is not a non-empty string.",
        logged_as=lambda w: None,
    ),
    Case(
        "installed-client-key-nul",
        installed(lambda w: w.rs256(w.a, "installed"), clientKey="jira:\x00"),
        400,
        "The lifecycle payload's clientKey contains control or non-printable characters.",
        logged_as=lambda w: "jira:\x00",
    ),
    Case(
        "installed-client-key-forge",
        installed(lambda w: w.rs256(w.a, "installed"), clientKey="forge:1234"),
        400,
        "The clientKey must not start with 'forge:', which propledger reserves for Forge "
        "installations.",
        logged_as=lambda w: "forge:1234",
    ),
    Case(
        "installed-base-url-script",
        installed(lambda w: w.rs256(w.a, "installed"), baseUrl="javascript:alert(1)"),
        400,
        "The lifecycle payload's baseUrl is not an http(s) URL with a host name and no "
        "query string.",
    ),
    Case(
        "installed-secret-missing",
        installed(lambda w: w.rs256(w.a, "installed"), sharedSecret=None),
        400,
        "The lifecycle payload lacks the sharedSecret field, or it is not a non-empty string.",
    ),
    Case(
        "installed-other-app",
        installed(lambda w: w.rs256(w.a, "installed"), key="com.other.app"),
        400,
        "The lifecycle payload is for another app, not 'com.example.app'. "
        "Check the app key in the descriptor.",
    ),
    Case(
        "installed-event-type-crossed",
        installed(lambda w: w.rs256(w.a, "installed"), eventType="uninstalled"),
        400,
        "The lifecycle payload's eventType does not match the installed route.",
    ),
    Case(
        "uninstalled-hs256",
        lambda w: w.event("uninstalled", w.shared(w.a, "uninstalled")),
        401,
        token_error("unsupported algorithm"),
    ),
    Case(
        "uninstalled-no-token",
        lambda w: w.event("uninstalled", None),
        401,
        MISSING,
        logged_as=lambda w: None,
    ),
    # Lifecycle: enabled and disabled need an HS256 token signed with the shared secret.
    Case(
        "enabled-rs256",
        lambda w: w.event("enabled", w.rs256(w.a, "enabled")),
        401,
        token_error("unsupported algorithm"),
    ),
    Case(
        "enabled-wrong-secret",
        lambda w: w.event("enabled", w.shared(w.a, "enabled", secret="x" * 48)),
        401,
        token_error("invalid signature"),
    ),
    Case(
        "enabled-unknown-issuer",
        lambda w: w.event("enabled", w.shared(w.a, "enabled", iss="jira:nobody")),
        401,
        token_error("unknown issuer"),
        logged_as=lambda w: "jira:nobody",
    ),
    Case(
        "enabled-context-qsh",
        lambda w: w.event("enabled", w.shared(w.a, "enabled", qsh="context-qsh")),
        401,
        token_error("context tokens are not accepted on this route"),
    ),
    Case(
        "disabled-expired",
        lambda w: w.event(
            "disabled", w.shared(w.a, "disabled", iat=w.now() - 600, exp=w.now() - 300)
        ),
        401,
        token_error("token expired"),
    ),
    Case(
        "disabled-crossed-installation",
        lambda w: w.event("disabled", w.shared(w.b, "disabled"), site=w.a),
        401,
        token_error("token issuer does not match the payload's clientKey"),
        logged_as=lambda w: w.b.client_key,
    ),
    # App routes: HS256 context tokens of a stored, active installation's admin.
    Case("api-no-token", inventory(lambda w: None), 401, MISSING, logged_as=lambda w: None),
    Case(
        "api-bearer-scheme",
        lambda w: w.client.get(
            "/api/inventory", headers={"Authorization": f"Bearer {w.hs256(w.a)}"}
        ),
        401,
        MISSING,
        logged_as=lambda w: None,
    ),
    Case(
        "api-malformed",
        inventory(lambda w: "abc.def"),
        401,
        token_error("malformed token"),
        logged_as=lambda w: None,
    ),
    Case(
        "api-non-ascii",
        lambda w: w.client.get("/api/inventory", params={"jwt": "ü.ü.ü"}),
        401,
        token_error("malformed token"),
        logged_as=lambda w: None,
    ),
    Case(
        "api-expired",
        inventory(lambda w: w.hs256(w.a, iat=w.now() - 900, exp=w.now() - 600)),
        401,
        token_error("token expired"),
    ),
    Case(
        "api-not-yet-valid",
        inventory(lambda w: w.hs256(w.a, nbf=w.now() + 600)),
        401,
        token_error("token not yet valid"),
    ),
    Case(
        "api-issued-in-future",
        inventory(lambda w: w.hs256(w.a, iat=w.now() + 600)),
        401,
        token_error("token issued in the future"),
    ),
    Case(
        "api-unknown-issuer",
        inventory(lambda w: w.hs256(w.a, iss="jira:nobody")),
        401,
        token_error("unknown issuer"),
        logged_as=lambda w: "jira:nobody",
    ),
    Case(
        "api-wrong-signature",
        inventory(lambda w: w.hs256(w.a, secret="s" * 48)),
        401,
        token_error("invalid signature"),
    ),
    Case(
        "api-alg-none",
        inventory(lambda w: assemble({"alg": "none", "typ": "JWT"}, w.claims(w.a), None)),
        401,
        token_error("unsupported algorithm"),
    ),
    Case(
        "api-rs256",
        inventory(
            lambda w: jwt.encode(w.claims(w.a), w.fake.signing_key.private_key, algorithm="RS256")
        ),
        401,
        token_error("unsupported algorithm"),
    ),
    Case(
        "api-hs512",
        inventory(lambda w: jwt.encode(w.claims(w.a), w.a.shared_secret, algorithm="HS512")),
        401,
        token_error("unsupported algorithm"),
    ),
    Case(
        "api-missing-qsh",
        inventory(lambda w: w.hs256(w.a, qsh=None)),
        401,
        token_error("missing qsh claim"),
    ),
    Case(
        "api-wrong-qsh",
        inventory(lambda w: w.hs256(w.a, qsh="0" * 64)),
        401,
        token_error("query string hash mismatch"),
    ),
    Case(
        "api-issuer-not-string",
        inventory(
            lambda w: assemble(
                {"alg": "HS256", "typ": "JWT"},
                w.claims(w.a, iss=12345),
                w.a.shared_secret.encode(),
            )
        ),
        401,
        token_error("invalid iss claim"),
        logged_as=lambda w: None,
    ),
    Case(
        "api-expiry-not-number",
        inventory(lambda w: w.hs256(w.a, exp="tomorrow")),
        401,
        token_error("invalid exp claim"),
    ),
    Case(
        "api-subject-not-string",
        inventory(lambda w: w.hs256(w.a, sub=5)),
        401,
        token_error("invalid sub claim"),
    ),
    Case(
        "api-issuer-nul",
        inventory(lambda w: w.hs256(w.a, iss="jira:\x00")),
        401,
        token_error("unknown issuer"),
        logged_as=lambda w: "jira:\x00",
    ),
    Case(
        "api-forge-issuer",
        inventory(lambda w: w.hs256(w.a, iss="forge:1234")),
        401,
        token_error("unknown issuer"),
        logged_as=lambda w: "forge:1234",
    ),
    Case(
        "api-uninstalled-installation",
        inventory(lambda w: w.hs256(w.uninstalled)),
        401,
        token_error("unknown issuer"),
        logged_as=lambda w: w.uninstalled.client_key,
    ),
    Case(
        "api-superseded-installation",
        inventory(lambda w: w.hs256(w.superseded)),
        401,
        token_error("unknown issuer"),
        logged_as=lambda w: w.superseded.client_key,
    ),
    Case("api-member-not-admin", inventory(lambda w: w.hs256(w.a, sub=w.member_a)), 403, NOT_ADMIN),
    Case(
        "api-admin-of-other-site",
        inventory(lambda w: w.hs256(w.a, sub=w.admin_b)),
        403,
        NOT_ADMIN,
    ),
    Case(
        "api-removal-of-other-installation",
        lambda w: w.api("GET", f"/api/removals/{w.job_b}", w.hs256(w.a)),
        404,
        job_not_found(lambda w: w.job_b),
    ),
    Case(
        "api-receipt-of-other-installation",
        lambda w: w.api("GET", f"/api/removals/{w.job_b}/receipt", w.hs256(w.a)),
        404,
        job_not_found(lambda w: w.job_b),
    ),
    Case(
        "api-context-token-on-computed-qsh-route",
        lambda w: w.event("enabled", w.hs256(w.a, sub=None)),
        401,
        token_error("context tokens are not accepted on this route"),
    ),
]


def test_table_size():
    names = [case.name for case in CASES]

    assert len(CASES) >= 30
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_rejected(world: World, ledger, caplog, case: Case):
    before = await snapshot(world, ledger)
    caplog.set_level(logging.DEBUG)

    response = await case.send(world)

    after = await snapshot(world, ledger)
    expected_error = case.error(world) if callable(case.error) else case.error
    assert response.status_code == case.status, response.text
    assert response.json() == {"error": expected_error}
    assert after == before
    if case.key_fetches is not None:
        assert world.keys.fetched == case.key_fetches
    rejections = [
        record.getMessage()
        for record in caplog.records
        if record.name == "propledger.web" and record.levelno == logging.WARNING
    ]
    claimed = case.logged_as(world)
    request = response.request
    named = "(unknown)" if claimed is None else repr(claimed)
    assert rejections == [
        f"{request.method} {request.url.path} from client key {named} returned "
        f"{case.status}: {expected_error}"
    ]
    token = _sent_token(request)
    if token:
        assert all(token not in record.getMessage() for record in caplog.records)


def _sent_token(request: httpx.Request) -> str | None:
    _scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if credentials:
        return credentials

    return request.url.params.get("jwt")
