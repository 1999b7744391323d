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
    validate_recording_file,
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
    "name", ["", "../x.mp4", "..", ".", "a/../b.mp4", "/abs.mp4", "a//b.mp4", "a/", "a/./b.mp4",
             ".metadata/x.mp4", ".thumbnails/x.mp4", "bad\0.mp4", "x" * 1021 + ".mp4",
             "é" * 511 + ".mp4"],
)
def test_names_that_would_leave_the_recordings_folder_are_refused(name: str) -> None:
    with pytest.raises(RecordingNameError):
        validate_recording_name(name)


@pytest.mark.parametrize(
    "name", ["daily-RM_x1-2024-06-13T101010.mp4", "reunión-RM_x1-2024-06-13T101010.mp4",
             "会议 #1 & co-RM_x-2024-06-13T101010.mp4", "x..y.mp4", ".hidden.mp4", "a\\b.mp4",
             "a\nb.mp4", "100%.mp4", "?q=1&a=b.mp4", "team/alpha-RM_x-1.mp4", "x" * 1020 + ".mp4"],
)
def test_any_name_egress_can_produce_inside_the_folder_passes(name: str) -> None:
    assert validate_recording_name(name) == name


@pytest.mark.parametrize("name", ["notes.json", "x.mp4.json", "x.mp4\n", ".mp4", "x.MP4"])
def test_only_recording_files_are_recordings(name: str) -> None:
    validate_recording_name(name)
    with pytest.raises(RecordingNameError, match="not a recording"):
        validate_recording_file(name)


def test_names_made_by_egress_are_understood() -> None:
    assert parse_recording_name("my-room-RM_x1-2024-06-13T101010.mp4") == (
        "my-room", "RM_x1", 1718273410000)
    assert parse_recording_name("r-RM_a-1718273410000.mp4") == ("r", "RM_a", 1718273410000)
    assert parse_recording_name("r-RM_a-whenever.mp4") == ("r", "RM_a", None)
    assert parse_recording_name("notes.mp4") is None


def test_metadata_from_an_ended_egress_is_the_tutorials() -> None:
    egress = api.EgressInfo(egress_id="EG_1", room_name="daily", room_id="RM_x1",
                            started_at=1_718_273_410_123_456_789,
                            status=api.EgressStatus.EGRESS_COMPLETE)
    egress.file_results.add(filename="recordings/daily-RM_x1-2024.mp4",
                            duration=12_500_000_000, size=4242)
    info = RecordingInfo.from_egress(egress)
    assert info.to_json() == {
        "id": "EG_1", "name": "daily-RM_x1-2024.mp4", "roomName": "daily", "roomId": "RM_x1",
        "startedAt": 1718273410123, "duration": 12.5, "size": 4242,
    }
    with pytest.raises(ValueError, match="no file"):
        RecordingInfo.from_egress(api.EgressInfo(egress_id="EG_2"))


def test_a_room_with_a_slash_records_into_a_subfolder_of_the_recordings_path() -> None:
    egress = api.EgressInfo(egress_id="EG_1", room_name="team/alpha", room_id="RM_x1",
                            status=api.EgressStatus.EGRESS_COMPLETE)
    egress.file_results.add(filename="recordings/team/alpha-RM_x1-2024.mp4", size=1)
    assert RecordingInfo.from_egress(egress, "recordings/").name == "team/alpha-RM_x1-2024.mp4"
    assert RecordingInfo.from_egress(egress).name == "alpha-RM_x1-2024.mp4"  # as the tutorial


def test_metadata_of_a_recording_that_did_not_complete_says_how_it_ended() -> None:
    egress = api.EgressInfo(egress_id="EG_1", room_name="r", room_id="RM_x1",
                            status=api.EgressStatus.EGRESS_FAILED, error="pipeline error")
    egress.file_results.add(filename="recordings/r-RM_x1-2024.mp4", size=10)
    data = RecordingInfo.from_egress(egress, "recordings/").to_json()
    assert (data["status"], data["error"]) == ("FAILED", "pipeline error")
    assert RecordingInfo.from_json(data).extra == {"status": "FAILED", "error": "pipeline error"}
