"""Widget tests play into the test sound server, started before any of them runs."""

from __future__ import annotations

import pytest

from recconsole_devtools.devstack import StackConfig


@pytest.fixture(autouse=True)
def _speaker(silent_speaker: StackConfig) -> StackConfig:
    """Qt Multimedia looks for a sound server once per process: have it there first."""
    return silent_speaker
