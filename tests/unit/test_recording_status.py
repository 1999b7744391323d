"""The egress → room recording status mapping of the compatibility contract."""

from __future__ import annotations

import pytest
from livekit import api

from recconsole.core.events import EventBus, RecordingStatusChanged
from recconsole.core.recording_status import RecordingStatus, status_from_egress

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("egress", "room"),
    [
        (api.EgressStatus.EGRESS_STARTING, "STARTING"),
        (api.EgressStatus.EGRESS_ACTIVE, "STARTED"),
        (api.EgressStatus.EGRESS_ENDING, "STOPPING"),
        (api.EgressStatus.EGRESS_COMPLETE, "STOPPED"),
        (api.EgressStatus.EGRESS_FAILED, "FAILED"),
        (api.EgressStatus.EGRESS_ABORTED, "FAILED"),
        (api.EgressStatus.EGRESS_LIMIT_REACHED, "FAILED"),
        (99, "FAILED"),
    ],
)
def test_egress_status_maps_to_room_status(egress: int, room: str) -> None:
    assert status_from_egress(egress).value == room


def test_busy_states_are_the_ones_that_block_a_new_start() -> None:
    assert {s for s in RecordingStatus if s.busy} == {
        RecordingStatus.STARTING, RecordingStatus.STARTED, RecordingStatus.STOPPING
    }


def test_event_bus_delivers_by_type_and_survives_a_failing_handler() -> None:
    bus = EventBus()
    seen: list[object] = []

    def broken(_event: object) -> None:
        raise RuntimeError("boom")

    bus.subscribe(RecordingStatusChanged, broken)
    unsubscribe = bus.subscribe(RecordingStatusChanged, seen.append)
    event = RecordingStatusChanged("r", RecordingStatus.STARTED)
    bus.publish(event)
    bus.publish("not an event anyone wants")
    unsubscribe()
    bus.publish(event)
    assert seen == [event]
