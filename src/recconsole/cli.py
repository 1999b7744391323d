"""Command line entry point: ``recconsole`` opens the console window."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from recconsole import __version__
from recconsole.settings import ENV_NAMES, SettingsError, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recconsole",
        description="Recording console for LiveKit and OpenVidu rooms.",
    )
    parser.add_argument("--version", action="version", version=f"recconsole {__version__}")
    parser.add_argument("--livekit-url", help="LiveKit server URL (env LIVEKIT_URL)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="any setting by its environment name, e.g. --set S3_BUCKET=rec")
    parser.add_argument("--env-file", type=Path, default=Path(".env"),
                        help="a .env file to read settings from (default ./.env)")
    parser.add_argument("--room", help="room to offer in the join form")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(_cli_settings(args), dotenv=args.env_file)
    except SettingsError as err:
        print(f"recconsole: {err}", file=sys.stderr)
        return 2

    from recconsole.ui.app import run_console  # Qt loads only when a window is wanted

    return run_console(settings, room=args.room)


def _cli_settings(args: argparse.Namespace) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or name not in ENV_NAMES:
            raise SettingsError(f"--set wants NAME=VALUE with a known setting name, not {item!r}")
        values[name] = value
    if args.livekit_url:
        values["LIVEKIT_URL"] = args.livekit_url
    return values
