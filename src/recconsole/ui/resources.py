"""The files shipped inside the package under ``recconsole/resources/`` (stylesheet,
icon, desktop entry), read with ``importlib.resources`` so a wheel, an editable install
and a PyInstaller bundle find them the same way."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

from PySide6.QtGui import QIcon, QPixmap

STYLESHEET = "style.qss"
ICON = "recconsole.svg"
DESKTOP_ENTRY = "recconsole.desktop"


def resource(name: str) -> Traversable:
    """One file of ``recconsole/resources/``."""
    return files("recconsole") / "resources" / name


def load_stylesheet() -> str:
    """The application stylesheet, or an empty one when the file is not there."""
    try:
        return resource(STYLESHEET).read_text(encoding="utf-8")
    except OSError:
        return ""


def window_icon() -> QIcon:
    """The application icon (drawn from the SVG), or a null icon when it is not there."""
    pixmap = QPixmap()
    try:
        pixmap.loadFromData(resource(ICON).read_bytes(), "SVG")
    except OSError:
        return QIcon()
    return QIcon(pixmap)
