"""What a recording is made of: layout, content, quality, output and who is recorded.

:class:`RecordingOptions` is a plain value, checked by :meth:`RecordingOptions.validate`
before anything is sent to egress, so a bad combination is refused in words at once
instead of failing inside the egress service. It round-trips through JSON (the window
remembers it per user; the metadata file of a recording keeps it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from recconsole.core.errors import ConsoleError


class BadRecordingOptions(ConsoleError):
    """Options that egress would refuse, or that contradict each other."""


class Layout(StrEnum):
    """Egress's own room layouts (``-light``: on a light background)."""

    GRID = "grid"
    SPEAKER = "speaker"
    SINGLE_SPEAKER = "single-speaker"
    GRID_LIGHT = "grid-light"
    SPEAKER_LIGHT = "speaker-light"
    SINGLE_SPEAKER_LIGHT = "single-speaker-light"


class Content(StrEnum):
    """What a room recording holds."""

    AUDIO_VIDEO = "audio+video"
    AUDIO_ONLY = "audio"
    VIDEO_ONLY = "video"


class Preset(StrEnum):
    """Egress's encoding presets, by name."""

    P720_30 = "720p30"
    P720_60 = "720p60"
    P1080_30 = "1080p30"
    P1080_60 = "1080p60"
    PORTRAIT_720_30 = "portrait-720p30"
    PORTRAIT_1080_30 = "portrait-1080p30"


# A preset's frame size and rate, as egress encodes it.
PRESET_SIZES: Final = {
    Preset.P720_30: (1280, 720, 30), Preset.P720_60: (1280, 720, 60),
    Preset.P1080_30: (1920, 1080, 30), Preset.P1080_60: (1920, 1080, 60),
    Preset.PORTRAIT_720_30: (720, 1280, 30), Preset.PORTRAIT_1080_30: (1080, 1920, 30),
}


class OutputFormat(StrEnum):
    """The recorded file: an MP4 (the tutorial's), an OGG (audio only) or HLS segments."""

    MP4 = "mp4"
    OGG = "ogg"
    HLS = "hls"


STREAM_SCHEMES: Final = ("rtmp", "rtmps", "srt")


@dataclass(frozen=True)
class Advanced:
    """Encoding chosen by hand (bitrates in kbps, keyframe interval in seconds)."""

    width: int = 1280
    height: int = 720
    fps: int = 30
    video_bitrate: int = 3000
    audio_bitrate: int = 128
    keyframe_interval: float = 4.0

    def problems(self) -> list[str]:
        found: list[str] = []
        for name, value, low, high in (("width", self.width, 16, 3840),
                                       ("height", self.height, 16, 3840)):
            if not low <= value <= high:
                found.append(f"{name} must be between {low} and {high} pixels, not {value}")
            elif value % 2:
                found.append(f"{name} must be even (H.264 needs it), not {value}")
        if not 1 <= self.fps <= 60:
            found.append(f"the frame rate must be between 1 and 60, not {self.fps}")
        if not 100 <= self.video_bitrate <= 20_000:
            found.append(f"the video bitrate must be between 100 and 20000 kbps,"
                         f" not {self.video_bitrate}")
        if not 16 <= self.audio_bitrate <= 320:
            found.append(f"the audio bitrate must be between 16 and 320 kbps,"
                         f" not {self.audio_bitrate}")
        if not 0.5 <= self.keyframe_interval <= 20:
            found.append(f"the keyframe interval must be between 0.5 and 20 s,"
                         f" not {self.keyframe_interval:g}")
        return found


@dataclass(frozen=True)
class RecordingOptions:
    """How to record a room: everything egress is told beyond the room's name.

    ``participant``: record only this identity (Participant egress); ``screen_share``
    then records their screen share instead of their camera. ``each_participant``:
    one file per participant, for everyone present and everyone who joins.
    """

    layout: Layout = Layout.GRID
    content: Content = Content.AUDIO_VIDEO
    preset: Preset | None = None  # None: egress's default (720p30)
    advanced: Advanced | None = None
    output: OutputFormat = OutputFormat.MP4
    streams: tuple[str, ...] = ()
    participant: str = ""
    screen_share: bool = False
    each_participant: bool = False

    @property
    def individual(self) -> bool:
        """Participant recordings rather than one of the room."""
        return bool(self.participant) or self.each_participant

    @property
    def kind(self) -> str:
        """``room`` or ``participant``: what the metadata files call it."""
        return "participant" if self.individual else "room"

    def validate(self) -> RecordingOptions:
        """Return these options if egress can make them; BadRecordingOptions if not."""
        found: list[str] = []
        if self.preset is not None and self.advanced is not None:
            found.append("choose a quality preset or advanced settings, not both")
        if self.advanced is not None:
            found += self.advanced.problems()
        if self.participant and self.each_participant:
            found.append("record one participant or each participant, not both")
        if self.screen_share and not self.individual:
            found.append("a screen share is recorded for a participant (choose one, or each)")
        if self.individual and self.content is not Content.AUDIO_VIDEO:
            found.append("a participant's recording holds their camera and microphone:"
                         " audio only and video only are for room recordings")
        if self.output is OutputFormat.OGG and self.content is not Content.AUDIO_ONLY:
            found.append("OGG holds audio only: choose audio only, or MP4 or HLS")
        if self.individual and self.output is OutputFormat.OGG:
            found.append("a participant's recording is MP4 or HLS")
        if self.streams and self.each_participant:
            found.append("live streams go with a room or one participant's recording")
        if self.streams and self.content is Content.AUDIO_ONLY:
            found.append("a live stream needs video: not with audio only")
        schemes = {urlsplit(url).scheme.lower() for url in self.streams}
        for url in self.streams:
            parts = urlsplit(url)
            if parts.scheme.lower() not in STREAM_SCHEMES or not parts.hostname:
                found.append(f"a live stream URL starts rtmp://, rtmps:// or srt:// and names"
                             f" a host, not {url!r}")
        if len(schemes) > 1 and schemes & {"srt"} and schemes - {"srt"}:
            found.append("live streams are all RTMP or all SRT, not both at once")
        if len(set(self.streams)) != len(self.streams):
            found.append("the same live stream URL is given twice")
        if found:
            raise BadRecordingOptions("Recording options: " + "; ".join(found) + ".")
        return self

    def size(self) -> tuple[int, int, int] | None:
        """The frame width, height and rate asked for (None: egress's default)."""
        if self.advanced is not None:
            return self.advanced.width, self.advanced.height, self.advanced.fps
        if self.preset is not None:
            return PRESET_SIZES[self.preset]
        return None

    def describe(self) -> str:
        """A few words for a button's tooltip or the event log."""
        who = (f"{self.participant}'s {'screen' if self.screen_share else 'camera'}"
               if self.participant else "each participant" if self.each_participant
               else f"{self.layout.value} layout")
        quality = (self.preset.value if self.preset else
                   f"{self.advanced.width}x{self.advanced.height}@{self.advanced.fps}"
                   if self.advanced else "default quality")
        content = {Content.AUDIO_VIDEO: "", Content.AUDIO_ONLY: ", audio only",
                   Content.VIDEO_ONLY: ", video only"}[self.content]
        streams = f", streaming to {len(self.streams)}" if self.streams else ""
        return f"{who}, {quality}{content}, {self.output.value.upper()}{streams}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "layout": self.layout.value, "content": self.content.value,
            "preset": self.preset.value if self.preset else None,
            "advanced": None, "output": self.output.value, "streams": list(self.streams),
            "participant": self.participant, "screenShare": self.screen_share,
            "eachParticipant": self.each_participant,
        }
        if self.advanced is not None:
            a = self.advanced
            data["advanced"] = {"width": a.width, "height": a.height, "fps": a.fps,
                                "videoBitrate": a.video_bitrate,
                                "audioBitrate": a.audio_bitrate,
                                "keyframeInterval": a.keyframe_interval}
        return data

    @classmethod
    def from_json(cls, data: object) -> RecordingOptions:
        """Options from :meth:`to_json`'s shape; BadRecordingOptions if unusable."""
        if not isinstance(data, dict):
            raise BadRecordingOptions("Recording options: not a JSON object.")
        try:
            advanced = data.get("advanced")
            return cls(
                layout=Layout(data.get("layout", "grid")),
                content=Content(data.get("content", "audio+video")),
                preset=Preset(data["preset"]) if data.get("preset") else None,
                advanced=Advanced(
                    width=int(advanced["width"]), height=int(advanced["height"]),
                    fps=int(advanced["fps"]), video_bitrate=int(advanced["videoBitrate"]),
                    audio_bitrate=int(advanced["audioBitrate"]),
                    keyframe_interval=float(advanced["keyframeInterval"]),
                ) if isinstance(advanced, dict) else None,
                output=OutputFormat(data.get("output", "mp4")),
                streams=tuple(str(u) for u in data.get("streams") or ()),
                participant=str(data.get("participant") or ""),
                screen_share=bool(data.get("screenShare")),
                each_participant=bool(data.get("eachParticipant")),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise BadRecordingOptions(f"Recording options: {err}.") from None

    def for_participant(self, identity: str) -> RecordingOptions:
        """These options for one participant's file of an each-participant recording."""
        return replace(self, participant=identity, each_participant=False, streams=())


E = TypeVar("E", bound=StrEnum)


def parse_choice(kind: type[E], value: str, what: str) -> E:
    """``value`` as one of ``kind``'s members; BadRecordingOptions naming the choices."""
    try:
        return kind(value.strip().lower())
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise BadRecordingOptions(f"{what} must be one of {choices}, not {value!r}.") from None
