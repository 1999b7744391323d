"""Keeping secrets out of logs and messages: tokens, signatures, keys.

The LiveKit SDK logs a rejected token in full, and URLs of recordings carry
signatures; :class:`RedactingFilter` masks them in every log record.
"""

from __future__ import annotations

import logging
import re
from typing import Final

_PATTERNS: Final = (
    # JWTs (access tokens, webhook signatures)
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "<token>"),
    # presigned S3 URLs and Azure SAS query parameters
    (re.compile(r"(?i)\b(X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|sig|se|sp|sv|"
                r"AWSAccessKeyId|Signature)=[^&\s\"']+"), r"\1=<redacted>"),
)


def redact(text: str) -> str:
    """``text`` with tokens and URL signatures masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's final message (attach to handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_redaction() -> None:
    """Mask secrets in everything the root logger's handlers write."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
