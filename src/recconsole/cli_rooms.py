"""``recconsole rooms``: the Rooms page's table on a terminal, and closing a room.

``--json`` prints ``{rooms: [...], egressKnown, egressNote, recordingsError}``, one
object per room (see the README for its fields), sorted by name.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections import Counter
from typing import Any

from recconsole.core.errors import ConsoleError
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.rooms import RoomsOverview, RoomsSnapshot, RoomSummary
from recconsole.settings import Settings
from recconsole.storage.base import StoreError
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.factory import store_from_settings

HEADERS = ("Room", "Created by", "People", "Publishing", "Age", "Recording", "Metadata",
           "Time", "Recordings")


async def run_rooms(settings: Settings, args: argparse.Namespace) -> int:
    async with LiveKitServer(settings.livekit_url, settings.livekit_api_key,
                             settings.livekit_api_secret.value,
                             app_name=settings.app_name) as server:
        if args.rooms_command == "close":
            await server.delete_room(args.room)
            print(f"closed room {args.room!r}")
            return 0
        snapshot = await RoomsOverview(server).snapshot()
    counts: Counter[str] | None = None
    recordings_error = None
    if not args.no_recordings:
        try:
            counts = await _recordings_per_room(settings)
        except (ConsoleError, StoreError) as err:
            recordings_error = str(err)
            print(f"recconsole rooms: recordings not counted: {err}", file=sys.stderr)
    # Room names are anything people typed: never a UnicodeEncodeError on a console or
    # pipe that is not UTF-8 (escaped there; JSON then escapes to ASCII, still valid).
    utf8 = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "") == "utf8"
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    if args.json:
        print(json.dumps(as_json(snapshot, counts, recordings_error), ensure_ascii=not utf8))
    else:
        print_table(snapshot, counts)
    return 0


async def _recordings_per_room(settings: Settings) -> Counter[str]:
    catalog = RecordingsCatalog(store_from_settings(settings), settings.recordings_path)
    counts: Counter[str] = Counter()
    try:
        async for batch in catalog.iter_recordings():
            counts.update(info.room_name for info in batch)
    finally:
        await catalog.store.aclose()
    return counts


def as_json(snapshot: RoomsSnapshot, counts: Counter[str] | None,
            recordings_error: str | None) -> dict[str, Any]:
    now = time.time()

    def room(r: RoomSummary) -> dict[str, Any]:
        return {
            "name": r.name, "sid": r.sid, "createdBy": r.created_by or None,
            "participants": r.participants, "publishers": r.publishers,
            "createdAt": round(r.created_at * 1000), "ageSeconds": int(now - r.created_at),
            "recordingStatus": r.metadata_status.value if r.metadata_status else None,
            "recordingError": r.recording_error or None,
            "egress": {
                "egressId": r.egress_id, "status": r.egress_status.value,
                "startedAt": round(r.recording_since * 1000) if r.recording_since else None,
                "elapsedSeconds": int(now - r.recording_since) if r.recording_since else None,
            } if r.egress_status else None,
            "disagreement": r.disagreement(snapshot.egress_known) or None,
            "recordings": counts.get(r.name, 0) if counts is not None else None,
        }

    return {"rooms": [room(r) for r in sorted(snapshot.rooms, key=lambda r: r.name)],
            "egressKnown": snapshot.egress_known, "egressNote": snapshot.egress_note or None,
            "recordingsError": recordings_error}


def print_table(snapshot: RoomsSnapshot, counts: Counter[str] | None) -> None:
    now = time.time()
    rows = []
    for r in sorted(snapshot.rooms, key=lambda r: r.name):
        why = r.disagreement(snapshot.egress_known)
        recording = ("unknown" if not snapshot.egress_known
                     else r.egress_status.value if r.egress_status else "no")
        rows.append((
            r.name, r.created_by or "-", str(r.participants), str(r.publishers),
            _age(now - r.created_at), f"{recording}{' (!)' if why else ''}",
            r.metadata_status.value if r.metadata_status else "-",
            _clock(now - r.recording_since) if r.recording_since else "",
            str(counts.get(r.name, 0)) if counts is not None else "?"))
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(HEADERS)]
    for row in (HEADERS, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
    print(f"{len(rows)} room{'s' if len(rows) != 1 else ''}")
    if not snapshot.egress_known:
        print(f"recording status from the rooms' metadata only: {snapshot.egress_note}")
    for r in snapshot.rooms:
        if why := r.disagreement(snapshot.egress_known):
            print(f"(!) {r.name}: {why}")


def _age(seconds: float) -> str:
    whole = max(0, int(seconds))
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole // 60 % 60:02d}m"


def _clock(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"
