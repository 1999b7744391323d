"""Secrets stay out of logs."""

from __future__ import annotations

import logging

import pytest

from recconsole.core.redaction import RedactingFilter, redact
from recconsole.core.tokens import mint_token

pytestmark = pytest.mark.unit


def test_tokens_and_url_signatures_are_masked() -> None:
    token = mint_token("devkey", "secret", "room", "alice")
    line = f"401 Unauthorized - invalid token: {token} (retrying)"
    assert redact(line) == "401 Unauthorized - invalid token: <token> (retrying)"
    url = ("http://127.0.0.1:9000/openvidu/recordings/a.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=minioadmin%2F20261122&X-Amz-Signature=abcdef0123")
    masked = redact(url)
    assert "abcdef0123" not in masked
    assert "minioadmin" not in masked
    assert masked.startswith("http://127.0.0.1:9000/openvidu/recordings/a.mp4?")
    sas = "https://acct.blob.core.windows.net/c/a.mp4?sv=2024&se=2026&sp=r&sig=SeCrEt%3D"
    assert "SeCrEt" not in redact(sas)


def test_the_log_filter_masks_the_final_message(caplog: pytest.LogCaptureFixture) -> None:
    token = mint_token("devkey", "secret", "room", "alice")
    logger = logging.getLogger("livekit.test")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO):
        logger.info("rejected %s", token)
    assert token not in caplog.text
    assert "rejected <token>" in caplog.text
