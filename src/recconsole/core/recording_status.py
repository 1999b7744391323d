"""The five recording states of a room, as browser clients of the tutorial read them."""

from __future__ import annotations

from enum import StrEnum

from livekit import api


class RecordingStatus(StrEnum):
    """``recordingStatus`` in the room metadata."""

    STARTING = "STARTING"
    STARTED = "STARTED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    FAILED = "FAILED"

    @property
    def busy(self) -> bool:
        """A recording is being made (or about to be, or finishing)."""
        return self in (RecordingStatus.STARTING, RecordingStatus.STARTED, RecordingStatus.STOPPING)


_FROM_EGRESS: dict[int, RecordingStatus] = {
    api.EgressStatus.EGRESS_STARTING: RecordingStatus.STARTING,
    api.EgressStatus.EGRESS_ACTIVE: RecordingStatus.STARTED,
    api.EgressStatus.EGRESS_ENDING: RecordingStatus.STOPPING,
    api.EgressStatus.EGRESS_COMPLETE: RecordingStatus.STOPPED,
}


def status_from_egress(status: int) -> RecordingStatus:
    """EGRESS_STARTING→STARTING, ACTIVE→STARTED, ENDING→STOPPING, COMPLETE→STOPPED, else FAILED."""
    return _FROM_EGRESS.get(int(status), RecordingStatus.FAILED)


def egress_is_active(info: api.EgressInfo) -> bool:
    """The egress is still recording or about to (not yet ending or ended)."""
    return info.status in (api.EgressStatus.EGRESS_STARTING, api.EgressStatus.EGRESS_ACTIVE)
