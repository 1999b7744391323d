"""Egress requests built from :class:`RecordingOptions`: outputs, encoding, layout.

Every file the console asks for is named ``RECORDINGS_PATH + {room_name}-{room_id}-
{time}-{tag}`` plus its extension (the tutorial's name, with a random tag so two
recordings never share a name). HLS puts its playlist there (``.m3u8``) and its
segments in a folder of the same name beside it, so the recording is listed once,
by its playlist.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Final

from livekit import api

from recconsole.core.recording_options import Content, OutputFormat, Preset, RecordingOptions

FILE_TEMPLATE: Final = "{room_name}-{room_id}-{time}"
SEGMENTS_PREFIX: Final = "segment"
HLS_SEGMENT_SECONDS: Final = 4

PRESETS: Final = {
    Preset.P720_30: api.EncodingOptionsPreset.H264_720P_30,
    Preset.P720_60: api.EncodingOptionsPreset.H264_720P_60,
    Preset.P1080_30: api.EncodingOptionsPreset.H264_1080P_30,
    Preset.P1080_60: api.EncodingOptionsPreset.H264_1080P_60,
    Preset.PORTRAIT_720_30: api.EncodingOptionsPreset.PORTRAIT_H264_720P_30,
    Preset.PORTRAIT_1080_30: api.EncodingOptionsPreset.PORTRAIT_H264_1080P_30,
}

Upload = api.S3Upload | api.AzureBlobUpload | None


def new_tag() -> str:
    """The random tag after ``{time}`` that makes a console's file names unique."""
    return secrets.token_hex(3)


@dataclass
class Outputs:
    """What one egress writes: a file or HLS segments, and any live streams."""

    file_outputs: list[api.EncodedFileOutput] = field(default_factory=list)
    segment_outputs: list[api.SegmentedFileOutput] = field(default_factory=list)
    stream_outputs: list[api.StreamOutput] = field(default_factory=list)


def build_outputs(options: RecordingOptions, recordings_path: str, upload: Upload,
                  tag: str) -> Outputs:
    """The outputs ``options`` ask for, under ``recordings_path``, uploaded to ``upload``."""
    base = f"{recordings_path}{FILE_TEMPLATE}-{tag}"
    outputs = Outputs()
    if options.output is OutputFormat.HLS:
        segments = api.SegmentedFileOutput(
            protocol=api.SegmentedFileProtocol.HLS_PROTOCOL,
            playlist_name=f"{base}.m3u8",
            # Relative to the playlist's folder: segments go in a folder named like it.
            filename_prefix=f"{FILE_TEMPLATE}-{tag}/{SEGMENTS_PREFIX}",
            segment_duration=HLS_SEGMENT_SECONDS,
            disable_manifest=True,
        )
        _attach(segments, upload)
        outputs.segment_outputs.append(segments)
    else:
        ogg = options.output is OutputFormat.OGG
        file = api.EncodedFileOutput(
            file_type=api.EncodedFileType.OGG if ogg else api.EncodedFileType.MP4,
            filepath=f"{base}.{'ogg' if ogg else 'mp4'}",
            disable_manifest=True,  # as the tutorial: no manifest beside the file
        )
        _attach(file, upload)
        outputs.file_outputs.append(file)
    if options.streams:
        srt = options.streams[0].lower().startswith("srt")
        outputs.stream_outputs.append(api.StreamOutput(
            protocol=api.StreamProtocol.SRT if srt else api.StreamProtocol.RTMP,
            urls=list(options.streams)))
    return outputs


def _attach(output: api.EncodedFileOutput | api.SegmentedFileOutput, upload: Upload) -> None:
    if isinstance(upload, api.S3Upload):
        output.s3.CopyFrom(upload)
    elif isinstance(upload, api.AzureBlobUpload):
        output.azure.CopyFrom(upload)


def encoding(options: RecordingOptions) -> dict[str, api.EncodingOptions | int]:
    """The request's ``preset`` or ``advanced`` field (nothing: egress's default)."""
    if options.preset is not None:
        return {"preset": PRESETS[options.preset]}
    if options.advanced is not None:
        a = options.advanced
        return {"advanced": api.EncodingOptions(
            width=a.width, height=a.height, framerate=a.fps, video_bitrate=a.video_bitrate,
            audio_bitrate=a.audio_bitrate, key_frame_interval=a.keyframe_interval)}
    return {}


def room_composite_request(room: str, options: RecordingOptions, outputs: Outputs,
                           layout_url: str = "") -> api.RoomCompositeEgressRequest:
    """A room recording: the layout, the content and the encoding ``options`` ask for."""
    return api.RoomCompositeEgressRequest(
        room_name=room, layout=options.layout.value, custom_base_url=layout_url,
        audio_only=options.content is Content.AUDIO_ONLY,
        video_only=options.content is Content.VIDEO_ONLY,
        file_outputs=outputs.file_outputs, segment_outputs=outputs.segment_outputs,
        stream_outputs=outputs.stream_outputs, **encoding(options),  # type: ignore[arg-type]
    )


def participant_request(room: str, identity: str, options: RecordingOptions,
                        outputs: Outputs) -> api.ParticipantEgressRequest:
    """One participant's camera and microphone (or screen share) into their own file."""
    return api.ParticipantEgressRequest(
        room_name=room, identity=identity, screen_share=options.screen_share,
        file_outputs=outputs.file_outputs, segment_outputs=outputs.segment_outputs,
        stream_outputs=outputs.stream_outputs, **encoding(options),  # type: ignore[arg-type]
    )
