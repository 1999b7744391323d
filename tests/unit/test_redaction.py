"""Secrets stay out of logs."""

from __future__ import annotations

import logging
import os

import pytest

from recconsole.core.redaction import RedactingFilter, redact
from recconsole.core.tokens import mint_token
from recconsole.server.playback_access import PlaybackAccess

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


ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"


def test_the_access_key_in_a_sigv4_authorization_header_is_masked() -> None:
    # What botocore logs at debug level for every request it sends.
    line = ("Sending http request: <AWSPreparedRequest stream_output=False, method=HEAD, "
            "url=http://127.0.0.1:9000/openvidu/recordings/a.mp4, headers={'X-Amz-Date': "
            "b'20260101T000000Z', 'Authorization': b'AWS4-HMAC-SHA256 Credential="
            f"{ACCESS_KEY}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date,"
            " Signature=0123456789abcdef'}>")
    masked = redact(line)
    assert ACCESS_KEY not in masked
    assert "20260101/us-east-1" not in masked  # the scope goes with the key
    assert "0123456789abcdef" not in masked
    assert ("'Authorization': b'AWS4-HMAC-SHA256 Credential=<redacted>, "
            "SignedHeaders=host;x-amz-date, Signature=<redacted>'}>") in masked
    assert masked.startswith("Sending http request: <AWSPreparedRequest stream_output=False,"
                             " method=HEAD, url=http://127.0.0.1:9000/openvidu/recordings/a.mp4,")
    assert redact(f"Credential={ACCESS_KEY}/20260101/x/s3/aws4_request") == "Credential=<redacted>"


def test_session_tokens_in_header_dumps_are_masked() -> None:
    token = "FwoGZXIvYXdzEJr//////////wEaDK+token/with=padding=="
    for line, kept in [
        (f"headers={{'X-Amz-Security-Token': b'{token}', 'Host': b'x'}}",
         "headers={'X-Amz-Security-Token': b'<redacted>', 'Host': b'x'}"),
        (f"headers={{'X-Amz-Security-Token': '{token}', 'Host': 'x'}}",
         "headers={'X-Amz-Security-Token': '<redacted>', 'Host': 'x'}"),
        (f'{{"x-amz-security-token": "{token}"}}', '{"x-amz-security-token": "<redacted>"}'),
        # botocore's canonical request, one header a line
        (f"host:127.0.0.1\nx-amz-security-token:{token}\nx-amz-date:20260101T000000Z",
         "host:127.0.0.1\nx-amz-security-token:<redacted>\nx-amz-date:20260101T000000Z"),
        (f"https://s3/b/a.mp4?X-Amz-Security-Token={token}&X-Amz-Expires=60",
         "https://s3/b/a.mp4?X-Amz-Security-Token=<redacted>&X-Amz-Expires=60"),
    ]:
        assert redact(line) == kept


def test_signed_playback_links_lose_their_signature() -> None:
    access = PlaybackAccess("secret", required=True)
    link = access.link("a/b #1-RM_x-2026-01-01T000000.mp4", 3600)
    sig = link.rsplit("sig=", 1)[1]
    masked = redact(f"GET http://127.0.0.1:6080{link} 200")
    assert sig not in masked
    assert masked.endswith("&sig=<redacted> 200")
    assert "/recordings/a%2Fb%20%231-RM_x-2026-01-01T000000.mp4?expires=" in masked


def test_the_access_key_in_an_s3_error_document_is_masked() -> None:
    xml = (f"<Error><Code>InvalidAccessKeyId</Code><AWSAccessKeyId>{ACCESS_KEY}"
           "</AWSAccessKeyId><RequestId>1</RequestId></Error>")
    assert redact(xml) == ("<Error><Code>InvalidAccessKeyId</Code><AWSAccessKeyId><redacted>"
                           "</AWSAccessKeyId><RequestId>1</RequestId></Error>")


def test_words_that_only_look_like_secrets_are_left_alone() -> None:
    for line in ("Credentials rejected by the storage at http://127.0.0.1:9000",
                 "recording of room 'sig' saved", "credential: none given"):
        assert redact(line) == line


def test_tracebacks_are_masked_too(caplog: pytest.LogCaptureFixture) -> None:
    token = mint_token("devkey", "secret", "room", "alice")
    signature = os.urandom(8).hex()
    caplog.handler.addFilter(RedactingFilter())
    logger = logging.getLogger("recconsole.test")
    try:
        raise RuntimeError(f"GET https://s3/b/a.mp4?X-Amz-Signature={signature} with {token}")
    except RuntimeError:
        logger.exception("request failed")
    assert "request failed\nTraceback (most recent call last):" in caplog.text
    assert ("RuntimeError: GET https://s3/b/a.mp4?X-Amz-Signature=<redacted> with <token>"
            in caplog.text)
    assert signature not in caplog.text
    assert token not in caplog.text
