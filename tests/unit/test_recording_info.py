"""Recording metadata in the tutorial's exact JSON, and safe recording names."""

from __future__ import annotations

import json

import pytest
from livekit import api

from recconsole.core.recording_info import (
    RecordingInfo,
    RecordingNameError,
    metadata_name,
    parse_recording_name,
    validate_recording_name,
)

pytestmark = pytest.mark.unit

TUTORIAL_JSON = {
    "id": "EG_abc", "name": "daily-RM_x1-2024-06-13T101010.mp4", "roomName": "daily",
    "roomId": "RM_x1", "startedAt": 1718273410000, "duration": 12.5, "size": 123456,
}


def test_tutorial_metadata_round_trips_with_extra_fields_kept() -> None:
    info = RecordingInfo.from_json({**TUTORIAL_JSON, "status": "COMPLETE"})
    assert (info.id, info.room_name, info.started_at, info.duration, info.size) == (
        "EG_abc", "daily", 1718273410000, 12.5, 123456)
    assert json.loads(info.to_bytes()) == {**TUTORIAL_JSON, "status": "COMPLETE"}


@pytest.mark.parametrize("raw", [b"{", b"[]", b'{"name": "x.mp4"}', b'{"id": "E", "name": "x",'
                                 b' "size": "big"}', b"\xff"])
def test_corrupt_metadata_is_refused_with_a_reason(raw: bytes) -> None:
    with pytest.raises(ValueError, match="metadata"):
        RecordingInfo.from_bytes(raw)


def test_metadata_name_matches_the_tutorial_replace() -> None:
    assert metadata_name("a-RM_1-2.mp4") == "a-RM_1-2.json"
    assert metadata_name("odd.mp4.mp4") == "odd.json.mp4"  # JS replace: first occurrence


@pytest.mark.parametrize(
    "name", ["", "../x.mp4", "a/b.mp4", "..", "x..y.mp4", ".hidden.mp4", "a\\b.mp4",
             "a\nb.mp4", "ok.mp4\n", "x" * 300],
)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(RecordingNameError):
        validate_recording_name(name)


def test_plain_names_pass() -> None:
    assert validate_recording_name("daily-RM_x1-2024-06-13T101010.mp4")


def test_names_made_by_egress_are_understood() -> None:
    assert parse_recording_name("my-room-RM_x1-2024-06-13T101010.mp4") == (
        "my-room", "RM_x1", 1718273410000)
    assert parse_recording_name("r-RM_a-1718273410000.mp4") == ("r", "RM_a", 1718273410000)
    assert parse_recording_name("r-RM_a-whenever.mp4") == ("r", "RM_a", None)
    assert parse_recording_name("notes.mp4") is None


def test_metadata_from_an_ended_egress_is_the_tutorials() -> None:
    egress = api.EgressInfo(egress_id="EG_1", room_name="daily", room_id="RM_x1",
                            started_at=1_718_273_410_123_456_789)
    egress.file_results.add(filename="recordings/daily-RM_x1-2024.mp4",
                            duration=12_500_000_000, size=4242)
    info = RecordingInfo.from_egress(egress)
    assert info.to_json() == {
        "id": "EG_1", "name": "daily-RM_x1-2024.mp4", "roomName": "daily", "roomId": "RM_x1",
        "startedAt": 1718273410123, "duration": 12.5, "size": 4242,
    }
    with pytest.raises(ValueError, match="no file"):
        RecordingInfo.from_egress(api.EgressInfo(egress_id="EG_2"))
