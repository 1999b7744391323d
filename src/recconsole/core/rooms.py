"""Every room on a LiveKit server at a glance, and what an operator does to rooms from afar.

:class:`RoomsOverview` reads the whole server in two calls (ListRooms and the active
egresses of every room), so a thousand rooms cost no more round trips than one.
The room's own ``recordingStatus`` and its running egress are both kept: they can
disagree (a missed egress_ended, another app writing the metadata), and the
operator sees it. LiveKit refreshes a room's participant counts in ListRooms only
every few seconds, so :meth:`RoomsOverview.counts` asks ListParticipants for one
room when a webhook says someone came, went or published.

:class:`RoomControl` acts: start and stop recordings (through the console's
:class:`~recconsole.core.recorder.Recorder`, so the same per-room locks hold), set a
room's status right, close rooms, mute a participant's microphone or camera and
remove a participant — real RoomService calls, one result per room.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

from livekit import api

from recconsole.core.errors import ConsoleError, EgressUnavailable, RoomNotFound
from recconsole.core.livekit_server import LiveKitServer, parse_metadata
from recconsole.core.recorder import Recorder, StartOptions
from recconsole.core.recording_status import RecordingStatus, status_from_egress

CONCURRENCY: Final = 8  # calls in flight when acting on many rooms
SUMMARY_CHUNK: Final = 250  # rooms read between two turns of the event loop
Source = Literal["microphone", "camera"]
_SOURCES: Final = {"microphone": api.TrackSource.MICROPHONE, "camera": api.TrackSource.CAMERA}


@dataclass(frozen=True)
class RoomSummary:
    """One room as the server describes it now."""

    name: str
    sid: str
    created_by: str  # the metadata's createdBy ("" when it has none)
    created_at: float  # seconds since the epoch
    participants: int  # visible ones (hidden observers and recorders are not counted)
    publishers: int
    metadata_status: RecordingStatus | None  # the metadata's recordingStatus, if any
    recording_error: str  # the metadata's recordingError
    egress_status: RecordingStatus | None  # of the room's running egress; None: none runs
    egress_id: str
    recording_since: float | None  # when the running egress started, seconds since the epoch

    def disagreement(self, egress_known: bool) -> str:
        """Why the metadata and the egress tell different stories ("" when they agree)."""
        if not egress_known or self.metadata_status is None:
            return ""
        said = self.metadata_status.busy
        running = self.egress_status is not None and self.egress_status.busy
        if said and not running:
            return (f"The room's metadata says {self.metadata_status.value}, but no recording"
                    " is running.")
        if running and not said:
            return (f"A recording is running ({self.egress_id}), but the room's metadata says"
                    f" {self.metadata_status.value}.")
        return ""


@dataclass(frozen=True)
class RoomsSnapshot:
    """Every room at one moment; ``egress_known`` is False when egress could not be asked."""

    rooms: list[RoomSummary]
    egress_known: bool
    egress_note: str  # why the egress is not known, in words
    taken_at: float  # time.time() when it was asked


@dataclass(frozen=True)
class Counts:
    """Who is in a room and who publishes, from ListParticipants."""

    participants: int
    publishers: int
    tracks: dict[str, list[str]]  # identity -> what it publishes ("camera", "microphone (muted)")


def _status(raw: object) -> RecordingStatus | None:
    try:
        return RecordingStatus(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def _egress_by_room(egresses: Iterable[api.EgressInfo]) -> dict[str, api.EgressInfo]:
    """The egress that speaks for each room: a room composite first, then the newest."""
    chosen: dict[str, api.EgressInfo] = {}
    for egress in egresses:
        if egress.status not in (api.EgressStatus.EGRESS_STARTING,
                                 api.EgressStatus.EGRESS_ACTIVE,
                                 api.EgressStatus.EGRESS_ENDING):
            continue
        best = chosen.get(egress.room_name)
        rank = (egress.WhichOneof("request") == "room_composite", egress.started_at)
        if best is None or rank > (best.WhichOneof("request") == "room_composite",
                                   best.started_at):
            chosen[egress.room_name] = egress
    return chosen


def summarize(room: api.Room, egress: api.EgressInfo | None) -> RoomSummary:
    metadata = parse_metadata(room.metadata)
    created_by = metadata.get("createdBy")
    error = metadata.get("recordingError")
    since = (egress.started_at or egress.updated_at) / 1e9 if egress is not None else None
    return RoomSummary(
        name=room.name, sid=room.sid,
        created_by=created_by if isinstance(created_by, str) else "",
        created_at=room.creation_time_ms / 1000 if room.creation_time_ms
        else float(room.creation_time),
        participants=room.num_participants, publishers=room.num_publishers,
        metadata_status=_status(metadata.get("recordingStatus")),
        recording_error=error if isinstance(error, str) else "",
        egress_status=status_from_egress(egress.status) if egress is not None else None,
        egress_id=egress.egress_id if egress is not None else "",
        recording_since=since or None,
    )


def describe_tracks(participant: api.ParticipantInfo) -> list[str]:
    """What a participant publishes, in words: ["camera", "microphone (muted)"]."""
    names = {api.TrackSource.CAMERA: "camera", api.TrackSource.MICROPHONE: "microphone",
             api.TrackSource.SCREEN_SHARE: "screen", api.TrackSource.SCREEN_SHARE_AUDIO:
             "screen sound"}
    described = []
    for track in participant.tracks:
        name = names.get(track.source) or (
            "video" if track.type == api.TrackType.VIDEO else "audio")
        described.append(f"{name} (muted)" if track.muted else name)
    return described


class RoomsOverview:
    """Reads every room of one server, with its recording as metadata and egress tell it."""

    def __init__(self, server: LiveKitServer) -> None:
        self.server = server

    async def snapshot(self) -> RoomsSnapshot:
        """All rooms and all running egresses, asked at the same time."""
        taken_at = time.time()
        rooms, egresses = await asyncio.gather(
            self.server.list_rooms(), self.server.list_egress("", active=True),
            return_exceptions=True)
        if isinstance(rooms, BaseException):
            raise rooms
        if isinstance(egresses, EgressUnavailable | ConsoleError):
            egress_known, note, by_room = False, str(egresses), {}
        elif isinstance(egresses, BaseException):
            raise egresses
        else:
            egress_known, note, by_room = True, "", _egress_by_room(egresses)
        summaries: list[RoomSummary] = []
        for start in range(0, len(rooms), SUMMARY_CHUNK):
            if start:
                await asyncio.sleep(0)  # let the event loop breathe between chunks
            summaries.extend(summarize(room, by_room.get(room.name))
                             for room in rooms[start:start + SUMMARY_CHUNK])
        return RoomsSnapshot(summaries, egress_known, note, taken_at)

    async def counts(self, room: str) -> Counts:
        """Participants and publishers now (ListRooms lags by up to 5 s)."""
        people = [p for p in await self.server.list_participants(room)
                  if not p.permission.hidden]
        tracks = {p.identity: describe_tracks(p) for p in people}
        return Counts(len(people), sum(1 for p in people if p.tracks), tracks)

    async def counts_of(self, rooms: Iterable[str]) -> dict[str, Counts]:
        """:meth:`counts` of several rooms, a few at a time (one that fails is left out)."""
        found = await each(list(rooms), self.counts)
        return {room: counts for room, counts in found.items() if isinstance(counts, Counts)}


class RoomControl:
    """What an operator does to rooms without joining them, and a moderator to participants."""

    def __init__(self, server: LiveKitServer, recorder: Recorder) -> None:
        self.server, self.recorder = server, recorder

    async def close(self, room: str) -> None:
        """Close the room: everyone in it is disconnected (DeleteRoom)."""
        await self.server.delete_room(room)

    async def remove(self, room: str, identity: str) -> None:
        """Disconnect one participant from the room (RemoveParticipant)."""
        await self.server.remove_participant(room, identity)

    async def mute(self, room: str, identity: str, source: Source) -> int:
        """Mute the participant's microphone or camera; returns how many tracks were muted.

        RoomNotFound when the participant publishes no such track.
        """
        people = await self.server.list_participants(room)
        person = next((p for p in people if p.identity == identity), None)
        if person is None:
            raise RoomNotFound(f"{identity} is not in the room {room!r} any more.")
        tracks = [t for t in person.tracks if t.source == _SOURCES[source] and not t.muted]
        if not tracks:
            raise RoomNotFound(f"{person.name or identity} has no unmuted {source} to mute.")
        for track in tracks:
            await self.server.mute_track(room, identity, track.sid)
        return len(tracks)

    async def fix_status(self, room: str) -> RecordingStatus | None:
        """Make the room's metadata say what its egress does.

        No recording running: the status goes back to STOPPED (and the recording lock
        is freed). A recording running under a "stopped" status: the status follows it.
        """
        running = await self.recorder.active_recording(room)
        if running is None:
            return await self.recorder.reconcile(room)
        status = status_from_egress(running.status)
        await self.server.set_recording_status(room, status)
        return status

    async def close_many(self, rooms: list[str]) -> dict[str, Exception | None]:
        return failures(await each(rooms, self.close))

    async def start_many(self, rooms: list[str],
                         options: StartOptions | None = None) -> dict[str, Exception | None]:
        chosen = options or StartOptions()
        return failures(await each(rooms, lambda room: self.recorder.start(room, chosen)))

    async def stop_many(self, rooms: list[str]) -> dict[str, Exception | None]:
        return failures(await each(rooms, self.recorder.stop))

    async def fix_many(self, rooms: list[str]) -> dict[str, Exception | None]:
        return failures(await each(rooms, self.fix_status))


async def each(
    rooms: list[str], act: Callable[[str], Awaitable[object]], limit: int = CONCURRENCY
) -> dict[str, Any]:
    """Do ``act`` to every room, a few at a time: what it returned, else the error."""
    gate = asyncio.Semaphore(limit)

    async def one(room: str) -> object:
        async with gate:
            return await act(room)

    outcomes = await asyncio.gather(*(one(room) for room in rooms), return_exceptions=True)
    results: dict[str, Any] = {}
    for room, outcome in zip(rooms, outcomes, strict=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
            raise outcome
        results[room] = outcome
    return results


def failures(results: dict[str, Any]) -> dict[str, Exception | None]:
    """Per room: None where the action worked, else its error."""
    return {room: out if isinstance(out, Exception) else None for room, out in results.items()}
