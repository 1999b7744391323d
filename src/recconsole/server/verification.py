"""Is this webhook LiveKit's? Verifying the signature, then reading the event.

LiveKit signs each webhook with a JWT (HS256) of the API key whose ``sha256`` claim is
the body's hash. Nothing is read from a body before :class:`WebhookVerifier` accepts
it. The route then takes a first look at the body (:func:`peek_event`: the few fields
it answers and logs by, with the standard library's JSON reader); the full protobuf
event is read only when an effect is applied (:func:`parse_event`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Final

from google.protobuf.json_format import Parse, ParseError
from livekit import api
from livekit.protocol.webhook import WebhookEvent

LEEWAY: Final = 60.0  # s of clock skew allowed on exp, nbf and iat, as livekit-api's
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]*")


class Unauthorized(Exception):
    """The webhook is not signed with our API key and secret."""


class WebhookVerifier:
    """Checks LiveKit's signature: a JWT from our key whose ``sha256`` claim is the body's.

    The checks of livekit-api's WebhookReceiver (PyJWT's HS256 decode with the key as
    issuer, ``exp`` required, a minute of leeway; then the body hash), done on the raw
    bytes so that a signed body which is not even UTF-8 is told apart (400) from an
    unsigned one (401). Written out rather than through PyJWT, whose generality cost
    half of what the bare HTTP answer costs; it refuses whatever PyJWT refuses (a test
    compares them token by token) and is stricter where PyJWT is lenient (padding, a
    ``crit`` header).
    """

    def __init__(self, api_key: str, api_secret: str) -> None:
        self._key = api_key
        self._secret = api_secret.encode()

    def verify(self, body: bytes, authorization: str) -> None:
        if not authorization:
            raise Unauthorized("no Authorization header")
        if not self._key or not self._secret:
            raise Unauthorized("no API key and secret to check it with")
        claims = self._claims(authorization.removeprefix("Bearer ").strip())
        digest = claims.get("sha256")
        if not digest:
            raise Unauthorized("token without a body hash")
        try:
            expected = base64.b64decode(digest, validate=True)
        except (ValueError, TypeError):
            raise Unauthorized("unreadable body hash") from None
        if not hmac.compare_digest(hashlib.sha256(body).digest(), expected):
            raise Unauthorized("body does not match its signature")

    def _claims(self, token: str) -> dict[str, Any]:
        """The claims of a token signed with our secret, issued by our key, in date."""
        parts = token.split(".")
        if len(parts) != 3 or not token.isascii():
            raise Unauthorized("bad token (not a JWT)")
        header, payload, signature = parts
        signed = hmac.digest(self._secret, f"{header}.{payload}".encode(), "sha256")
        if not hmac.compare_digest(_segment(signature), signed):
            raise Unauthorized("bad token (signature)")
        head, claims = _json_object(_segment(header)), _json_object(_segment(payload))
        if head.get("alg") != "HS256" or "crit" in head or "b64" in head:
            raise Unauthorized("bad token (algorithm)")
        now = time.time()
        if claims.get("exp") is None:
            raise Unauthorized("bad token (no expiry)")
        if _seconds(claims["exp"]) <= now - LEEWAY:
            raise Unauthorized("bad token (expired)")
        for claim in ("nbf", "iat"):
            if claim in claims and _seconds(claims[claim]) > now + LEEWAY:
                raise Unauthorized(f"bad token (not yet valid: {claim})")
        if claims.get("iss") != self._key or not isinstance(claims["iss"], str):
            raise Unauthorized("bad token (issuer)")
        if claims.get("aud"):
            raise Unauthorized("bad token (audience)")
        if any(c in claims and not isinstance(claims[c], str) for c in ("sub", "jti")):
            raise Unauthorized("bad token (subject)")
        return claims


def _segment(text: str) -> bytes:
    """A base64url segment without padding, in its one canonical spelling."""
    if len(text) % 4 == 1 or not _BASE64URL.fullmatch(text):
        raise Unauthorized("bad token (encoding)")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise Unauthorized("bad token (encoding)") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != text.encode():
        raise Unauthorized("bad token (encoding)")
    return raw


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise Unauthorized("bad token (not JSON)") from None
    if not isinstance(value, dict):
        raise Unauthorized("bad token (not a JSON object)")
    return value


def _seconds(value: object) -> int:
    """A date claim as PyJWT reads it."""
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (ValueError, TypeError, OverflowError):
        raise Unauthorized("bad token (date)") from None


@dataclass(frozen=True, slots=True)
class Peek:
    """What the route needs of an event to answer, log and queue it."""

    event: str
    id: str
    room: str
    egress_id: str
    egress_status: str  # its name, "EGRESS_COMPLETE"; "" when none
    participant: str
    room_metadata: str


def peek_event(body: bytes) -> Peek:
    """A first look at a verified body; ValueError when it is not an event.

    Protobuf's JSON names (``egressInfo``) and its field names (``egress_info``) are
    both read, as :func:`parse_event` reads them.
    """
    try:
        value = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise ValueError(f"malformed webhook: {str(err)[:200]}") from None
    if not isinstance(value, dict):
        raise ValueError("malformed webhook: not a JSON object")
    room, egress = _message(value, "room", "room"), _message(value, "egressInfo", "egress_info")
    ingress = _message(value, "ingressInfo", "ingress_info")
    participant = _message(value, "participant", "participant")
    status = _field(egress, "status", "status", (str, int)) or ""
    if isinstance(status, int):
        status = api.EgressStatus.Name(status) if status in api.EgressStatus.values() else ""
    return Peek(
        event=_text(value, "event", "event"),
        id=_text(value, "id", "id"),
        room=(_text(room, "name", "name") or _text(egress, "roomName", "room_name")
              or _text(ingress, "roomName", "room_name")),
        egress_id=_text(egress, "egressId", "egress_id"),
        egress_status=status,
        participant=_text(participant, "identity", "identity"),
        room_metadata=_text(room, "metadata", "metadata"),
    )


def _field(message: dict[str, Any], name: str, proto_name: str,
           kind: type | tuple[type, ...]) -> Any:
    value = message.get(name, message.get(proto_name))
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ValueError(f"malformed webhook: {name} is not a {kind}")
    return value


def _message(message: dict[str, Any], name: str, proto_name: str) -> dict[str, Any]:
    value = _field(message, name, proto_name, dict)
    return value if value is not None else {}


def _text(message: dict[str, Any], name: str, proto_name: str) -> str:
    value = _field(message, name, proto_name, str)
    return value if value is not None else ""


def parse_event(body: bytes) -> WebhookEvent:
    """The event of a verified body; ValueError when it is not one."""
    try:
        return Parse(body.decode("utf-8"), WebhookEvent(), ignore_unknown_fields=True)
    except (ParseError, UnicodeDecodeError, RecursionError) as err:
        raise ValueError(f"malformed webhook: {str(err)[:200]}") from None


def room_of(event: WebhookEvent) -> str:
    return event.room.name or event.egress_info.room_name or event.ingress_info.room_name


def event_key(event_id: str, body: bytes) -> str:
    """The event's id, or the body's hash when a sender gives none."""
    return event_id or "sha256:" + hashlib.sha256(body).hexdigest()
