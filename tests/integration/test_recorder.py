"""Starting, stopping, watching and reconciling recordings.

Against the real LiveKit server throughout; where a test needs an egress that
actually records, the egress calls go to StandInEgressServer (named in the test):
its edge cases (stuck starts, instant ends) are what a real egress cannot be made to do
on demand. tests/e2e records with the real egress.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from livekit import api, rtc

from recconsole.core.errors import AlreadyRecording, EgressUnavailable, NotRecording
from recconsole.core.events import LimitReached, RecordingStatusChanged, StatusPolled
from recconsole.core.livekit_server import LiveKitServer, ws_url
from recconsole.core.recorder import Recorder, StartOptions, started_by_console
from recconsole.core.recording_options import RecordingOptions
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.tokens import mint_token
from recconsole.server.registry import FileStartedRecordings
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.egress_stand_in import StandInEgressServer
from tests.helpers.rooms import unique_room
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

APP = "recconsole-tests"


def _statuses(recorder: Recorder) -> asyncio.Queue[RecordingStatusChanged]:
    queue: asyncio.Queue[RecordingStatusChanged] = asyncio.Queue()
    recorder.events.subscribe(RecordingStatusChanged, queue.put_nowait)
    return queue


async def _next_status(queue: asyncio.Queue[RecordingStatusChanged]) -> RecordingStatusChanged:
    return await asyncio.wait_for(queue.get(), 15)


@pytest_asyncio.fixture
async def stand_in(livekit_server: StackConfig) -> AsyncIterator[StandInEgressServer]:
    server = StandInEgressServer(livekit_server.livekit_url, API_KEY, API_SECRET, app_name=APP)
    yield server
    await server.aclose()


@pytest_asyncio.fixture
async def redis_backed(livekit_redis_server: StackConfig) -> AsyncIterator[LiveKitServer]:
    async with LiveKitServer(livekit_redis_server.livekit_url, API_KEY, API_SECRET, app_name=APP,
                             egress_start_timeout=2) as server:
        yield server


async def test_stop_when_nothing_records_is_refused(redis_backed: LiveKitServer) -> None:
    name = unique_room("stop")
    await redis_backed.ensure_room(name)
    with pytest.raises(NotRecording, match="not being recorded"):
        await Recorder(redis_backed).stop(name)


async def test_start_with_routing_but_no_egress_worker_gives_up_readably(
    redis_backed: LiveKitServer,
) -> None:
    name = unique_room("noworker")
    await redis_backed.ensure_room(name)
    with pytest.raises(EgressUnavailable, match="did not answer within 2 s"):
        await Recorder(redis_backed).start(name)
    assert await redis_backed.recording_status(name) is RecordingStatus.STOPPED


@pytest.mark.parametrize("with_redis", [False, True])
async def test_stale_recording_state_is_reconciled_to_stopped(
    with_redis: bool, livekit_server: StackConfig, livekit_redis_server: StackConfig
) -> None:
    url = (livekit_redis_server if with_redis else livekit_server).livekit_url
    async with LiveKitServer(url, API_KEY, API_SECRET, app_name=APP) as server:
        name = unique_room("stale")
        await server.ensure_room(name)
        await server.set_recording_status(name, RecordingStatus.STARTED)
        await eventually(lambda: server.recording_status(name), RecordingStatus.STARTED)
        recorder = Recorder(server)
        assert await recorder.reconcile(name) is RecordingStatus.STOPPED
        await eventually(lambda: server.recording_status(name), RecordingStatus.STOPPED)
        assert await recorder.reconcile(unique_room("absent")) is None


async def test_start_goes_to_the_tutorial_path_and_publishes_starting_stand_in(
    stand_in: StandInEgressServer,
) -> None:
    name = unique_room("start")
    await stand_in.ensure_room(name)
    recorder = Recorder(stand_in, recordings_path="recordings/")
    statuses = _statuses(recorder)
    info = await recorder.start(name)
    output = info.room_composite.file_outputs[0]
    # The tutorial's path, with a tag after {time}: two starts in one second never
    # write the same file; and no egress manifest beside it.
    assert re.fullmatch(r"recordings/\{room_name\}-\{room_id\}-\{time\}-[0-9a-f]{6}\.mp4",
                        output.filepath)
    assert output.disable_manifest
    assert output.file_type == api.EncodedFileType.MP4
    assert recorder.file_output().filepath != output.filepath
    assert started_by_console(info)
    assert (await _next_status(statuses)).status is RecordingStatus.STARTING
    assert await stand_in.recording_status(name) is RecordingStatus.STARTING
    await recorder.aclose()


async def test_second_start_while_recording_is_refused_stand_in(
    stand_in: StandInEgressServer,
) -> None:
    name = unique_room("twice")
    await stand_in.ensure_room(name)
    recorder = Recorder(stand_in)
    await recorder.start(name)
    with pytest.raises(AlreadyRecording, match="already being recorded"):
        await recorder.start(name)
    assert stand_in.starts == 1
    await recorder.aclose()


async def test_concurrent_starts_start_one_recording_stand_in(
    stand_in: StandInEgressServer,
) -> None:
    name = unique_room("double")
    await stand_in.ensure_room(name)
    stand_in.start_gate = asyncio.Event()  # hold the first start inside check-and-start
    recorder = Recorder(stand_in)
    first = asyncio.create_task(recorder.start(name))
    second = asyncio.create_task(recorder.start(name))
    await stand_in.start_entered.wait()  # the first is inside check-and-start
    stand_in.start_gate.set()
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert sum(isinstance(r, api.EgressInfo) for r in results) == 1
    assert sum(isinstance(r, AlreadyRecording) for r in results) == 1
    assert len(stand_in.egresses) == 1
    await recorder.aclose()


async def test_stop_stops_the_active_recording_stand_in(stand_in: StandInEgressServer) -> None:
    name = unique_room("stopit")
    await stand_in.ensure_room(name)
    recorder = Recorder(stand_in)
    started = await recorder.start(name)
    info = await recorder.stop(name)
    assert stand_in.stops == [started.egress_id]
    assert info.status == api.EgressStatus.EGRESS_ENDING
    assert await stand_in.recording_status(name) is RecordingStatus.STOPPING
    await recorder.aclose()


async def test_start_stuck_in_starting_is_stopped_and_failed_stand_in(
    livekit_server: StackConfig,
) -> None:
    server = StandInEgressServer(livekit_server.livekit_url, API_KEY, API_SECRET, app_name=APP,
                                 stay_starting=True)
    name = unique_room("stuck")
    await server.ensure_room(name)
    recorder = Recorder(server, start_timeout=0.3, poll_interval=0.05)
    statuses = _statuses(recorder)
    started = await recorder.start(name)
    assert (await _next_status(statuses)).status is RecordingStatus.STARTING
    failed = await _next_status(statuses)
    assert failed.status is RecordingStatus.FAILED
    assert "did not start within" in failed.error
    assert server.stops == [started.egress_id]
    assert await server.recording_status(name) is RecordingStatus.FAILED
    # The room is free again: a new start is accepted.
    server.stay_starting = False
    await recorder.start(name)
    await recorder.aclose()
    await server.aclose()


async def test_stop_while_starting_ends_the_room_aborted_not_starting_stand_in(
    livekit_server: StackConfig,
) -> None:
    """A Stop before egress said ACTIVE: egress answers STARTING, then ends ABORTED."""
    server = StandInEgressServer(livekit_server.livekit_url, API_KEY, API_SECRET, app_name=APP,
                                 stay_starting=True)
    server.abort_after = 0.3  # a few polls still see STARTING after the stop
    name = unique_room("stop-starting")
    await server.ensure_room(name)
    recorder = Recorder(server, start_timeout=60, poll_interval=0.05, webhook_grace=0.1)
    statuses = _statuses(recorder)
    started = await recorder.start(name)
    assert (await _next_status(statuses)).status is RecordingStatus.STARTING
    await recorder.stop(name)
    assert (await _next_status(statuses)).status is RecordingStatus.STOPPING
    ended = await _next_status(statuses)  # polled: no webhooks here
    assert (ended.status, ended.egress_id) == (RecordingStatus.FAILED, started.egress_id)
    assert "before it started" in ended.error
    assert await server.recording_status(name) is RecordingStatus.FAILED
    await recorder.aclose()
    await server.aclose()


async def test_recording_stops_by_itself_after_the_maximum_duration_stand_in(
    stand_in: StandInEgressServer,
) -> None:
    name = unique_room("maxdur")
    await stand_in.ensure_room(name)
    recorder = Recorder(stand_in, poll_interval=0.05, webhook_grace=0.1)  # no webhooks here
    statuses = _statuses(recorder)
    limits = asyncio.create_task(recorder.limits.run())  # as a listener runs it
    started = await recorder.start(name, StartOptions(max_duration=0.2))
    assert (await _next_status(statuses)).status is RecordingStatus.STARTING
    assert (await _next_status(statuses)).status is RecordingStatus.STARTED  # polled
    assert (await _next_status(statuses)).status is RecordingStatus.STOPPING
    assert (await _next_status(statuses)).status is RecordingStatus.STOPPED
    assert stand_in.stops == [started.egress_id]
    limits.cancel()
    await recorder.aclose()


async def test_limits_outlive_the_console_that_set_them_stand_in(
    stand_in: StandInEgressServer, tmp_path: Path
) -> None:
    """The window that started a recording with a maximum duration closes; whoever
    runs next with the same registry (here a second recorder, as `recconsole listen`
    does) stops the recording when its time is up."""
    name = unique_room("outlive")
    await stand_in.ensure_room(name)
    window = Recorder(stand_in, started=FileStartedRecordings(tmp_path / "r.sqlite3"))
    started = await window.start(name, StartOptions(max_duration=0.3))
    await window.aclose()  # the window is gone: nothing of it enforces anything
    listener = Recorder(stand_in, started=FileStartedRecordings(tmp_path / "r.sqlite3"),
                        poll_interval=0.05, webhook_grace=0.1)
    reached: asyncio.Queue[LimitReached] = asyncio.Queue()
    listener.events.subscribe(LimitReached, reached.put_nowait)
    limits = asyncio.create_task(listener.limits.run())
    try:
        event = await asyncio.wait_for(reached.get(), 15)
    finally:
        limits.cancel()
        await listener.aclose()
    assert (event.egress_id, event.room) == (started.egress_id, name)
    assert "maximum duration" in event.why
    assert stand_in.stops == [started.egress_id]
    assert await listener.started.limited() == []  # done with: never stopped twice


async def test_recording_stops_when_the_room_has_emptied_stand_in(
    stand_in: StandInEgressServer, livekit_server: StackConfig
) -> None:
    name = unique_room("empty")
    await stand_in.ensure_room(name)
    console = rtc.Room()
    guest = rtc.Room()
    url = ws_url(livekit_server.livekit_url)
    await console.connect(url, mint_token(API_KEY, API_SECRET, name, "console"))
    await guest.connect(url, mint_token(API_KEY, API_SECRET, name, "guest"))
    recorder = Recorder(stand_in, poll_interval=0.05, webhook_grace=0.1,
                        console_identities=["console"])
    statuses = _statuses(recorder)
    limits = asyncio.create_task(recorder.limits.run())
    try:
        await recorder.start(name, StartOptions(stop_when_empty_after=0.2))
        assert (await _next_status(statuses)).status is RecordingStatus.STARTING
        assert (await _next_status(statuses)).status is RecordingStatus.STARTED
        assert stand_in.stops == []  # the guest is still there
        # The server removes the guest: a client-side disconnect is sometimes only
        # noticed by the server after its ~15 s departure timeout.
        await stand_in.lkapi.room.remove_participant(
            api.RoomParticipantIdentity(room=name, identity="guest"))
        assert (await _next_status(statuses)).status is RecordingStatus.STOPPING
    finally:
        limits.cancel()
        await guest.disconnect()
        await console.disconnect()
        await recorder.aclose()


async def test_without_webhooks_the_state_is_polled_until_it_settles_stand_in(
    stand_in: StandInEgressServer,
) -> None:
    name = unique_room("polled")
    await stand_in.ensure_room(name)
    recorder = Recorder(stand_in, poll_interval=0.05, webhook_grace=0.2)
    polled: asyncio.Queue[StatusPolled] = asyncio.Queue()
    recorder.events.subscribe(StatusPolled, polled.put_nowait)
    started = await recorder.start(name)
    assert (await asyncio.wait_for(polled.get(), 15)).status is RecordingStatus.STARTED
    assert await stand_in.recording_status(name) is RecordingStatus.STARTED
    await recorder.stop(name)
    settled = await asyncio.wait_for(polled.get(), 15)
    assert (settled.status, settled.egress_id) == (RecordingStatus.STOPPED, started.egress_id)
    assert await stand_in.recording_status(name) is RecordingStatus.STOPPED
    await recorder.aclose()


async def test_a_webhook_just_after_the_poll_is_not_reported_missing_stand_in(
    stand_in: StandInEgressServer,
) -> None:
    name = unique_room("grace")
    await stand_in.ensure_room(name)
    recorder = Recorder(stand_in, poll_interval=0.05, webhook_grace=30)
    polled: list[StatusPolled] = []
    recorder.events.subscribe(StatusPolled, polled.append)
    changed: asyncio.Queue[RecordingStatusChanged] = asyncio.Queue()
    recorder.events.subscribe(RecordingStatusChanged, changed.put_nowait)
    await recorder.start(name)
    assert (await asyncio.wait_for(changed.get(), 15)).status is RecordingStatus.STARTING
    # The egress is ACTIVE for the poller; the webhook's effect lands a little later.
    await stand_in.set_recording_status(name, RecordingStatus.STARTED)
    await asyncio.wait_for(recorder.idle(), 15)
    assert polled == []
    await recorder.aclose()


async def test_each_participant_leaves_out_hidden_participants_stand_in(
    stand_in: StandInEgressServer, livekit_server: StackConfig,
) -> None:
    name = unique_room("each-hidden")
    await stand_in.ensure_room(name)
    url = ws_url(livekit_server.livekit_url)
    person, observer = rtc.Room(), rtc.Room()
    await person.connect(url, mint_token(API_KEY, API_SECRET, name, "person"))
    await observer.connect(url, mint_token(API_KEY, API_SECRET, name, "recorder-hidden",
                                           observer=True))
    try:
        recorder = Recorder(stand_in)
        await recorder.start(name, StartOptions(
            recording=RecordingOptions(each_participant=True)))
        egresses = await stand_in.list_egress(name)
        assert [e.participant.identity for e in egresses] == ["person"]
        await recorder.aclose()
    finally:
        await observer.disconnect()
        await person.disconnect()
