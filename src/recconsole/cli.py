"""Command line entry point: ``recconsole`` opens the console window."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from recconsole import __version__
from recconsole.settings import Settings, SettingsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recconsole",
        description="Recording console for LiveKit and OpenVidu rooms.",
    )
    parser.add_argument("--version", action="version", version=f"recconsole {__version__}")
    parser.add_argument("--livekit-url", help="LiveKit server URL (env LIVEKIT_URL)")
    parser.add_argument("--room", help="room to offer in the join form")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    env = dict(os.environ)
    if args.livekit_url:
        env["LIVEKIT_URL"] = args.livekit_url
    try:
        settings = Settings.from_env(env)
    except SettingsError as err:
        print(f"recconsole: {err}", file=sys.stderr)
        return 2

    from recconsole.ui.app import run_console  # Qt loads only when a window is wanted

    return run_console(settings, room=args.room)
