"""The LiveKit SDK's repeated warnings, said once and then counted.

When the process is short of CPU, the SDK's native side drops frames it could not
hand over and logs "native video stream queue overflow; dropped N queued frames",
many times a minute. :class:`OverflowSummary` lets the first one through, reworded
with its count, and then one summary per interval with how many more came and how
many frames they dropped (said when the next one comes, or by :meth:`flush`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

SDK_LOGGER = "livekit"
_OVERFLOW = re.compile(r"native (video|audio) stream queue overflow; dropped (\d+)")


class OverflowSummary(logging.Filter):
    """A filter for the SDK's logger; the SDK logs from its own threads, hence the lock."""

    def __init__(self, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._said: set[str] = set()  # kinds whose first overflow was logged
        self._since = 0.0  # when the last message about overflows went out
        self._pending: dict[str, list[int]] = {}  # kind → [overflows, frames] not yet said
        self.total: dict[str, int] = {}  # kind → frames dropped since installed

    def filter(self, record: logging.LogRecord) -> bool:
        match = _OVERFLOW.search(record.getMessage())
        if match is None:
            return True
        kind, dropped = match.group(1), int(match.group(2))
        with self._lock:
            self.total[kind] = self.total.get(kind, 0) + dropped
            now = self._clock()
            if kind not in self._said:
                self._said.add(kind)
                self._since = now
                self._reword(record, (
                    f"The SDK dropped {dropped} {kind} frame(s) it could not hand over in"
                    f" time (native {kind} stream queue overflow): this process is short of"
                    f" CPU. Further overflows are counted and summarised every"
                    f" {self.interval:.0f} s."))
                return True
            counts = self._pending.setdefault(kind, [0, 0])
            counts[0] += 1
            counts[1] += dropped
            if now - self._since < self.interval:
                return False
            self._reword(record, self._summary(now))
            return True

    def flush(self, logger: logging.Logger | None = None) -> None:
        """Log what is counted but not yet said (when a session ends)."""
        with self._lock:
            if not any(n for n, _ in self._pending.values()):
                return
            text = self._summary(self._clock())
        (logger or logging.getLogger(__name__)).warning("%s", text)

    def _summary(self, now: float) -> str:
        """The pending counts, in words; resets them (the caller holds the lock)."""
        parts = [f"{n} more {kind} queue overflow(s), {frames} frame(s) dropped"
                 for kind, (n, frames) in sorted(self._pending.items()) if n]
        text = (f"The SDK reported {'; '.join(parts)} in the last {now - self._since:.0f} s"
                " (this process is short of CPU).")
        self._pending.clear()
        self._since = now
        return text

    @staticmethod
    def _reword(record: logging.LogRecord, text: str) -> None:
        record.msg, record.args = text, ()
        record.levelno, record.levelname = logging.WARNING, "WARNING"


_installed: OverflowSummary | None = None


def summarise_overflows() -> OverflowSummary:
    """Install the summary on the SDK's logger (once per process) and return it."""
    global _installed
    if _installed is None:
        _installed = OverflowSummary()
        logging.getLogger(SDK_LOGGER).addFilter(_installed)
    return _installed
