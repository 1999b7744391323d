"""Widget tests play into the test sound server, started before any of them runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from recconsole_devtools.devstack import StackConfig


@pytest.fixture(autouse=True)
def _speaker(silent_speaker: StackConfig) -> StackConfig:
    """Qt Multimedia looks for a sound server once per process: have it there first."""
    return silent_speaker


@pytest.fixture(autouse=True)
def _own_preferences(tmp_path: Path) -> None:
    """Each test's window preferences (QSettings) start empty: Qt would otherwise keep
    one user folder for the whole process, and one test's choices would reach the next."""
    for kind in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(kind, QSettings.Scope.UserScope, str(tmp_path / "preferences"))
