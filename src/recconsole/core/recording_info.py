"""Recording metadata in the OpenVidu advanced recording tutorial's format.

A recording ``{room_name}-{room_id}-{time}.mp4`` under ``RECORDINGS_PATH`` has a
metadata file ``RECORDINGS_PATH/.metadata/{room_name}-{room_id}-{time}.json``
holding ``{id, name, roomName, roomId, startedAt, duration, size}``: the egress id,
the file's base name, milliseconds since the epoch, seconds (float) and bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final

from livekit import api

METADATA_DIR: Final = ".metadata/"

_TUTORIAL_KEYS: Final = ("id", "name", "roomName", "roomId", "startedAt", "duration", "size")


class RecordingNameError(ValueError):
    """A recording name that could reach outside the recordings folder."""


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ ()+=@,-]*")


def validate_recording_name(name: str) -> str:
    """Return ``name`` if it is a plain file name inside RECORDINGS_PATH, else raise.

    Refuses separators, ``..``, control characters and anything that is not a
    single path component, so no key outside the recordings folder is touched.
    """
    if (
        not name
        or len(name) > 255
        or "/" in name
        or "\\" in name
        or ".." in name
        or not _SAFE_NAME.fullmatch(name)
    ):
        raise RecordingNameError(f"not a valid recording name: {name[:80]!r}")
    return name


def metadata_name(recording_name: str) -> str:
    """``room-id-123.mp4`` → ``room-id-123.json``, exactly as the tutorial's
    ``recordingName.replace(".mp4", ".json")`` (first occurrence)."""
    return recording_name.replace(".mp4", ".json", 1)


class MetadataState(Enum):
    """Where a row's details came from."""

    OK = "ok"  # read from its metadata file
    MISSING = "missing"  # no metadata file: only what the object listing knows
    UNREADABLE = "unreadable"  # the metadata file exists but is not valid


@dataclass(frozen=True)
class RecordingInfo:
    """One recording, as the tutorial's metadata file describes it."""

    id: str
    name: str
    room_name: str
    room_id: str
    started_at: int  # milliseconds since the epoch
    duration: float  # seconds
    size: int  # bytes
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    metadata: MetadataState = MetadataState.OK

    def to_json(self) -> dict[str, Any]:
        """The metadata file's JSON object (tutorial keys first, extra keys kept)."""
        return {
            **self.extra,
            "id": self.id,
            "name": self.name,
            "roomName": self.room_name,
            "roomId": self.room_id,
            "startedAt": self.started_at,
            "duration": self.duration,
            "size": self.size,
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: object) -> RecordingInfo:
        """Parse a metadata object; ValueError if it is not one."""
        if not isinstance(data, dict):
            raise ValueError("metadata is not a JSON object")
        missing = [k for k in ("id", "name") if not isinstance(data.get(k), str)]
        if missing:
            raise ValueError(f"metadata lacks {', '.join(missing)}")
        try:
            return cls(
                id=data["id"],
                name=data["name"],
                room_name=str(data.get("roomName", "")),
                room_id=str(data.get("roomId", "")),
                started_at=int(data.get("startedAt") or 0),
                duration=float(data.get("duration") or 0.0),
                size=int(data.get("size") or 0),
                extra={k: v for k, v in data.items() if k not in _TUTORIAL_KEYS},
            )
        except (TypeError, ValueError) as err:
            raise ValueError(f"metadata has a field of the wrong type: {err}") from None

    @classmethod
    def from_egress(cls, egress: api.EgressInfo) -> RecordingInfo:
        """The tutorial's ``convertToRecordingInfo``: from an egress's first file result."""
        if not egress.file_results:
            raise ValueError(f"the egress {egress.egress_id} produced no file")
        result = egress.file_results[0]
        return cls(
            id=egress.egress_id,
            name=result.filename.rsplit("/", 1)[-1],
            room_name=egress.room_name,
            room_id=egress.room_id,
            started_at=egress.started_at // 1_000_000,
            duration=result.duration / 1_000_000_000,
            size=result.size,
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> RecordingInfo:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"metadata is not JSON: {err}") from None
        return cls.from_json(data)


_NAME_PARTS = re.compile(r"^(?P<room>.+)-(?P<room_id>RM_[A-Za-z0-9]+)-(?P<time>[^/]+)\.mp4$")


def parse_recording_name(name: str) -> tuple[str, str, int | None] | None:
    """``{room_name}-{room_id}-{time}.mp4`` → (room name, room id, start in ms if readable).

    Egress expands ``{time}`` as ``2006-01-02T150405`` (UTC); a plain number is
    taken as milliseconds since the epoch.
    """
    match = _NAME_PARTS.match(name)
    if not match:
        return None
    text = match["time"]
    started: int | None = None
    if text.isdigit():
        started = int(text)
    else:
        try:
            when = datetime.strptime(text, "%Y-%m-%dT%H%M%S").replace(tzinfo=UTC)
            started = int(when.timestamp() * 1000)
        except ValueError:
            started = None
    return match["room"], match["room_id"], started
