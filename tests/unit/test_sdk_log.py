"""The SDK's queue-overflow warnings: said once with a count, then summarised."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from recconsole.realtime.sdk_log import SDK_LOGGER, OverflowSummary

pytestmark = pytest.mark.unit

# As the SDK's native side logs it, through the Python SDK's "livekit" logger.
_NATIVE = ("livekit_ffi::server::video_stream:%s:livekit_ffi::server::video_stream"
           " - native video stream queue overflow; dropped %d queued frames")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def summary(caplog: pytest.LogCaptureFixture) -> Iterator[tuple[OverflowSummary, Clock]]:
    clock = Clock()
    summary = OverflowSummary(interval=60.0, clock=clock)
    logger = logging.getLogger(SDK_LOGGER)
    # The process's own summary (installed by an earlier session in this test run) would
    # reword the records first: this test's stands alone on the logger meanwhile.
    installed = list(logger.filters)
    logger.filters = [summary]
    caplog.set_level(logging.INFO, logger=SDK_LOGGER)
    yield summary, clock
    logger.filters = installed


def _overflow(dropped: int) -> None:
    logging.getLogger(SDK_LOGGER).warning(_NATIVE, 120, dropped)


def test_a_flood_of_overflows_is_said_once_with_its_count_then_summarised(
    summary: tuple[OverflowSummary, Clock], caplog: pytest.LogCaptureFixture,
) -> None:
    overflows, clock = summary
    for _ in range(109):
        _overflow(1000)
        clock.now += 0.5  # 54.5 s in all: within one interval
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1
    assert "dropped 1000 video frame(s)" in said[0]
    assert "summarised every 60 s" in said[0]

    clock.now += 10  # past the interval: the next overflow brings the summary
    _overflow(7)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2
    assert "109 more video queue overflow(s), 108007 frame(s) dropped" in said[1]
    assert overflows.total == {"video": 110 * 1000 - 1000 + 7}


def test_what_is_left_is_said_at_the_end_and_other_messages_pass_untouched(
    summary: tuple[OverflowSummary, Clock], caplog: pytest.LogCaptureFixture,
) -> None:
    overflows, _ = summary
    logging.getLogger(SDK_LOGGER).info("livekit::room - connection setup took 91 ms")
    _overflow(3)
    _overflow(4)
    _overflow(5)
    overflows.flush(logging.getLogger("recconsole.realtime.session"))
    overflows.flush(logging.getLogger("recconsole.realtime.session"))  # nothing more to say
    said = [r.getMessage() for r in caplog.records]
    assert said[0] == "livekit::room - connection setup took 91 ms"
    assert "dropped 3 video frame(s)" in said[1]
    assert "2 more video queue overflow(s), 9 frame(s) dropped" in said[2]
    assert len(said) == 3
