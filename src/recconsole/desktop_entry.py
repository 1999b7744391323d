"""The desktop entry and icon of a per-user install (``pipx install``, ``pip install``):
``recconsole --install-desktop-entry`` writes them where desktops look for a user's
applications (XDG base directories), with ``Exec=`` the command that was run. The .deb
and the bundle's tarball carry the same two files."""

from __future__ import annotations

import os
import sys
from importlib.resources import files
from pathlib import Path

ENTRY = "recconsole.desktop"
ICON = "recconsole.svg"


def data_home() -> Path:
    """``$XDG_DATA_HOME``, by default ``~/.local/share``."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def this_command() -> str:
    """How the running console was started, as a desktop entry's ``Exec=`` wants it."""
    script = Path(sys.argv[0])
    if script.name in ("__main__.py", "-c") or not script.exists():
        return f"{_quoted(sys.executable)} -m recconsole"
    return _quoted(str(script.absolute()))


def _quoted(arg: str) -> str:
    # The desktop entry spec: an argument with reserved characters goes in double quotes,
    # with ", `, $ and \\ escaped by a backslash.
    if not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        return arg
    escaped = "".join(f"\\{c}" if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def install_desktop_entry(command: str, home: Path | None = None) -> list[Path]:
    """Write the desktop entry (running ``command``) and the icon; return their paths."""
    base = home or data_home()
    resources = files("recconsole") / "resources"
    entry = base / "applications" / ENTRY
    icon = base / "icons" / "hicolor" / "scalable" / "apps" / ICON
    lines = (resources / ENTRY).read_text(encoding="utf-8").splitlines()
    text = "".join(f"Exec={command}\n" if line.startswith("Exec=") else f"{line}\n"
                   for line in lines)
    for path, content in ((entry, text.encode()), (icon, (resources / ICON).read_bytes())):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return [entry, icon]
