"""recconsole: a desktop recording console for LiveKit and OpenVidu 3 rooms."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

APP_NAME = "recconsole"

try:
    __version__ = version("recconsole")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
