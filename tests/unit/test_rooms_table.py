"""`recconsole rooms` printing: the table's columns, its notes, an empty server."""

from __future__ import annotations

import pytest

from recconsole.cli_rooms import as_json, print_table
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.rooms import RoomsSnapshot, RoomSummary

pytestmark = pytest.mark.unit


def _room(name: str, metadata: RecordingStatus | None) -> RoomSummary:
    return RoomSummary(name, "RM_1", "app", 1_000.0, 2, 1, metadata, "", None, "", None)


def test_an_empty_server_prints_the_header_and_no_rooms(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_table(RoomsSnapshot([], True, "", 0.0), None)
    assert capsys.readouterr().out.splitlines() == [
        "Room  Created by  People  Publishing  Age  Recording  Metadata  Time  Recordings",
        "0 rooms"]


def test_a_disagreement_is_marked_and_explained(capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = RoomsSnapshot([_room("b", RecordingStatus.STOPPED),
                              _room("a", RecordingStatus.STARTED)], True, "", 0.0)
    print_table(snapshot, None)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:2] == ["a", "app"]  # sorted by name
    assert "no (!)" in lines[1]
    assert lines[-1] == "(!) a: The room's metadata says STARTED, but no recording is running."
    shown = as_json(snapshot, None, "storage down")
    assert [r["disagreement"] for r in shown["rooms"]] == [
        "The room's metadata says STARTED, but no recording is running.", None]
    assert shown["recordingsError"] == "storage down"
    assert shown["rooms"][0]["recordings"] is None
