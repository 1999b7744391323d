"""Is this webhook LiveKit's? Verifying the signature, then reading the event.

LiveKit signs each webhook with a JWT of the API key whose ``sha256`` claim is the
body's hash. Nothing is read from a body before :class:`WebhookVerifier` accepts it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from google.protobuf.json_format import Parse, ParseError
from livekit import api
from livekit.protocol.webhook import WebhookEvent


class Unauthorized(Exception):
    """The webhook is not signed with our API key and secret."""


class WebhookVerifier:
    """Checks LiveKit's signature: a JWT from our key whose ``sha256`` claim is the body's.

    The same two checks as livekit-api's WebhookReceiver (its TokenVerifier, then
    the body hash), done on the raw bytes so that a signed body which is not even
    UTF-8 is told apart (400) from an unsigned one (401).
    """

    def __init__(self, api_key: str, api_secret: str) -> None:
        self._tokens = api.TokenVerifier(api_key, api_secret)

    def verify(self, body: bytes, authorization: str) -> None:
        if not authorization:
            raise Unauthorized("no Authorization header")
        try:
            claims = self._tokens.verify(authorization.removeprefix("Bearer ").strip())
        except Exception as err:  # noqa: BLE001 - PyJWT and livekit-api raise many kinds
            raise Unauthorized(f"bad token ({type(err).__name__})") from None
        if not claims.sha256:
            raise Unauthorized("token without a body hash")
        try:
            expected = base64.b64decode(claims.sha256, validate=True)
        except ValueError:
            raise Unauthorized("unreadable body hash") from None
        if not hmac.compare_digest(hashlib.sha256(body).digest(), expected):
            raise Unauthorized("body does not match its signature")


def parse_event(body: bytes) -> WebhookEvent:
    """The event of a verified body; ValueError when it is not one."""
    try:
        return Parse(body.decode("utf-8"), WebhookEvent(), ignore_unknown_fields=True)
    except (ParseError, UnicodeDecodeError, RecursionError) as err:
        raise ValueError(f"malformed webhook: {str(err)[:200]}") from None


def room_of(event: WebhookEvent) -> str:
    return event.room.name or event.egress_info.room_name or event.ingress_info.room_name


def event_key(event: WebhookEvent, body: bytes) -> str:
    """The event's id, or the body's hash when a sender gives none."""
    return event.id or "sha256:" + hashlib.sha256(body).hexdigest()
