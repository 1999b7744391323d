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
    # The access key and its scope in a SigV4 Authorization header (botocore logs its
    # requests' headers at debug level): "Credential=AKIA.../20260101/.../aws4_request,"
    (re.compile(r"(?i)\b(Credential)=[^,\s\"'&]+"), r"\1=<redacted>"),
    # A session token in a header dump ('X-Amz-Security-Token': b'...') or in
    # botocore's canonical request (x-amz-security-token:...)
    (re.compile(r"(?i)(\bx-amz-security-token['\"]?\s*:\s*(?:b?['\"])?)[^'\"\s,}]+"),
     r"\1<redacted>"),
    # The access key id in an S3 error document
    (re.compile(r"(<AWSAccessKeyId>)[^<]*(</AWSAccessKeyId>)"), r"\1<redacted>\2"),
)
_FORMATTER: Final = logging.Formatter()


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
        # A traceback repeats the exception's message: formatters use exc_text once set.
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_redaction() -> None:
    """Mask secrets in everything the root logger's handlers write."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
