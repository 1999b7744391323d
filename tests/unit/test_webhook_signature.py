"""The listener's own verifier: LiveKit's signature (a JWT of our key whose ``sha256``
claim is the body's hash) is checked on the raw bytes before anything is read.

It is written out rather than done through PyJWT, so it is compared, token by token,
with livekit-api's WebhookReceiver (PyJWT underneath): whatever that refuses, ours
refuses; what LiveKit signs, both accept. The route's first look at a body
(:func:`peek_event`) is compared with the protobuf event the effects read."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from google.protobuf.json_format import MessageToJson
from hypothesis import given, settings
from hypothesis import strategies as st
from livekit import api
from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.webhook import WebhookEvent

from recconsole.server.verification import (
    Unauthorized,
    WebhookVerifier,
    event_key,
    parse_event,
    peek_event,
    room_of,
)
from tests.helpers.webhooks import sign

pytestmark = pytest.mark.unit

BODY = b'{"event":"room_started","room":{"name":"r"},"id":"EV_1"}'
verifier = WebhookVerifier("devkey", "secret")


def test_a_body_signed_with_our_key_is_accepted_and_read() -> None:
    verifier.verify(BODY, sign(BODY))
    verifier.verify(BODY, "Bearer " + sign(BODY))  # as some proxies forward it
    event = peek_event(BODY)
    assert (event.event, event.room, event_key(event.id, BODY)) == ("room_started", "r", "EV_1")


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
        peek_event(raw)  # ...the content is not: 400, not 401
    with pytest.raises(ValueError, match="malformed webhook"):
        parse_event(raw)


def test_an_event_without_an_id_is_keyed_by_its_body() -> None:
    body = b'{"event":"room_finished","room":{"name":"r"}}'
    digest = hashlib.sha256(body).hexdigest()
    assert event_key(peek_event(body).id, body) == f"sha256:{digest}"


def test_without_a_key_and_secret_nothing_is_accepted() -> None:
    digest = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    for key, secret in (("", "secret"), ("devkey", ""), ("", "")):
        token = _jwt({"alg": "HS256"}, {"iss": key, "exp": NOW + 600, "sha256": digest}, secret)
        with pytest.raises(Unauthorized, match="no API key and secret"):
            WebhookVerifier(key, secret).verify(BODY, token)


# Tokens of every shape the claims can take, signed with our secret or another.
NOW = int(time.time())
dates = st.one_of(
    st.none(), st.sampled_from([NOW - 3600, NOW - 30, NOW + 30, NOW + 3600, 2**70]),
    st.sampled_from([float(NOW + 600), float(NOW - 600), True, "soon", "", [1], {}]),
)
texts = st.one_of(st.none(), st.sampled_from(["devkey", "other", "", "x"]),
                  st.sampled_from([5, [], ["devkey"], {"a": 1}]))
MISSING = object()


def _maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.just(MISSING), strategy)


@st.composite
def tokens(draw: st.DrawFn, body: bytes) -> str:
    """Mostly the claims LiveKit signs, each one now and then something else."""
    def pick(good: object, other: st.SearchStrategy) -> object:
        return good if draw(st.integers(0, 9)) < 8 else draw(_maybe(other))

    good_hash = base64.b64encode(hashlib.sha256(body).digest()).decode()
    claims = {"exp": pick(NOW + 600, dates), "nbf": pick(NOW - 5, dates),
              "iat": pick(MISSING, dates), "iss": pick("devkey", texts),
              "aud": pick(MISSING, texts), "sub": pick("x", texts),
              "jti": pick(MISSING, texts),
              "sha256": pick(good_hash, st.sampled_from(["", "AAAA", good_hash[:-4], 7]))}
    claims = {k: v for k, v in claims.items() if v is not MISSING}
    header = {"alg": pick("HS256", st.sampled_from(["HS512", "none", "hs256", ""])),
              "typ": "JWT"}
    header = {k: v for k, v in header.items() if v is not MISSING}
    if draw(st.integers(0, 9)) == 0:
        header["crit"] = ["exp"]
    secret = pick("secret", st.sampled_from(["Secret", "secret "]))
    return _jwt(header, claims, secret if secret is not MISSING else "")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt(header: dict, claims: dict, secret: str) -> str:
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    digest = hmac.new(secret.encode(), signing.encode(), "sha256").digest()
    return f"{signing}.{_b64(digest)}"


def _reference_accepts(body: bytes, authorization: str) -> bool:
    token = authorization.removeprefix("Bearer ").strip()  # as the header is read
    try:
        api.WebhookReceiver(api.TokenVerifier("devkey", "secret")).receive(body.decode(), token)
    except Exception:  # noqa: BLE001 - PyJWT and livekit-api raise many kinds
        return False
    return True


def _ours_accepts(body: bytes, token: str) -> bool:
    try:
        verifier.verify(body, token)
    except Unauthorized:
        return False
    return True


@settings(max_examples=600, deadline=None)
@given(data=st.data())
def test_ours_accepts_exactly_the_tokens_livekit_api_accepts(data: st.DataObject) -> None:
    token = data.draw(tokens(BODY))
    assert _ours_accepts(BODY, token) == _reference_accepts(BODY, token), token


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_token_spoiled_anywhere_is_refused(data: st.DataObject) -> None:
    """Any change to the characters of a valid token: ours never accepts what the
    reference refuses (it may refuse more: padding, junk that base64 would skip)."""
    token = sign(BODY)
    at = data.draw(st.integers(0, len(token)))
    cut = data.draw(st.integers(0, 3))
    spoiled = token[:at] + data.draw(st.text(max_size=4)) + token[at + cut:]
    if _ours_accepts(BODY, spoiled):
        assert _reference_accepts(BODY, spoiled), spoiled


@settings(max_examples=200, deadline=None)
@given(room=st.text(), egress=st.text(), identity=st.text(), metadata=st.text(),
       kind=st.sampled_from(["egress_ended", "egress_updated", "participant_joined",
                             "room_finished", ""]),
       status=st.sampled_from(list(api.EgressStatus.values())),
       names=st.booleans())
def test_the_first_look_reads_what_the_protobuf_event_holds(
    room: str, egress: str, identity: str, metadata: str, kind: str, status: int,
    names: bool,
) -> None:
    event = WebhookEvent(event=kind, id="EV_x", room=Room(name=room, metadata=metadata),
                         egress_info=api.EgressInfo(egress_id=egress, room_name=room,
                                                    status=status),
                         participant=ParticipantInfo(identity=identity))
    body = MessageToJson(event, preserving_proto_field_name=names).encode()
    seen, full = peek_event(body), parse_event(body)
    assert (seen.event, seen.id, seen.room, seen.egress_id, seen.participant,
            seen.room_metadata) == (full.event, full.id, room_of(full),
                                    full.egress_info.egress_id, full.participant.identity,
                                    full.room.metadata)
    assert seen.egress_status == (api.EgressStatus.Name(status) if status else "")


@pytest.mark.parametrize("body", [b'[1]', b'{"event": 5}', b'{"room": 5}',
                                  b'{"egressInfo": {"egressId": []}}', b'{"room": {"name": 1}}'])
def test_a_body_that_is_not_an_event_is_told_so(body: bytes) -> None:
    with pytest.raises(ValueError, match="malformed webhook"):
        peek_event(body)
    with pytest.raises(ValueError, match="malformed webhook"):
        parse_event(body)
