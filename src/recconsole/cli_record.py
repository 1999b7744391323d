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
    stop = actions.add_parser("stop", help="stop a room's recording")
    stop.add_argument("room")
    return record


async def run_record(settings: Settings, args: argparse.Namespace) -> int:
    from recconsole.realtime.headless_recorder import record_here, stop_recording

    if args.record_command == "start":
        key = await record_here(settings, args.room, args.duration, _say)
        if key is None:
            return 1
        print(key)
        return 0
    return await stop_recording(settings, args.room, _say)


def _say(text: str) -> None:
    print(f"recconsole record: {text}", file=sys.stderr, flush=True)
