"""``recconsole recordings list|delete|url``: the recordings page from a script.

The same code as the window's: the listing is :class:`RecordingsCatalog`'s (the store
the settings choose, in the tutorial's layout), a deletion is
:class:`RecordingsService`'s (file, metadata, an HLS playlist's segments; refused while
the recording is being made; the room is told), a URL is the player's
(:func:`recconsole.server.playback_access.playback_url`).

Exit codes a script can rely on: 0 done, 2 a bad option, name or setting (refused before
anything is sent), 6 no such recording, 7 still being recorded (not deleted), 1 anything
else (storage or LiveKit unreachable, credentials refused). Errors are one line on
stderr, ``recconsole recordings ACTION: …``; ``--json`` prints one object on stdout (see
the README for the shapes). Nothing heavy loads until a command runs.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import time
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from recconsole.settings import Settings

if TYPE_CHECKING:
    from recconsole.core.recording_info import RecordingInfo
    from recconsole.storage.catalog import RecordingsCatalog

EXIT_ERROR: Final = 1
EXIT_BAD_OPTION: Final = 2
EXIT_NO_SUCH_RECORDING: Final = 6
EXIT_IN_PROGRESS: Final = 7
MAX_EXPIRES: Final = 7 * 24 * 3600  # the longest presigned (S3) or SAS (Azure) link
HEADERS: Final = ("Name", "Room", "Started", "Duration", "Size", "Status", "Recording")
_FORMATS: Final = {".mp4": "mp4", ".ogg": "ogg", ".m3u8": "hls"}
_PROMOTED: Final = ("status", "error", "kind", "participant", "session")


class Refused(Exception):
    """A command refused with an exit code; ``str()`` is the one line said."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def add_recordings_parser(commands: Any) -> None:
    """The ``recordings`` command and its three actions, on the main parser's subparsers."""
    recordings = commands.add_parser(
        "recordings", help="list, delete or get a playable URL of the stored recordings")
    actions = recordings.add_subparsers(dest="recordings_command", required=True)
    listing = actions.add_parser("list", help="every recording in the storage, newest first")
    listing.add_argument("--room", help="only the recordings of the room of this name")
    listing.add_argument("--json", action="store_true", help="as JSON")
    delete = actions.add_parser(
        "delete", help="delete recordings: the file and its metadata (an HLS playlist's"
                       " segments too); the room is told")
    delete.add_argument("names", nargs="+", metavar="NAME",
                        help="a recording's name as listed (its path under RECORDINGS_PATH)")
    delete.add_argument("--json", action="store_true", help="as JSON")
    url = actions.add_parser("url", help="a URL a player can open (presigned, SAS or PROXY,"
                                         " as RECORDING_PLAYBACK_STRATEGY says)")
    url.add_argument("name", metavar="NAME")
    url.add_argument("--expires", type=int, metavar="SECONDS",
                     help="how long the link lasts (default RECORDING_URL_EXPIRY; at most"
                          f" {MAX_EXPIRES}, 7 days)")
    url.add_argument("--json", action="store_true", help="as JSON")


async def run_recordings(settings: Settings, args: argparse.Namespace) -> int:
    """Run ``recordings list|delete|url``; returns the exit code."""
    logger = logging.getLogger("recconsole")
    level = logger.level
    if not args.verbose:  # the service logs each deletion: the command says it already
        logger.setLevel(logging.WARNING)
    _tolerant_stdout()
    try:
        if args.recordings_command == "delete":
            return await _delete(settings, args)
        if args.recordings_command == "url":
            return await _url(settings, args)
        return await _list(settings, args)
    except Refused as err:
        return _fail(args, str(err), err.code)
    finally:
        logger.setLevel(level)


def _catalog(settings: Settings) -> RecordingsCatalog:
    """The window's catalog of the settings' store (without its on-disk index)."""
    from recconsole.core.errors import ConsoleError
    from recconsole.storage.base import StoreError
    from recconsole.storage.catalog import RecordingsCatalog
    from recconsole.storage.factory import store_from_settings

    try:
        return RecordingsCatalog(store_from_settings(settings), settings.recordings_path)
    except (StoreError, ConsoleError) as err:  # a malformed endpoint, a missing account
        raise Refused(str(err), EXIT_BAD_OPTION) from None


def delete_exit_code(results: dict[str, Exception | None]) -> int:
    """0 when every name was deleted, else the code every failure shares, or 1."""
    codes = {_failure_code(err) for err in results.values() if err is not None}
    return 0 if not codes else codes.pop() if len(codes) == 1 else EXIT_ERROR


def _failure_code(err: BaseException) -> int:
    from recconsole.core.errors import RecordingInProgress
    from recconsole.core.recording_info import RecordingNameError
    from recconsole.storage.base import ObjectNotFound

    if isinstance(err, RecordingNameError):
        return EXIT_BAD_OPTION
    if isinstance(err, ObjectNotFound):
        return EXIT_NO_SUCH_RECORDING
    if isinstance(err, RecordingInProgress):
        return EXIT_IN_PROGRESS
    return EXIT_ERROR


def _message(name: str, err: BaseException, failed: str = "") -> str:
    from recconsole.storage.base import ObjectNotFound

    if isinstance(err, ObjectNotFound):  # the store's words name its key, not the recording
        return f"no recording {name!r} (recconsole recordings list shows them)"
    return f"{name!r}{failed}: {err}"


# -- list ----------------------------------------------------------------------------------


async def _list(settings: Settings, args: argparse.Namespace) -> int:
    from recconsole.core.errors import ConsoleError
    from recconsole.storage.base import StoreError

    catalog = _catalog(settings)
    try:
        rows = await catalog.list_recordings()
    except (StoreError, ConsoleError, OSError) as err:
        raise Refused(str(err), EXIT_ERROR) from None
    finally:
        await catalog.store.aclose()
    if args.room is not None:
        rows = [r for r in rows if r.room_name == args.room]
    if args.json:
        _print_json({"recordings": [recording_json(r) for r in rows]})
    else:
        print_table(rows)
    return 0


def recording_json(info: RecordingInfo) -> dict[str, Any]:
    """One recording as ``recordings list --json`` prints it (see the README)."""
    from recconsole.core.recording_info import MetadataState

    known = info.metadata is MetadataState.OK
    extra = info.extra
    started = info.started_at if info.started_at > 0 else None
    duration = info.duration if known else None

    def text(key: str) -> str | None:
        value = extra.get(key)
        return value if isinstance(value, str) and value else None

    return {
        "name": info.name,
        "room": info.room_name or None,
        "roomId": info.room_id or None,
        "egressId": info.id or None,
        "format": next((f for s, f in _FORMATS.items() if info.name.endswith(s)), None),
        "startedAt": started,
        "endedAt": (round(started + duration * 1000) if started is not None
                    and duration is not None and duration > 0 else None),
        "duration": duration,
        "size": info.size,
        "metadata": info.metadata.value,
        # A metadata file says a status only when the recording did not complete.
        "status": text("status") or ("COMPLETE" if known else None),
        "error": text("error"),
        "kind": text("kind") or ("room" if known else None),
        "participant": text("participant"),
        "session": text("session"),
        "extra": {k: v for k, v in extra.items() if k not in _PROMOTED},
    }


def print_table(rows: list[RecordingInfo]) -> None:
    table = [(_cell(r.name), _cell(r.room_name) or "-", _started(r.started_at),
              _duration(r), _size(r.size), _status(r), _kind(r)) for r in rows]
    widths = [max([len(h), *(len(row[i]) for row in table)]) for i, h in enumerate(HEADERS)]
    for row in (HEADERS, *table):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
    print(f"{len(rows)} recording{'s' if len(rows) != 1 else ''}")


def _cell(text: str) -> str:
    """Control characters (a newline in a room's name) escaped: one row stays one line."""
    return "".join(c if unicodedata.category(c)[0] != "C" or c == " "
                   else c.encode("unicode_escape").decode() for c in text)


def _started(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S") if ms > 0 else "-"


def _duration(info: RecordingInfo) -> str:
    from recconsole.core.recording_info import MetadataState

    if info.metadata is not MetadataState.OK:
        return "-"
    whole = round(info.duration)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _status(info: RecordingInfo) -> str:
    from recconsole.core.recording_info import MetadataState

    if info.metadata is MetadataState.MISSING:
        return "no metadata"
    if info.metadata is MetadataState.UNREADABLE:
        return "metadata unreadable"
    return _cell(str(info.extra.get("status") or "COMPLETE"))


def _kind(info: RecordingInfo) -> str:
    from recconsole.core.recording_info import MetadataState

    if info.metadata is not MetadataState.OK:
        return "-"
    extra = info.extra
    if extra.get("kind") == "participant":
        who = _cell(str(extra.get("participant", "?")))
        session = str(extra.get("session", ""))
        return (f"{who}'s screen" if extra.get("screenShare") else who) + (
            f", session {_cell(session.rsplit('-', 1)[-1])}" if session else "")
    return f"room, {_cell(str(extra.get('layout', 'grid')))}"


# -- delete --------------------------------------------------------------------------------


async def _delete(settings: Settings, args: argparse.Namespace) -> int:
    from recconsole.core.livekit_server import LiveKitServer
    from recconsole.core.recording_info import RecordingNameError, validate_recording_file
    from recconsole.storage.recordings import RecordingsService

    names = list(dict.fromkeys(args.names))
    for name in names:  # all refused before anything is sent, as a bad option is
        try:
            validate_recording_file(name)
        except RecordingNameError as err:
            raise Refused(str(err), EXIT_BAD_OPTION) from None
    catalog = _catalog(settings)
    try:
        async with LiveKitServer(settings.livekit_url, settings.livekit_api_key,
                                 settings.livekit_api_secret.value,
                                 app_name=settings.app_name) as server:
            results = await RecordingsService(catalog, server).delete_many(names)
    finally:
        await catalog.store.aclose()
    failed = {name: err for name, err in results.items() if err is not None}
    code = delete_exit_code(results)
    for name, problem in failed.items():
        print(f"recconsole recordings delete: {_message(name, problem, ' not deleted')}",
              file=sys.stderr)
    if args.json:
        _print_json({
            "results": [{"name": name, "deleted": problem is None,
                         "error": _message(name, problem, " not deleted") if problem else None,
                         "exitCode": _failure_code(problem) if problem else 0}
                        for name, problem in results.items()],
            "deleted": len(results) - len(failed), "failed": len(failed), "exitCode": code})
    else:
        for name in [n for n in results if n not in failed]:  # in the order given
            print(f"deleted {_cell(name)}")
    return code


# -- url -----------------------------------------------------------------------------------


async def _url(settings: Settings, args: argparse.Namespace) -> int:
    from recconsole.core.recording_info import RecordingNameError, validate_recording_file
    from recconsole.server.playback_access import PlaybackAccess, playback_url, proxied
    from recconsole.storage.base import ObjectNotFound, StoreError

    expires = settings.recording_url_expiry if args.expires is None else args.expires
    if not 1 <= expires <= MAX_EXPIRES:
        raise Refused(f"--expires must be 1 to {MAX_EXPIRES} seconds (7 days), not {expires}",
                      EXIT_BAD_OPTION)
    try:
        validate_recording_file(args.name)
    except RecordingNameError as err:
        raise Refused(str(err), EXIT_BAD_OPTION) from None
    catalog = _catalog(settings)
    try:
        await catalog.store.head(catalog.recording_key(args.name))
        # The window's player's URL, signed as its links are (a listener wanting a
        # credential takes it; one that does not ignores the signature).
        url = await playback_url(settings, catalog,
                                 PlaybackAccess.for_listener(settings, "127.0.0.1"),
                                 args.name, expires)
    except ObjectNotFound as err:
        raise Refused(_message(args.name, err), EXIT_NO_SUCH_RECORDING) from None
    except StoreError as err:
        raise Refused(str(err), EXIT_ERROR) from None
    finally:
        await catalog.store.aclose()
    via = "proxy" if proxied(settings, args.name) else settings.recordings_storage
    if args.json:
        _print_json({"name": args.name, "url": url, "via": via,
                     "expiresAt": None if via == "local" else
                     round((time.time() + expires) * 1000)})
    else:
        print(url)
    return 0


# -- output --------------------------------------------------------------------------------


def _tolerant_stdout() -> None:
    # Names are anything people typed: never a UnicodeEncodeError on a console or pipe
    # that is not UTF-8 (escaped there; JSON then escapes to ASCII, still valid).
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")


def _print_json(data: dict[str, Any]) -> None:
    utf8 = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "") == "utf8"
    print(json.dumps(data, ensure_ascii=not utf8))


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    print(f"recconsole recordings {args.recordings_command}: {message}", file=sys.stderr)
    if args.json:
        _print_json({"error": message, "exitCode": code})
    return code
