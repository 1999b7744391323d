"""Small helpers for tests that use real rooms."""

from __future__ import annotations

import uuid

TEST_APP = "recconsole-tests"  # APP_NAME of the rooms tests create


def unique_room(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
