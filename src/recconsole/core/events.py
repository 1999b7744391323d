"""App events: a small synchronous pub/sub between services and whoever shows them.

Services publish plain dataclasses; the window (or a test) subscribes. Handlers
run in the publisher's thread and loop and must not block.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recconsole.core.recording_status import RecordingStatus

log = logging.getLogger(__name__)

Handler = Callable[[Any], None]


@dataclass(frozen=True)
class RecordingStatusChanged:
    """A room's recording state was published to its metadata."""

    room: str
    status: RecordingStatus
    egress_id: str = ""
    error: str = ""


@dataclass(frozen=True)
class StatusPolled:
    """A recording's state was found by polling its egress, not told by a webhook."""

    room: str
    egress_id: str
    status: RecordingStatus


@dataclass(frozen=True)
class WebhookReceived:
    """A verified webhook, for the event log (no secrets, no URLs)."""

    event: str
    room: str
    egress_id: str = ""
    detail: str = ""
    room_status: str = ""  # recordingStatus in the event's room metadata ("": not said)


@dataclass(frozen=True)
class RecordingSaved:
    """A recording's metadata file was written: recordings lists should refresh."""

    name: str
    room: str


@dataclass(frozen=True)
class DuplicateStopped:
    """Two recordings of one room were started at the same moment; this console's was
    stopped so the other goes on (``kept_by`` says whose it is)."""

    room: str
    stopped_egress_id: str
    kept_egress_id: str
    kept_by: str


@dataclass(frozen=True)
class LimitReached:
    """A recording was stopped by the limit its moderator set (``why`` says which)."""

    room: str
    egress_id: str
    why: str


@dataclass(frozen=True)
class LocalRecordingNotice:
    """What a recording made on this computer went through (spooled, uploaded, kept)."""

    room: str
    message: str


@dataclass(frozen=True)
class EffectDeadLettered:
    """A webhook effect was given up on; it waits in the dead letters for a replay."""

    room: str
    kind: str
    event_id: str
    reason: str


class EventBus:
    """Delivers each published event to every handler subscribed to its type."""

    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = {}

    def subscribe(self, event_type: type, handler: Handler) -> Callable[[], None]:
        """Call ``handler(event)`` for each event of ``event_type``; returns an unsubscribe."""
        self._handlers.setdefault(event_type, []).append(handler)
        return lambda: self._handlers[event_type].remove(handler)

    def publish(self, event: object) -> None:
        for handler in list(self._handlers.get(type(event), ())):
            try:
                handler(event)
            except Exception:  # one bad subscriber must not break the publisher
                log.exception("event handler failed for %s", type(event).__name__)
