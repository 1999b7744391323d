"""The listener's own verifier: LiveKit's signature (a JWT of our key whose ``sha256``
claim is the body's hash) is checked on the raw bytes before anything is read."""

from __future__ import annotations

import hashlib
import time

import jwt
import pytest

from recconsole.server.verification import (
    Unauthorized,
    WebhookVerifier,
    event_key,
    parse_event,
    room_of,
)
from tests.helpers.webhooks import sign

pytestmark = pytest.mark.unit

BODY = b'{"event":"room_started","room":{"name":"r"},"id":"EV_1"}'
verifier = WebhookVerifier("devkey", "secret")


def test_a_body_signed_with_our_key_is_accepted_and_read() -> None:
    verifier.verify(BODY, sign(BODY))
    verifier.verify(BODY, "Bearer " + sign(BODY))  # as some proxies forward it
    event = parse_event(BODY)
    assert (event.event, room_of(event), event_key(event, BODY)) == ("room_started", "r", "EV_1")


@pytest.mark.parametrize(
    ("authorization", "why"),
    [("", "no Authorization header"),
     (sign(BODY + b" "), "body does not match its signature"),
     (sign(BODY, secret="another-secret-another-secret-xx"), "bad token"),
     (sign(BODY, key="notourkey"), "bad token"),
     ("not.a.jwt", "bad token")],
)
def test_anything_but_our_signature_of_these_bytes_is_refused(authorization: str,
                                                              why: str) -> None:
    with pytest.raises(Unauthorized, match=why):
        verifier.verify(BODY, authorization)


def test_a_token_of_our_key_without_a_body_hash_is_refused() -> None:
    token = jwt.encode({"iss": "devkey", "exp": int(time.time()) + 60, "nbf": 0,
                        "sub": "x", "video": {}}, "secret", algorithm="HS256")
    with pytest.raises(Unauthorized, match="token without a body hash"):
        verifier.verify(BODY, token)


def test_a_signed_body_that_is_not_utf8_is_told_apart_from_an_unsigned_one() -> None:
    raw = b"\xff\xfe not text"
    verifier.verify(raw, sign(raw))  # the signature is right...
    with pytest.raises(ValueError, match="malformed webhook"):
        parse_event(raw)  # ...the content is not: 400, not 401


def test_an_event_without_an_id_is_keyed_by_its_body() -> None:
    body = b'{"event":"room_finished","room":{"name":"r"}}'
    digest = hashlib.sha256(body).hexdigest()
    assert event_key(parse_event(body), body) == f"sha256:{digest}"
