"""Recordings the console started, and the limits that stop them by themselves.

A moderator may ask a recording to stop after a maximum duration, or once the
room has been empty for a while. Those limits are stored with the recording in a
:class:`StartedRecordings` registry (a file shared by the processes of one
machine, or Redis shared by a deployment), not in the window: whichever listener
runs — the window's, or ``recconsole listen`` after the window closed — enforces
them with :class:`LimitEnforcer`.

The registry also tells the listener which egresses are the console's own, so a
recording started in a room another app created is still finished (metadata file,
lock, status) by the console that started it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from livekit import api

from recconsole.core.errors import ConsoleError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartedRecording:
    """A recording the console started, with its limits (None: no such limit)."""

    egress_id: str
    room: str
    started: float  # seconds since the epoch
    stop_at: float | None = None  # seconds since the epoch
    stop_when_empty_after: float | None = None  # seconds with nobody left
    consoles: tuple[str, ...] = field(default=())  # identities that do not count as people

    @property
    def limited(self) -> bool:
        return self.stop_at is not None or self.stop_when_empty_after is not None


class StartedRecordings(Protocol):
    """Where started recordings are kept (see ``server.registry``)."""

    async def add(self, recording: StartedRecording) -> None: ...

    async def get(self, egress_id: str) -> StartedRecording | None: ...

    async def limited(self) -> list[StartedRecording]: ...

    async def finish(self, egress_id: str) -> None: ...


class MemoryStartedRecordings:
    """The registry of one process (tests, and a console with nowhere to keep it)."""

    def __init__(self) -> None:
        self._all: dict[str, StartedRecording] = {}
        self._finished: set[str] = set()

    async def add(self, recording: StartedRecording) -> None:
        self._all[recording.egress_id] = recording

    async def get(self, egress_id: str) -> StartedRecording | None:
        return self._all.get(egress_id)

    async def limited(self) -> list[StartedRecording]:
        return [r for r in self._all.values() if r.limited and r.egress_id not in self._finished]

    async def finish(self, egress_id: str) -> None:
        self._finished.add(egress_id)


class EgressControl(Protocol):
    """What enforcing limits needs from the LiveKit server."""

    async def get_egress(self, egress_id: str) -> api.EgressInfo | None: ...

    async def stop_egress(self, egress_id: str) -> api.EgressInfo: ...

    async def list_participants(self, name: str) -> list[api.ParticipantInfo]: ...


_LIVE = (api.EgressStatus.EGRESS_STARTING, api.EgressStatus.EGRESS_ACTIVE)


class LimitEnforcer:
    """Stops recordings whose maximum duration passed or whose room stayed empty.

    ``stopped(recording, why, info)`` is called for each recording it stops.
    """

    def __init__(
        self,
        server: EgressControl,
        registry: StartedRecordings,
        *,
        every: float = 2.0,
        clock: Callable[[], float] = time.time,
        stopped: Callable[[StartedRecording, str, api.EgressInfo], object] | None = None,
    ) -> None:
        self.server, self.registry = server, registry
        self.every = every
        self._clock = clock
        self._stopped = stopped
        self._empty_since: dict[str, float] = {}

    def empty_since(self, egress_id: str) -> float | None:
        """When the recording's room was last seen empty (its stop-when-empty countdown
        runs from then), or None."""
        return self._empty_since.get(egress_id)

    def now(self) -> float:
        return self._clock()

    async def run(self) -> None:
        """Check every ``every`` seconds until cancelled."""
        while True:
            try:
                await self.check()
            except ConsoleError as err:
                log.warning("could not check recording limits: %s", err)
            await asyncio.sleep(self.every)

    async def check(self) -> list[str]:
        """One pass over the limited recordings; returns the egress ids it stopped."""
        stopped = []
        for recording in await self.registry.limited():
            why = await self._why_stop(recording)
            if why is None:
                continue
            log.info("stopping recording %s of room %r: %s", recording.egress_id,
                     recording.room, why)
            try:
                info = await self.server.stop_egress(recording.egress_id)
            except ConsoleError as err:  # ended meanwhile, or stopped by another enforcer
                log.info("recording %s was not stopped: %s", recording.egress_id, err)
                await self.registry.finish(recording.egress_id)
                continue
            await self.registry.finish(recording.egress_id)
            self._empty_since.pop(recording.egress_id, None)
            stopped.append(recording.egress_id)
            if self._stopped is not None:
                self._stopped(recording, why, info)
        return stopped

    async def _why_stop(self, recording: StartedRecording) -> str | None:
        info = await self.server.get_egress(recording.egress_id)
        if info is None or info.status not in _LIVE:
            await self.registry.finish(recording.egress_id)
            self._empty_since.pop(recording.egress_id, None)
            return None
        now = self._clock()
        if recording.stop_at is not None and now >= recording.stop_at:
            limit = recording.stop_at - recording.started
            return f"maximum duration of {limit:.0f} s reached"
        if recording.stop_when_empty_after is None:
            return None
        people = await self.server.list_participants(recording.room)
        if any(counts_as_person(p, recording.consoles) for p in people):
            self._empty_since.pop(recording.egress_id, None)
            return None
        since = self._empty_since.setdefault(recording.egress_id, now)
        if now - since >= recording.stop_when_empty_after:
            return "everyone left the room"
        return None


def counts_as_person(
    participant: api.ParticipantInfo, consoles: tuple[str, ...] | set[str]
) -> bool:
    """Someone the room is recorded for: not a console, an egress or a hidden observer."""
    if participant.identity in consoles:
        return False
    if participant.kind == api.ParticipantInfo.Kind.EGRESS:
        return False
    return not participant.permission.hidden
