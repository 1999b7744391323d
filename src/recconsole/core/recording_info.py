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
# Recordings' poster images, beside the metadata folder (never listed as recordings).
THUMBNAILS_DIR: Final = ".thumbnails/"

_TUTORIAL_KEYS: Final = ("id", "name", "roomName", "roomId", "startedAt", "duration", "size")


class RecordingNameError(ValueError):
    """A name that is not a recording's, or that could reach outside the recordings folder."""


MAX_NAME_BYTES: Final = 1024  # an S3 key's limit: no longer name can exist in a bucket

# What a recording file may be, and how it is served.
RECORDING_TYPES: Final = {".mp4": "video/mp4", ".ogg": "audio/ogg",
                          ".m3u8": "application/vnd.apple.mpegurl"}
HLS_SUFFIX: Final = ".m3u8"


SEGMENT_SUFFIX: Final = ".ts"


def validate_segment_name(name: str) -> str:
    """Return ``name`` if it names a segment of an HLS recording (``x/segment_00001.ts``
    beside ``x.m3u8``), else raise RecordingNameError."""
    validate_recording_name(name)
    folder, _, file = name.rpartition("/")
    if not folder or not file.endswith(SEGMENT_SUFFIX) or len(file) <= len(SEGMENT_SUFFIX):
        raise RecordingNameError(f"not an HLS segment: {name[:80]!r}")
    validate_recording_file(folder + HLS_SUFFIX)
    return name


def segment_names(playlist_name: str, playlist: str) -> list[tuple[int, str]]:
    """The segments an HLS playlist lists: (line number, segment name under
    RECORDINGS_PATH), each line's URI taken relative to the playlist's folder."""
    folder = playlist_name.rpartition("/")[0]
    found = []
    for number, line in enumerate(playlist.splitlines()):
        uri = line.strip()
        if uri and not uri.startswith("#") and "://" not in uri and not uri.startswith("/"):
            found.append((number, f"{folder}/{uri}" if folder else uri))
    return found


def segments_folder(recording_name: str) -> str:
    """Where an HLS recording's segments are, beside its playlist (``name/``)."""
    return recording_name.removesuffix(HLS_SUFFIX) + "/"


def validate_recording_name(name: str) -> str:
    """Return ``name`` if it names a file inside RECORDINGS_PATH, else raise.

    Egress names files after rooms, and rooms may be called anything: accents, any
    script, spaces, ``#``, ``&``, ``%``, quotes, ``..`` inside a word — and a ``/``
    in a room name puts the file in a subfolder, so a name is the file's path
    below RECORDINGS_PATH. The only names refused are those that would reach
    outside it or into its metadata or thumbnails folder: empty, absolute, with an
    empty, ``.`` or ``..`` part, a NUL (ends a name on disk), or longer than any key
    can be.
    """
    parts = name.split("/")
    if (
        not name
        or "\0" in name
        or len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES
        or any(part in ("", ".", "..") for part in parts)
        or (len(parts) > 1 and parts[0] + "/" in (METADATA_DIR, THUMBNAILS_DIR))
    ):
        raise RecordingNameError(f"not a valid recording name: {name[:80]!r}")
    return name


def validate_recording_file(name: str) -> str:
    """Like :func:`validate_recording_name`, and the name must be a recording's
    (``.mp4``, ``.ogg``, an HLS ``.m3u8`` playlist): never a metadata file or an
    egress manifest (``.mp4.json``)."""
    validate_recording_name(name)
    if media_type(name) is None:
        raise RecordingNameError(f"not a recording: {name[:80]!r}")
    return name


def media_type(name: str) -> str | None:
    """The content type a recording file is served with; None if it is not one."""
    for suffix, kind in RECORDING_TYPES.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return kind
    return None


def manifest_name(recording_name: str) -> str:
    """The manifest egress writes beside a file unless told not to: ``<name>.json``."""
    return recording_name + ".json"


def metadata_name(recording_name: str) -> str:
    """``room-id-123.mp4`` → ``room-id-123.json``, exactly as the tutorial's
    ``recordingName.replace(".mp4", ".json")`` (first occurrence); another kind of
    recording (``.ogg``, ``.m3u8``) has its suffix replaced the same way."""
    if ".mp4" in recording_name:
        return recording_name.replace(".mp4", ".json", 1)
    for suffix in RECORDING_TYPES:
        if recording_name.endswith(suffix):
            return recording_name[: -len(suffix)] + ".json"
    return recording_name + ".json"


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
    def from_egress(cls, egress: api.EgressInfo, recordings_path: str = "") -> RecordingInfo:
        """The tutorial's ``convertToRecordingInfo``: from an egress's first file result
        (or its HLS playlist).

        The name is the file's key under ``recordings_path`` (a room called ``a/b``
        records into a subfolder), else its last path part, as the tutorial takes it.
        A recording that did not complete says how it ended (extra keys); one made
        with options says which (``kind``, ``participant``, ``layout``, ``options``).
        """
        if egress.file_results:
            result = egress.file_results[0]
            filename, duration, size = result.filename, result.duration, result.size
        elif egress.segment_results:
            segments = egress.segment_results[0]
            filename, duration, size = (segments.playlist_name, segments.duration,
                                        segments.size)
        else:
            raise ValueError(f"the egress {egress.egress_id} produced no file")
        if recordings_path and filename.startswith(recordings_path):
            name = filename[len(recordings_path):]
        else:
            name = filename.rsplit("/", 1)[-1]
        extra: dict[str, Any] = recording_extras(egress)
        if egress.status != api.EgressStatus.EGRESS_COMPLETE:
            extra |= {"status": api.EgressStatus.Name(egress.status).removeprefix("EGRESS_"),
                      "error": egress.error}
        return cls(
            id=egress.egress_id,
            name=name,
            room_name=egress.room_name,
            room_id=egress.room_id,
            started_at=egress.started_at // 1_000_000,
            duration=duration / 1_000_000_000,
            size=size,
            extra=extra,
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> RecordingInfo:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"metadata is not JSON: {err}") from None
        return cls.from_json(data)


_NAME_PARTS = re.compile(
    r"^(?P<room>.+)-(?P<room_id>RM_[A-Za-z0-9]+)-(?P<time>.+?)(?:-(?P<tag>[0-9a-f]{4,16}))?"
    r"\.(?:mp4|ogg|m3u8)$",
    re.DOTALL,
)


def parse_recording_name(name: str) -> tuple[str, str, int | None] | None:
    """``{room_name}-{room_id}-{time}.mp4`` → (room name, room id, start in ms if readable).

    Egress expands ``{time}`` as ``2006-01-02T150405`` (UTC); a plain number is
    taken as milliseconds since the epoch. The console's own recordings carry a
    short hex tag after the time (``...T150405-3fa9c1.mp4``), so two recordings
    started in the same second never share a name.
    """
    match = _NAME_PARTS.match(name)
    if not match:
        return None
    return match["room"], match["room_id"], _started(match["time"])


def _started(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    try:
        when = datetime.strptime(text, "%Y-%m-%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(when.timestamp() * 1000)


_PRESET_NAMES: Final = {
    "H264_720P_30": "720p30", "H264_720P_60": "720p60", "H264_1080P_30": "1080p30",
    "H264_1080P_60": "1080p60", "PORTRAIT_H264_720P_30": "portrait-720p30",
    "PORTRAIT_H264_1080P_30": "portrait-1080p30",
}
_SESSION_TAG = re.compile(r"-([0-9a-f]{6})[0-9a-f]{6}\.(?:mp4|ogg|m3u8)$")


def recording_extras(egress: api.EgressInfo) -> dict[str, Any]:
    """What a recording's egress request says beyond the tutorial's keys: a participant's
    recording (``kind``, ``participant``, ``session``: shared by the files recorded
    together) or a room's made with options (``layout``, ``options``). Nothing for a
    room recording at egress's defaults, so its metadata stays the tutorial's own."""
    kind = egress.WhichOneof("request")
    if kind == "participant":
        request: Any = egress.participant
        extra: dict[str, Any] = {"kind": "participant", "participant": request.identity}
        if request.screen_share:
            extra["screenShare"] = True
        names = [o.filepath for o in request.file_outputs] + [
            o.playlist_name for o in request.segment_outputs]
        session = next((m[1] for n in names if (m := _SESSION_TAG.search(n))), "")
        if session:
            extra["session"] = f"{egress.room_id}-{session}"
    elif kind == "room_composite":
        request = egress.room_composite
        extra = {}
    else:
        return {}
    options: dict[str, Any] = {}
    if kind == "room_composite":
        if request.audio_only:
            options["content"] = "audio"
        elif request.video_only:
            options["content"] = "video"
    if request.WhichOneof("options") == "preset":
        preset = api.EncodingOptionsPreset.Name(request.preset)
        options["preset"] = _PRESET_NAMES.get(preset, preset)
    elif request.WhichOneof("options") == "advanced":
        a = request.advanced
        options["advanced"] = {"width": a.width, "height": a.height, "fps": a.framerate,
                               "videoBitrate": a.video_bitrate,
                               "audioBitrate": a.audio_bitrate,
                               "keyframeInterval": a.key_frame_interval}
    if request.segment_outputs:
        options["output"] = "hls"
    elif request.file_outputs and request.file_outputs[0].file_type == api.EncodedFileType.OGG:
        options["output"] = "ogg"
    if request.stream_outputs:
        options["streams"] = len(request.stream_outputs[0].urls)
    layout = request.layout if kind == "room_composite" else ""
    if kind == "room_composite" and (options or layout not in ("", "grid")):
        extra |= {"kind": "room", "layout": layout or "grid"}
    if options:
        extra["options"] = options
    return extra
