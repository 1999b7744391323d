"""Finding the files under ``resources/`` in a source tree or a bundled build."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)  # set inside a standalone bundle
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[3] / "resources"


def load_stylesheet() -> str:
    """The application stylesheet, or an empty one when the file is not there."""
    try:
        return (resources_dir() / "style.qss").read_text(encoding="utf-8")
    except OSError:
        return ""
