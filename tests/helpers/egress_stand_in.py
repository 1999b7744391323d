"""A STAND-IN for the LiveKit egress service's API, for edge cases a real egress
cannot be made to produce on demand (a start stuck in STARTING, an egress that ends the
moment it is asked, records of a given shape). The real egress runs in the dev stack
and records in tests/e2e; tests that use this one say "stand_in" in their names.

Rooms, metadata and messages go to the real LiveKit server; only the egress calls
(start, stop, list) are answered from memory, with the same messages and state
transitions a real egress produces. Tests that use it say so in their names.
"""

from __future__ import annotations

import asyncio
import itertools
import time

from livekit import api

from recconsole.core.livekit_server import LiveKitServer

_ids = itertools.count(1)


class StandInEgressServer(LiveKitServer):
    """A real LiveKitServer whose egress is simulated in memory."""

    def __init__(self, *args: object, stay_starting: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.egresses: dict[str, api.EgressInfo] = {}
        self.stay_starting = stay_starting
        self.abort_after = 0.0  # seconds a stop takes to end a starting egress (ABORTED)
        self.start_gate: asyncio.Event | None = None  # when set, starts wait for it
        self.start_entered = asyncio.Event()
        self.starts = 0
        self.stops: list[str] = []
        self.requests: list[api.RoomCompositeEgressRequest | api.ParticipantEgressRequest] = []

    async def list_egress(self, room_name: str, *, active: bool = True) -> list[api.EgressInfo]:
        # No room name: every room's, as the real ListEgress answers.
        return [e for e in self.egresses.values() if room_name in ("", e.room_name) and (
            not active or e.status in (api.EgressStatus.EGRESS_STARTING,
                                       api.EgressStatus.EGRESS_ACTIVE))]

    async def get_egress(self, egress_id: str) -> api.EgressInfo | None:
        return self.egresses.get(egress_id)

    async def start_egress(
        self, request: api.RoomCompositeEgressRequest | api.ParticipantEgressRequest
    ) -> api.EgressInfo:
        self.starts += 1
        self.requests.append(request)
        room_name = request.room_name
        self.start_entered.set()
        if self.start_gate is not None:
            await self.start_gate.wait()
        egress_id = f"EG_standin{next(_ids)}"
        info = api.EgressInfo(
            egress_id=egress_id, room_name=room_name, status=api.EgressStatus.EGRESS_STARTING,
            started_at=time.time_ns(),
        )
        if isinstance(request, api.ParticipantEgressRequest):
            info.participant.CopyFrom(request)
        else:
            info.room_composite.CopyFrom(request)
        self.egresses[egress_id] = info
        answer = api.EgressInfo()
        answer.CopyFrom(info)
        if not self.stay_starting:
            asyncio.get_running_loop().call_soon(self._activate, egress_id)
        return answer

    def _activate(self, egress_id: str) -> None:
        info = self.egresses[egress_id]
        if info.status == api.EgressStatus.EGRESS_STARTING:
            info.status = api.EgressStatus.EGRESS_ACTIVE

    async def stop_egress(self, egress_id: str) -> api.EgressInfo:
        info = self.egresses[egress_id]
        self.stops.append(egress_id)
        answer = api.EgressInfo()
        if info.status == api.EgressStatus.EGRESS_STARTING:
            # As the real egress does: the answer still says STARTING, it then ends ABORTED.
            answer.CopyFrom(info)
            asyncio.get_running_loop().call_later(self.abort_after, self._abort, egress_id)
            return answer
        info.status = api.EgressStatus.EGRESS_ENDING
        answer.CopyFrom(info)
        asyncio.get_running_loop().call_soon(self._complete, egress_id)
        return answer

    def _abort(self, egress_id: str) -> None:
        info = self.egresses[egress_id]
        info.status = api.EgressStatus.EGRESS_ABORTED
        info.error = "Stopped before it started"

    def _complete(self, egress_id: str) -> None:
        self.egresses[egress_id].status = api.EgressStatus.EGRESS_COMPLETE
