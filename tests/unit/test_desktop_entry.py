"""The per-user desktop entry that ``recconsole --install-desktop-entry`` writes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from recconsole.desktop_entry import install_desktop_entry, this_command

pytestmark = pytest.mark.unit


def test_exec_is_the_given_command_and_the_rest_is_the_packaged_entry(tmp_path: Path) -> None:
    entry, icon = install_desktop_entry("/opt/x/recconsole", home=tmp_path)
    lines = entry.read_text().splitlines()
    assert "Exec=/opt/x/recconsole" in lines
    assert "Icon=recconsole" in lines
    assert [line for line in lines if line.startswith("Exec=")] == ["Exec=/opt/x/recconsole"]
    assert icon == tmp_path / "icons/hicolor/scalable/apps/recconsole.svg"
    assert b"<svg" in icon.read_bytes()


def test_a_command_in_a_folder_with_spaces_is_quoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = tmp_path / "my apps" / "recconsole"
    script.parent.mkdir()
    script.touch()
    monkeypatch.setattr(sys, "argv", [str(script)])
    assert this_command() == f'"{script}"'


def test_started_as_a_module_it_runs_the_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["/somewhere/recconsole/__main__.py"])
    assert this_command().endswith(" -m recconsole")
