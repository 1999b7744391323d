"""The ``record`` command's arguments (see :mod:`recconsole.cli_record` for what it does).

Apart from it, as every start of the console builds the whole parser: this module loads
nothing, where the command itself loads the LiveKit server API and the recorder.
"""

from __future__ import annotations

from typing import Any


def add_record_parser(commands: Any) -> None:
    """The ``record`` command and its three actions, on the main parser's subparsers."""
    record = commands.add_parser("record", help="start, stop or look at a room's recording")
    actions = record.add_subparsers(dest="record_command", required=True)
    start = actions.add_parser("start", help="start recording a room")
    start.add_argument("room")
    start.add_argument("--layout", help="grid (default), speaker, single-speaker, or one of"
                                        " them with -light")
    content = start.add_mutually_exclusive_group()
    content.add_argument("--audio-only", action="store_true", help="record sound only")
    content.add_argument("--video-only", action="store_true", help="record pictures only")
    start.add_argument("--preset", help="720p30, 720p60, 1080p30, 1080p60, portrait-720p30,"
                                        " portrait-1080p30")
    for name, kind, what in (("width", int, "pixels"), ("height", int, "pixels"),
                             ("fps", int, "frames per second"),
                             ("video-bitrate", int, "kbps"), ("audio-bitrate", int, "kbps"),
                             ("keyframe-interval", float, "seconds")):
        start.add_argument(f"--{name}", type=kind, help=f"advanced encoding: {what}")
    start.add_argument("--output", help="mp4 (default), ogg (with --audio-only) or hls")
    start.add_argument("--hls", action="store_true", help="same as --output hls")
    start.add_argument("--stream", action="append", default=[], metavar="URL",
                       help="also stream live to this rtmp://, rtmps:// or srt:// URL"
                            " (repeatable)")
    who = start.add_mutually_exclusive_group()
    who.add_argument("--participant", metavar="IDENTITY",
                     help="record only this participant (camera and microphone)")
    who.add_argument("--each-participant", action="store_true",
                     help="a file per participant, for everyone in the room now (with"
                          " --local: beside the room's grid, for everyone with a camera)")
    start.add_argument("--screen-share", action="store_true",
                       help="with --participant: their screen share instead of their camera")
    start.add_argument("--max-duration", type=float, metavar="SECONDS",
                       help="stop by itself after this long (kept by a running listener)")
    start.add_argument("--json", action="store_true", help="print the result as JSON")
    start.add_argument("--local", action="store_true",
                       help="record on this computer, not with egress: join hidden, record"
                            " the room's grid and sound (--width, --height, --fps; default"
                            " 1280x720 at 30), upload to the recordings storage")
    start.add_argument("--duration", type=float, metavar="SECONDS",
                       help="with --local: stop after this long (as --max-duration)")
    for name, what in (("stop", "stop a room's recording"),
                       ("status", "the room's recordings going on, if any")):
        action = actions.add_parser(name, help=what)
        action.add_argument("room")
        action.add_argument("--json", action="store_true", help="as JSON")
