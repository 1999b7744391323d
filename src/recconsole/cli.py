"""Command line entry point: ``recconsole`` opens the window; ``recconsole listen`` runs
the webhook listener headless; ``recconsole rooms`` lists (or closes) the server's rooms;
``recconsole record`` starts, stops or looks at a room's recording (``--local``: records
it on this computer, without a window); ``recconsole recordings`` lists, deletes or gives a
playable URL of the stored recordings."""

from __future__ import annotations

import argparse
import asyncio
import codecs
import io
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from recconsole import __version__
from recconsole.core.errors import ConsoleError
from recconsole.core.redaction import install_redaction
from recconsole.settings import ENV_NAMES, Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from recconsole.server.durable_queue import DeadLetter, QueueStatus
    from recconsole.server.listener import WebhookListener
    from recconsole.ui.first_screen import FirstScreen


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recconsole",
        description="Recording console for LiveKit and OpenVidu rooms.",
    )
    parser.add_argument("--version", action="version", version=f"recconsole {__version__}")
    parser.add_argument("--livekit-url", help="LiveKit server URL (env LIVEKIT_URL)")
    parser.add_argument("--room", help="room to offer in the join form")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="any setting by its environment name, e.g. --set S3_BUCKET=rec")
    parser.add_argument("--env-file", type=Path, default=Path(".env"),
                        help="a .env file to read settings from (default ./.env)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--self-test", action="store_true",
                        help="open and close the window offscreen, load every part, report")
    parser.add_argument("--join", metavar="ROOM",
                        help="with --self-test: also join ROOM and wait for video frames")
    parser.add_argument("--screenshot", type=Path, metavar="PNG",
                        help="with --self-test: save a picture of the window to PNG")
    parser.add_argument("--install-desktop-entry", action="store_true",
                        help="add recconsole to this user's desktop menu (for pip and pipx"
                             " installs), then exit")
    commands = parser.add_subparsers(dest="command")
    listen = commands.add_parser(
        "listen", help="run the webhook listener headless (POST /livekit/webhook)")
    listen.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")
    listen.add_argument("--port", type=int, help="port (default SERVER_PORT, 6080)")
    listen.add_argument("--data-dir", type=Path, help="where the durable queue lives")
    listen.add_argument("--status", action="store_true",
                        help="print the queue's depth, the rooms retrying and the dead letters,"
                             " then exit")
    listen.add_argument("--json", action="store_true", help="with --status: as JSON")
    listen.add_argument("--replay", nargs="+", metavar="ID",
                        help="put dead letters back in the queue (their ids, or 'all'), then"
                             " exit; a running listener applies them")
    rooms = commands.add_parser(
        "rooms", help="every room on the LiveKit server, with its recording; or close one")
    rooms.add_argument("--json", action="store_true", help="as JSON")
    rooms.add_argument("--no-recordings", action="store_true",
                       help="do not count the recordings stored for each room (no listing)")
    room_actions = rooms.add_subparsers(dest="rooms_command")
    close = room_actions.add_parser("close", help="close a room: everyone in it is disconnected")
    close.add_argument("room")
    from recconsole.cli_record_parser import add_record_parser  # loads nothing heavy
    from recconsole.cli_recordings import add_recordings_parser  # loads nothing heavy

    add_record_parser(commands)
    add_recordings_parser(commands)
    return parser


# Python 3.11's argparse takes an option value of exactly "--" for the end of the options
# and drops it: a room named "--" (``--room=--``) passes it as a placeholder no command
# line can hold (a NUL).
_ROOM_DASHES = "--room=\x00--"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(
        [_ROOM_DASHES if a == "--room=--" else a for a in
         (sys.argv[1:] if argv is None else argv)])
    if getattr(args, "room", None) == _ROOM_DASHES.removeprefix("--room="):
        args.room = "--"
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_redaction()
    if args.install_desktop_entry:
        from recconsole.desktop_entry import install_desktop_entry, this_command

        for path in install_desktop_entry(this_command()):
            print(path)
        return 0
    # The window shows before anything else loads, the settings (and the OS keyring) too.
    first = _first_screen(args) if args.command is None else None
    try:
        settings = load_settings(_cli_settings(args), dotenv=args.env_file)
    except SettingsError as err:
        if first is not None:
            first.close()
        print(f"recconsole: {err}", file=sys.stderr)
        return 2
    if args.command == "listen":
        try:
            return asyncio.run(_listen(settings, args))
        except (ConsoleError, OSError) as err:
            print(f"recconsole listen: {err}", file=sys.stderr)
            return 1

    if args.command == "rooms":
        from recconsole.cli_rooms import run_rooms  # not for the window

        try:
            return asyncio.run(run_rooms(settings, args))
        except ConsoleError as err:
            print(f"recconsole rooms: {err}", file=sys.stderr)
            return 1

    if args.command == "record":
        from recconsole.cli_record import run_record  # not for the window

        return asyncio.run(run_record(settings, args))

    if args.command == "recordings":
        from recconsole.cli_recordings import run_recordings  # not for the window

        return asyncio.run(run_recordings(settings, args))

    assert first is not None
    first.say("Loading the LiveKit client, the storage clients and the web server…")
    from recconsole.ui.app import run_console, self_test

    if args.self_test:
        return self_test(settings, join=args.join, screenshot=args.screenshot, first=first)
    return run_console(settings, room=args.room, first=first)


def _first_screen(args: argparse.Namespace) -> FirstScreen:
    """The console's first screen, shown: Qt loads only for a window, and the window
    shows before the rest of the console loads (its SDKs and clients take several times
    as long as a window)."""
    if args.self_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from recconsole.ui.first_screen import create_application, show_first_screen

    first = show_first_screen(create_application())
    if args.self_test:
        print("window shown", flush=True)  # startup benchmarks time this line
    return first


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


async def _listen(settings: Settings, args: argparse.Namespace) -> int:
    from recconsole.server.listener import WebhookListener, queue_path  # not for the window

    looking = bool(args.status or args.replay)
    # Looking must not create: a mistyped --data-dir would say "dead 0" of a new file.
    if looking and not queue_path(args.data_dir).exists():
        raise ConsoleError(f"no webhook queue in {queue_path(args.data_dir).parent}"
                           " (no listener has used this data folder; see --data-dir)")
    listener = WebhookListener(settings, host=args.host, port=args.port, data_dir=args.data_dir)
    if looking:
        await listener.queue.open()
        try:
            if args.replay:
                return await _replay(listener, args.replay)
            _print_status(await listener.status(), await listener.queue.dead_letters(),
                          as_json=args.json)
        finally:
            await listener.stop()
        return 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await listener.start()
    print(f"recconsole listen: {listener.url}", file=sys.stderr, flush=True)
    await stop.wait()
    logging.getLogger("recconsole").info("stopping: finishing requests in flight")
    await listener.stop()
    return 0


async def _replay(listener: WebhookListener, values: list[str]) -> int:
    """Put dead letters back; 1 if some id named no dead letter."""
    if values == ["all"]:
        count = await listener.queue.replay()
        print(f"{count} dead letter{'s' if count != 1 else ''} queued again")
        return 0
    ids = _ids(values)
    dead = {letter.id for letter in await listener.queue.dead_letters(limit=1_000_000)}
    missing = [i for i in dict.fromkeys(ids) if i not in dead]
    count = await listener.queue.replay([i for i in dict.fromkeys(ids) if i in dead])
    print(f"{count} dead letter{'s' if count != 1 else ''} queued again")
    if missing:
        print(f"recconsole listen: no dead letter {', '.join(map(str, missing))}"
              " (recconsole listen --status lists them)", file=sys.stderr)
        return 1
    return 0


def _ids(values: list[str]) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        raise ConsoleError("--replay takes dead letter ids (numbers) or 'all'") from None


def _print_status(status: QueueStatus, dead: list[DeadLetter], *, as_json: bool) -> None:
    # Room names are anything people typed: never a UnicodeEncodeError on a console or
    # pipe that is not UTF-8 (escaped there; JSON then escapes to ASCII, still valid).
    try:
        utf8 = codecs.lookup(getattr(sys.stdout, "encoding", None) or "ascii").name == "utf-8"
    except LookupError:
        utf8 = False
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    if as_json:
        print(json.dumps({
            "pending": status.pending, "retrying": status.retrying, "done": status.done,
            "dead": status.dead, "lastError": status.last_error,
            "retryingRooms": [{"room": r.room, "kind": r.kind, "attempts": r.attempts,
                               "error": r.error} for r in status.retrying_rooms],
            "deadLetters": [{"id": d.id, "room": d.room, "kind": d.kind, "eventId": d.event_id,
                             "attempts": d.attempts, "error": d.error,
                             "deadAt": round(d.dead_at, 3)} for d in dead],
        }, ensure_ascii=not utf8))
        return
    print(f"pending {status.pending}, retrying {status.retrying}, done {status.done},"
          f" dead {status.dead}"
          + (f", last error: {status.last_error}" if status.last_error else ""))
    for room in status.retrying_rooms:
        print(f"retrying room {room.room!r}: {room.kind}, {room.attempts}"
              f" attempt{'s' if room.attempts != 1 else ''}: {room.error}")
    for letter in dead:
        print(f"dead letter {letter.id}: room {letter.room!r} {letter.kind}: {letter.error}"
              f" (recconsole listen --replay {letter.id})")
