"""``recconsole record``: options from the command line, refused before anything is sent."""

from __future__ import annotations

import json

import pytest

from recconsole.cli import build_parser, main
from recconsole.cli_record import EXIT_BAD_OPTION, options_from_args
from recconsole.core.recording_options import (
    Advanced,
    BadRecordingOptions,
    Content,
    Layout,
    OutputFormat,
    Preset,
    RecordingOptions,
)
from recconsole.settings import Settings

pytestmark = pytest.mark.unit


def _options(*argv: str, env: dict[str, str] | None = None) -> RecordingOptions:
    args = build_parser().parse_args(["record", "start", "room", *argv])
    return options_from_args(Settings.from_env(env or {}), args)


def test_no_options_are_the_settings_defaults() -> None:
    assert _options() == RecordingOptions()
    assert _options(env={"RECORDING_LAYOUT": "speaker", "RECORDING_PRESET": "720p60"}) == \
        RecordingOptions(layout=Layout.SPEAKER, preset=Preset.P720_60)


def test_every_option_reaches_the_recording_options() -> None:
    assert _options("--layout", "single-speaker-light", "--audio-only", "--output", "ogg",
                    "--preset", "1080p30") == RecordingOptions(
        layout=Layout.SINGLE_SPEAKER_LIGHT, content=Content.AUDIO_ONLY,
        output=OutputFormat.OGG, preset=Preset.P1080_30)
    assert _options("--width", "640", "--height", "360", "--fps", "15", "--video-bitrate",
                    "900", "--hls", "--stream", "rtmp://h/a", "--stream", "rtmp://h/b") == \
        RecordingOptions(advanced=Advanced(640, 360, 15, video_bitrate=900),
                         output=OutputFormat.HLS, streams=("rtmp://h/a", "rtmp://h/b"))
    assert _options("--participant", "alice", "--screen-share") == RecordingOptions(
        participant="alice", screen_share=True)
    assert _options("--each-participant").each_participant


@pytest.mark.parametrize(("argv", "says"), [
    (["--layout", "mosaic"], "--layout must be one of grid"),
    (["--preset", "4k"], "--preset must be one of"),
    (["--preset", "720p30", "--width", "640"], "not both"),
    (["--width", "640"], "need --height, --fps too"),
    (["--output", "ogg"], "OGG holds audio only"),
    (["--stream", "http://x"], "rtmp://"),
])
def test_a_bad_option_exits_2_with_one_line_and_asks_nothing(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str],
) -> None:
    # The LiveKit URL points nowhere: a bad option is refused before any call.
    code = main(["--livekit-url", "http://127.0.0.1:9", "record", "start", "r", *argv,
                 "--json"])
    out, err = capsys.readouterr()
    assert code == EXIT_BAD_OPTION
    assert says in err
    assert len(err.strip().splitlines()) == 1
    assert json.loads(out) == {"room": "r", "error": err.strip().split(": ", 1)[1],
                               "exitCode": 2}


def test_bad_options_raise_in_words() -> None:
    with pytest.raises(BadRecordingOptions, match="one participant or each"):
        RecordingOptions(participant="a", each_participant=True).validate()
