"""How LiveKit signs webhooks, as the listener will rely on it."""

from __future__ import annotations

import base64
import hashlib

import pytest
from livekit import api

pytestmark = pytest.mark.unit


def _signed(body: str, key: str = "devkey", secret: str = "secret") -> str:
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    return api.AccessToken(key, secret).with_sha256(digest).to_jwt()


def test_receiver_accepts_a_signed_body_and_rejects_a_tampered_one() -> None:
    body = '{"event":"room_started","room":{"name":"r"}}'
    receiver = api.WebhookReceiver(api.TokenVerifier("devkey", "secret"))
    token = _signed(body)
    assert receiver.receive(body, token).room.name == "r"
    with pytest.raises(Exception, match="hash mismatch"):
        receiver.receive(body.replace('"r"', '"x"'), token)


def test_receiver_rejects_a_body_signed_with_another_secret() -> None:
    body = '{"event":"room_started","room":{"name":"r"}}'
    receiver = api.WebhookReceiver(api.TokenVerifier("devkey", "secret"))
    with pytest.raises(Exception, match=r"[Ss]ignature"):
        receiver.receive(body, _signed(body, secret="another-secret-another-secret-xx"))
