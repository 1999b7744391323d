"""``recconsole record start ROOM --local [--duration S]`` and ``recconsole record stop ROOM``.

``start --local`` records the room on this computer without a window (see
:mod:`recconsole.realtime.headless_recorder`); ``stop`` asks whoever records it to
stop. The recording modules load only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from recconsole.settings import Settings


def add_record_command(commands: Any) -> argparse.ArgumentParser:
    """The ``record`` command and its ``start`` / ``stop`` actions."""
    record: argparse.ArgumentParser = commands.add_parser(
        "record", help="start or stop a room's recording")
    actions = record.add_subparsers(dest="record_command", required=True)
    start = actions.add_parser("start", help="record a room")
    start.add_argument("room")
    start.add_argument("--local", action="store_true", required=True,
                       help="record on this computer: join hidden and record the room's grid"
                            " and sound, then upload to the recordings storage")
    start.add_argument("--duration", type=float, metavar="S",
                       help="stop after S seconds (else on Ctrl-C or `record stop ROOM`)")
    start.add_argument("--size", type=_size, default=(1280, 720), metavar="WxH",
                       help="the recorded picture's size (default 1280x720)")
    start.add_argument("--fps", type=int, default=30, choices=range(1, 61), metavar="N",
                       help="pictures per second recorded (default 30)")
    stop = actions.add_parser("stop", help="stop a room's recording")
    stop.add_argument("room")
    return record


def _size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    try:
        size = int(width), int(height)
    except ValueError:
        size = (0, 0)
    if not sep or not all(16 <= v <= 4096 and v % 2 == 0 for v in size):
        raise argparse.ArgumentTypeError(f"not an even size WxH from 16 to 4096: {text!r}")
    return size


async def run_record(settings: Settings, args: argparse.Namespace) -> int:
    from recconsole.realtime.headless_recorder import record_here, stop_recording
    from recconsole.realtime.local_recorder import OutputFormat

    if args.record_command == "start":
        output = OutputFormat(args.size[0], args.size[1], args.fps)
        key = await record_here(settings, args.room, args.duration, _say, output)
        if key is None:
            return 1
        print(key)
        return 0
    return await stop_recording(settings, args.room, _say)


def _say(text: str) -> None:
    print(f"recconsole record: {text}", file=sys.stderr, flush=True)
