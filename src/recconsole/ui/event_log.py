"""The event log: webhooks, recording status changes and errors, newest at the bottom."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import QPlainTextEdit, QWidget

from recconsole.core.events import (
    DuplicateStopped,
    EffectDeadLettered,
    EventBus,
    LimitReached,
    LocalRecordingNotice,
    RecordingSaved,
    RecordingStatusChanged,
    WebhookReceived,
)

MAX_LINES = 2000


class EventLog(QPlainTextEdit):
    """A read-only, bounded log of what the console hears and does."""

    def __init__(self, events: EventBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        self.setObjectName("eventLog")
        self.setPlaceholderText("Webhooks, recording status changes and errors appear here.")
        events.subscribe(WebhookReceived, self._webhook)
        events.subscribe(RecordingStatusChanged, self._status)
        events.subscribe(RecordingSaved, self._saved)
        events.subscribe(DuplicateStopped, self._duplicate)
        events.subscribe(LimitReached, self._limit)
        events.subscribe(EffectDeadLettered, self._dead)
        events.subscribe(LocalRecordingNotice, self._local)

    def add(self, text: str) -> None:
        self.appendPlainText(f"{datetime.now():%H:%M:%S}  {text}")

    def _webhook(self, event: WebhookReceived) -> None:
        detail = f" ({event.detail})" if event.detail else ""
        self.add(f"webhook {event.event} · room {event.room or '—'}{detail}")

    def _status(self, event: RecordingStatusChanged) -> None:
        error = f": {event.error}" if event.error else ""
        self.add(f"recording {event.status.value} · room {event.room}{error}")

    def _saved(self, event: RecordingSaved) -> None:
        self.add(f"recording saved · {event.name}")

    def _duplicate(self, event: DuplicateStopped) -> None:
        self.add(f"room {event.room}: {event.kept_by} started recording at the same moment;"
                 f" its recording {event.kept_egress_id} goes on and this console's"
                 f" {event.stopped_egress_id} was stopped")

    def _limit(self, event: LimitReached) -> None:
        self.add(f"recording {event.egress_id} of room {event.room} stopped: {event.why}")

    def _local(self, event: LocalRecordingNotice) -> None:
        self.add(f"room {event.room} · on this computer: {event.message}")

    def _dead(self, event: EffectDeadLettered) -> None:
        self.add(f"webhook {event.kind} of room {event.room} given up ({event.reason});"
                 " `recconsole listen --replay` retries it")
