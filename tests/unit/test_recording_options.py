"""Recording options: checked before anything is sent, and turned into egress requests."""

from __future__ import annotations

import pytest
from livekit import api

from recconsole.core.egress_requests import (
    build_outputs,
    participant_request,
    room_composite_request,
)
from recconsole.core.recorder import options_from_settings, session_of, started_by_console
from recconsole.core.recording_info import (
    RecordingInfo,
    metadata_name,
    parse_recording_name,
    recording_extras,
    segments_folder,
    validate_recording_file,
)
from recconsole.core.recording_options import (
    Advanced,
    BadRecordingOptions,
    Content,
    Layout,
    OutputFormat,
    Preset,
    RecordingOptions,
)
from recconsole.settings import Settings, SettingsError

pytestmark = pytest.mark.unit
PATH = "recordings/"


def test_defaults_are_the_tutorials_grid_mp4() -> None:
    options = RecordingOptions().validate()
    outputs = build_outputs(options, PATH, None, "abc123")
    request = room_composite_request("r", options, outputs)
    assert request.layout == "grid"
    assert not request.audio_only
    assert not request.video_only
    assert request.WhichOneof("options") is None  # egress's default encoding
    assert [o.filepath for o in request.file_outputs] == [
        "recordings/{room_name}-{room_id}-{time}-abc123.mp4"]
    assert request.file_outputs[0].disable_manifest
    assert not request.segment_outputs
    assert not request.stream_outputs


@pytest.mark.parametrize(("options", "says"), [
    (RecordingOptions(preset=Preset.P720_30, advanced=Advanced()), "not both"),
    (RecordingOptions(advanced=Advanced(width=1281)), "width must be even"),
    (RecordingOptions(advanced=Advanced(height=8000)), "height must be between"),
    (RecordingOptions(advanced=Advanced(fps=0)), "frame rate"),
    (RecordingOptions(advanced=Advanced(video_bitrate=5)), "video bitrate"),
    (RecordingOptions(advanced=Advanced(audio_bitrate=1000)), "audio bitrate"),
    (RecordingOptions(advanced=Advanced(keyframe_interval=0)), "keyframe interval"),
    (RecordingOptions(output=OutputFormat.OGG), "OGG holds audio only"),
    (RecordingOptions(participant="a", each_participant=True), "not both"),
    (RecordingOptions(screen_share=True), "screen share"),
    (RecordingOptions(participant="a", content=Content.AUDIO_ONLY), "camera and microphone"),
    (RecordingOptions(streams=("http://example.com/live",)), "rtmp://"),
    (RecordingOptions(streams=("rtmp://a/x", "srt://b:9000")), "all RTMP or all SRT"),
    (RecordingOptions(streams=("rtmp://a/x", "rtmp://a/x")), "twice"),
    (RecordingOptions(each_participant=True, streams=("rtmp://a/x",)), "live streams go"),
])
def test_bad_combinations_are_refused_in_words(options: RecordingOptions, says: str) -> None:
    with pytest.raises(BadRecordingOptions, match=says):
        options.validate()


def test_all_problems_are_named_at_once() -> None:
    with pytest.raises(BadRecordingOptions) as caught:
        RecordingOptions(advanced=Advanced(width=3, fps=99)).validate()
    assert "width" in str(caught.value)
    assert "frame rate" in str(caught.value)


def test_layout_content_and_preset_reach_the_request() -> None:
    options = RecordingOptions(layout=Layout.SPEAKER_LIGHT, content=Content.AUDIO_ONLY,
                               preset=Preset.P1080_30).validate()
    request = room_composite_request("r", options, build_outputs(options, PATH, None, "a1b2c3"))
    assert request.layout == "speaker-light"
    assert request.audio_only
    assert not request.video_only
    assert request.preset == api.EncodingOptionsPreset.H264_1080P_30
    portrait = RecordingOptions(preset=Preset.PORTRAIT_1080_30, content=Content.VIDEO_ONLY)
    request = room_composite_request("r", portrait, build_outputs(portrait, PATH, None, "a1b2c3"))
    assert request.video_only
    assert request.preset == api.EncodingOptionsPreset.PORTRAIT_H264_1080P_30
    assert portrait.size() == (1080, 1920, 30)


def test_advanced_encoding_reaches_the_request() -> None:
    options = RecordingOptions(advanced=Advanced(640, 360, 15, 800, 64, 2.0)).validate()
    request = room_composite_request("r", options, build_outputs(options, PATH, None, "a1b2c3"))
    assert request.WhichOneof("options") == "advanced"
    a = request.advanced
    assert (a.width, a.height, a.framerate, a.video_bitrate, a.audio_bitrate,
            a.key_frame_interval) == (640, 360, 15, 800, 64, 2.0)


def test_ogg_hls_and_streams() -> None:
    ogg = RecordingOptions(content=Content.AUDIO_ONLY, output=OutputFormat.OGG).validate()
    out = build_outputs(ogg, PATH, None, "a1b2c3").file_outputs[0]
    assert out.file_type == api.EncodedFileType.OGG
    assert out.filepath.endswith("-a1b2c3.ogg")

    hls = RecordingOptions(output=OutputFormat.HLS, streams=("rtmp://h/live/key",)).validate()
    outputs = build_outputs(hls, PATH, api.S3Upload(bucket="b"), "a1b2c3")
    assert not outputs.file_outputs
    segments = outputs.segment_outputs[0]
    assert segments.playlist_name == "recordings/{room_name}-{room_id}-{time}-a1b2c3.m3u8"
    # Relative to the playlist: egress puts them in a folder named like the playlist.
    assert segments.filename_prefix == "{room_name}-{room_id}-{time}-a1b2c3/segment"
    assert segments.s3.bucket == "b"
    assert outputs.stream_outputs[0].protocol == api.StreamProtocol.RTMP
    assert list(outputs.stream_outputs[0].urls) == ["rtmp://h/live/key"]


def test_a_participant_request_and_its_session() -> None:
    options = RecordingOptions(participant="alice", screen_share=True,
                               preset=Preset.P720_60).validate()
    request = participant_request("r", "alice", options,
                                  build_outputs(options, PATH, None, "aaaaaa" + "bbbbbb"))
    assert request.identity == "alice"
    assert request.screen_share
    assert request.preset == api.EncodingOptionsPreset.H264_720P_60
    egress = api.EgressInfo(egress_id="EG_1", room_id="RM_x", room_name="r",
                            participant=request)
    assert started_by_console(egress)
    assert session_of(egress) == "aaaaaa"
    assert recording_extras(egress) == {
        "kind": "participant", "participant": "alice", "screenShare": True,
        "session": "RM_x-aaaaaa", "options": {"preset": "720p60"}}


def test_a_room_recording_at_defaults_has_the_tutorials_metadata_only() -> None:
    options = RecordingOptions()
    request = room_composite_request("r", options, build_outputs(options, PATH, None, "a1b2c3"))
    egress = api.EgressInfo(egress_id="EG_1", room_composite=request,
                            status=api.EgressStatus.EGRESS_COMPLETE,
                            file_results=[api.FileInfo(filename="recordings/x.mp4", size=9)])
    assert RecordingInfo.from_egress(egress, PATH).extra == {}
    assert session_of(egress) == ""


def test_hls_metadata_comes_from_the_playlist() -> None:
    options = RecordingOptions(layout=Layout.SPEAKER, content=Content.AUDIO_ONLY,
                               output=OutputFormat.HLS)
    request = room_composite_request("r", options, build_outputs(options, PATH, None, "a1b2c3"))
    egress = api.EgressInfo(
        egress_id="EG_1", room_name="r", room_id="RM_x", room_composite=request,
        status=api.EgressStatus.EGRESS_COMPLETE, started_at=5_000_000_000,
        segment_results=[api.SegmentsInfo(playlist_name="recordings/r-RM_x-t-a1b2c3.m3u8",
                                          duration=7_500_000_000, size=1234)])
    info = RecordingInfo.from_egress(egress, PATH)
    assert (info.name, info.duration, info.size, info.started_at) == (
        "r-RM_x-t-a1b2c3.m3u8", 7.5, 1234, 5000)
    assert info.extra == {"kind": "room", "layout": "speaker",
                          "options": {"content": "audio", "output": "hls"}}


def test_other_recording_kinds_have_names_metadata_and_folders() -> None:
    assert metadata_name("r-RM_x-t-a1b2c3.ogg") == "r-RM_x-t-a1b2c3.json"
    assert metadata_name("r-RM_x-t-a1b2c3.m3u8") == "r-RM_x-t-a1b2c3.json"
    assert metadata_name("r-RM_x-t.mp4") == "r-RM_x-t.json"  # the tutorial's, unchanged
    assert validate_recording_file("a.m3u8") == "a.m3u8"
    assert segments_folder("a/b-c.m3u8") == "a/b-c/"
    parsed = parse_recording_name("room-RM_abc-2026-01-02T150405-a1b2c3.ogg")
    assert parsed is not None
    assert parsed[:2] == ("room", "RM_abc")


def test_options_round_trip_through_json() -> None:
    options = RecordingOptions(layout=Layout.GRID_LIGHT, advanced=Advanced(854, 480, 24),
                               output=OutputFormat.HLS, streams=("srt://h:1",),
                               participant="p", screen_share=True)
    assert RecordingOptions.from_json(options.to_json()) == options
    with pytest.raises(BadRecordingOptions, match=r"'tiles'"):
        RecordingOptions.from_json({"layout": "tiles"})


def test_defaults_come_from_settings() -> None:
    settings = Settings.from_env({"RECORDING_LAYOUT": "Speaker", "RECORDING_PRESET": "1080p30",
                                  "RECORDING_CONTENT": "audio", "RECORDING_OUTPUT": "ogg"})
    assert options_from_settings(settings) == RecordingOptions(
        layout=Layout.SPEAKER, preset=Preset.P1080_30, content=Content.AUDIO_ONLY,
        output=OutputFormat.OGG)
    with pytest.raises(SettingsError, match="RECORDING_LAYOUT must be one of grid"):
        Settings.from_env({"RECORDING_LAYOUT": "mosaic"})
    with pytest.raises(SettingsError, match="RECORDING_CONTENT=audio"):
        Settings.from_env({"RECORDING_OUTPUT": "ogg"})
