"""``recconsole record start|stop|status ROOM``: a room's recording from a script.

``record start ROOM --local [--duration S]`` records the room on this computer without a
window instead of asking egress (see :mod:`recconsole.realtime.headless_recorder`);
``record stop ROOM`` stops such a recording too, from any machine with the API key.

Exit codes a script can rely on: 0 done, 2 a bad option (refused before anything is
sent), 3 already recording, 4 not recording, 5 no egress service, 1 anything else
(server unreachable, credentials refused, egress refused the request). Errors are one
line on stderr; ``--json`` prints one object on stdout (see the README for its shape).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, Final

from livekit import api

from recconsole.core.errors import AlreadyRecording, ConsoleError, EgressUnavailable, NotRecording
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recorder import (
    Recorder,
    StartOptions,
    options_from_settings,
    session_of,
    upload_from_settings,
)
from recconsole.core.recording_options import (
    Advanced,
    BadRecordingOptions,
    Content,
    Layout,
    OutputFormat,
    Preset,
    RecordingOptions,
    parse_choice,
)
from recconsole.core.recording_status import egress_is_active
from recconsole.settings import Settings

if TYPE_CHECKING:  # the recording modules load only when --local is used
    from recconsole.realtime.local_recorder import OutputFormat as LocalFormat

EXIT_ERROR: Final = 1
EXIT_BAD_OPTION: Final = 2
EXIT_ALREADY_RECORDING: Final = 3
EXIT_NOT_RECORDING: Final = 4
EXIT_NO_EGRESS: Final = 5
_ADVANCED: Final = ("width", "height", "fps", "video_bitrate", "audio_bitrate",
                    "keyframe_interval")


def options_from_args(settings: Settings, args: argparse.Namespace) -> RecordingOptions:
    """The options the command line asks for, over the settings' defaults; checked."""
    base = options_from_settings(settings)
    given = {name: getattr(args, name) for name in _ADVANCED
             if getattr(args, name) is not None}
    if given and args.preset:
        raise BadRecordingOptions("Recording options: choose --preset or advanced settings"
                                  " (--width, --height, ...), not both.")
    advanced = None
    if given:
        missing = [f"--{n}" for n in ("width", "height", "fps") if n not in given]
        if missing:
            raise BadRecordingOptions(f"Recording options: advanced settings need"
                                      f" {', '.join(missing)} too.")
        advanced = Advanced(**given)
    output = base.output
    if args.hls:
        output = OutputFormat.HLS
    elif args.output:
        output = parse_choice(OutputFormat, args.output, "--output")
    content = (Content.AUDIO_ONLY if args.audio_only else Content.VIDEO_ONLY
               if args.video_only else base.content)
    return RecordingOptions(
        layout=parse_choice(Layout, args.layout, "--layout") if args.layout else base.layout,
        content=content,
        preset=(parse_choice(Preset, args.preset, "--preset") if args.preset
                else None if advanced else base.preset),
        advanced=advanced, output=output, streams=tuple(args.stream),
        participant=args.participant or "", screen_share=args.screen_share,
        each_participant=args.each_participant,
    ).validate()


async def run_record(settings: Settings, args: argparse.Namespace) -> int:
    """Run ``record start|stop|status``; returns the exit code."""
    from recconsole.realtime.headless_recorder import (  # loaded only for this command
        record_here,
        stop_local_recording,
    )

    try:
        if args.record_command == "start" and args.local:
            key = await record_here(settings, args.room, args.duration or args.max_duration,
                                    _say, local_output(args),
                                    each_participant=args.each_participant)
            if key is not None:
                print(key)
            return 0 if key is not None else EXIT_ERROR
        if args.record_command == "stop":
            code = await stop_local_recording(settings, args.room, _say)
            if code is not None:
                return code
    except BadRecordingOptions as err:
        return _fail(args, err, EXIT_BAD_OPTION)
    except AlreadyRecording as err:
        return _fail(args, err, EXIT_ALREADY_RECORDING)
    except ConsoleError as err:
        return _fail(args, err, EXIT_ERROR)
    try:
        options = options_from_args(settings, args) if args.record_command == "start" else None
    except BadRecordingOptions as err:
        return _fail(args, err, EXIT_BAD_OPTION)
    try:
        async with LiveKitServer(settings.livekit_url, settings.livekit_api_key,
                                 settings.livekit_api_secret.value,
                                 app_name=settings.app_name) as server:
            recorder = Recorder(server, recordings_path=settings.recordings_path,
                                upload=upload_from_settings(settings),
                                layout_url=settings.recording_layout_url,
                                start_timeout=settings.recording_start_timeout)
            try:
                return await _act(recorder, args, options)
            finally:
                await recorder.aclose()
    except AlreadyRecording as err:
        return _fail(args, err, EXIT_ALREADY_RECORDING)
    except NotRecording as err:
        return _fail(args, err, EXIT_NOT_RECORDING)
    except EgressUnavailable as err:
        return _fail(args, err, EXIT_NO_EGRESS)
    except BadRecordingOptions as err:
        return _fail(args, err, EXIT_BAD_OPTION)
    except ConsoleError as err:
        return _fail(args, err, EXIT_ERROR)


_EGRESS_ONLY: Final = ("layout", "audio_only", "video_only", "preset", "video_bitrate",
                       "audio_bitrate", "keyframe_interval", "output", "hls", "stream",
                       "participant", "screen_share", "json")


def local_output(args: argparse.Namespace) -> LocalFormat:
    """The picture ``record start --local`` records; BadRecordingOptions for egress options."""
    given = [f"--{n.replace('_', '-')}" for n in _EGRESS_ONLY if getattr(args, n)]
    if given:
        raise BadRecordingOptions(f"--local records the room's grid as MP4: {', '.join(given)}"
                                  " apply to egress recordings only.")
    from recconsole.realtime.local_recorder import OutputFormat as LocalFormat

    width, height, fps = args.width or 1280, args.height or 720, args.fps or 30
    if not (16 <= width <= 4096 and 16 <= height <= 4096 and width % 2 == 0
            and height % 2 == 0 and 1 <= fps <= 60):
        raise BadRecordingOptions(f"--local records an even size from 16 to 4096 at 1 to 60"
                                  f" fps, not {width}x{height} at {fps}.")
    return LocalFormat(width, height, fps)


def _say(text: str) -> None:
    print(f"recconsole record: {text}", file=sys.stderr, flush=True)


async def _act(recorder: Recorder, args: argparse.Namespace,
               options: RecordingOptions | None) -> int:
    room = args.room
    if args.record_command == "start":
        assert options is not None
        await recorder.server.ensure_room(room)
        await recorder.start(room, StartOptions(max_duration=args.max_duration,
                                                recording=options))
        live = await _live(recorder, room)
        _print(args, {"room": room, "action": "started", "options": options.to_json(),
                      "egresses": [egress_json(e) for e in live]},
               f"recording {room!r}: {options.describe()}; "
               + ", ".join(f"{e.egress_id} {_status(e)}" for e in live))
        return 0
    if args.record_command == "stop":
        info = await recorder.stop(room)
        _print(args, {"room": room, "action": "stopped", "egress": egress_json(info)},
               f"stopping the recording of {room!r} ({info.egress_id} {_status(info)})")
        return 0
    live = await _live(recorder, room)
    status = await recorder.server.recording_status(room)
    _print(args, {"room": room, "recording": bool(live),
                  "recordingStatus": status.value if status else None,
                  "egresses": [egress_json(e) for e in live]},
           (f"{room!r}: recording, " + ", ".join(
               f"{e.egress_id} {_status(e)} ({describe(e)})" for e in live)) if live
           else f"{room!r}: not recording")
    return 0 if live else EXIT_NOT_RECORDING


async def _live(recorder: Recorder, room: str) -> list[api.EgressInfo]:
    return [e for e in await recorder.server.list_egress(room, active=True)
            if egress_is_active(e)]


def _status(egress: api.EgressInfo) -> str:
    return api.EgressStatus.Name(egress.status).removeprefix("EGRESS_")


def describe(egress: api.EgressInfo) -> str:
    if egress.WhichOneof("request") == "participant":
        return f"participant {egress.participant.identity}"
    return f"room, {egress.room_composite.layout or 'grid'} layout"


def egress_json(egress: api.EgressInfo) -> dict[str, Any]:
    """One egress as ``record --json`` prints it."""
    participant = egress.WhichOneof("request") == "participant"
    return {
        "egressId": egress.egress_id,
        "status": _status(egress),
        "kind": "participant" if participant else "room",
        "participant": egress.participant.identity if participant else None,
        "session": session_of(egress) or None,
        "startedAt": egress.started_at // 1_000_000 or None,
        "error": egress.error or None,
    }


def _print(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data) if args.json else text)


def _fail(args: argparse.Namespace, err: ConsoleError, code: int) -> int:
    print(f"recconsole record {args.record_command}: {err}", file=sys.stderr)
    if args.json:
        print(json.dumps({"room": args.room, "error": str(err), "exitCode": code}))
    return code
