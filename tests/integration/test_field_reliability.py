"""What the field sends that the dev stack did not: any name, a bad event among good
ones, another app on the same room, a listener killed mid-effect.

Real LiveKit server, MinIO and Redis throughout. Egress webhooks are signed with the
real key and posted by the tests (the cases a real egress records are in
tests/e2e/test_real_recording.py); where the live egresses of a room matter, the
egress calls go to StandInEgressServer, named in the test.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from livekit import api

from recconsole.core.events import (
    DuplicateStopped,
    EffectDeadLettered,
    RecordingSaved,
    RecordingStatusChanged,
)
from recconsole.core.livekit_server import LiveKitServer, parse_metadata
from recconsole.core.recorder import Recorder
from recconsole.core.recording_status import RecordingStatus
from recconsole.server.durable_queue import DurableQueue
from recconsole.server.listener import SharedState, WebhookListener, queue_path
from recconsole.server.locks import LocalRecordingLocks, RedisEffectClaims
from recconsole.server.registry import FileStartedRecordings
from recconsole.settings import Settings
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.egress_stand_in import StandInEgressServer
from tests.helpers.rooms import unique_room
from tests.helpers.waiting import eventually
from tests.helpers.webhooks import egress_event, post, sign

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

S = api.EgressStatus


@pytest.fixture
def app_name() -> str:
    return f"recconsole-field-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def settings(
    livekit_server: StackConfig, minio_server: StackConfig, unused_tcp_port: int, app_name: str
) -> Settings:
    return Settings.from_env({**livekit_server.env(), "S3_ENDPOINT": minio_server.s3_endpoint,
                              "APP_NAME": app_name, "SERVER_PORT": str(unused_tcp_port),
                              "RECORDINGS_PATH": f"field-{uuid.uuid4().hex[:8]}/",
                              "REDIS_URL": ""})


@pytest_asyncio.fixture
async def server(settings: Settings) -> AsyncIterator[LiveKitServer]:
    async with LiveKitServer(settings.livekit_url, API_KEY, API_SECRET,
                             app_name=settings.app_name) as s:
        yield s


@pytest_asyncio.fixture
async def listener(settings: Settings, tmp_path: Path) -> AsyncIterator[WebhookListener]:
    service = WebhookListener(settings, data_dir=tmp_path, reconcile_every=None)
    await service.start()
    yield service
    await service.stop()


def _events(listener: WebhookListener, kind: type) -> asyncio.Queue[object]:
    queue: asyncio.Queue[object] = asyncio.Queue()
    listener.events.subscribe(kind, queue.put_nowait)
    return queue


async def _send(listener: WebhookListener, body: bytes) -> None:
    status, text = await post(listener.url, body, sign(body))
    assert status == 200, text


async def _status_of(server: LiveKitServer, room: str) -> object:
    found = await server.get_room(room)
    return parse_metadata(found.metadata).get("recordingStatus") if found else None


# --- 1. names from the field -------------------------------------------------------------


@pytest.mark.parametrize("room_name", ["reunión", "会议 #1 & co", "a%20b ?x=1", "team/alpha"])
async def test_any_room_name_gets_its_metadata_and_its_later_events_go_on(
    listener: WebhookListener, server: LiveKitServer, room_name: str
) -> None:
    """A name outside plain ASCII used to be refused: the effect was retried forever and
    every later event of the room waited behind it."""
    room = f"{room_name}-{uuid.uuid4().hex[:6]}"
    await server.ensure_room(room)
    name = f"{room}-RM_test-2026-12-03T101010.mp4"
    saved = _events(listener, RecordingSaved)
    prefix = listener.settings.recordings_path
    for body in (egress_event("egress_ended", room, "EG_old", S.EGRESS_COMPLETE, file_name=name,
                              prefix=prefix),
                 egress_event("egress_started", room, "EG_new", S.EGRESS_STARTING)):
        await _send(listener, body)
    event = await asyncio.wait_for(saved.get(), 15)
    assert event == RecordingSaved(name, room)
    await eventually(lambda: _status_of(server, room), "STARTING")
    stored = json.loads(await listener.store.read_bytes(listener.catalog.metadata_key(name)))
    assert (stored["name"], stored["roomName"], stored["id"]) == (name, room, "EG_old")
    await listener.store.write_bytes(listener.catalog.recording_key(name), b"mp4", "video/mp4")
    listed = {r.name: r for r in await listener.catalog.list_recordings()}
    assert listed[name].room_name == room
    assert (await listener.status()).dead == 0


async def test_a_name_that_would_leave_the_folder_is_dead_lettered_and_blocks_nothing(
    listener: WebhookListener, server: LiveKitServer
) -> None:
    room = unique_room("escape")
    await server.ensure_room(room)
    dead = _events(listener, EffectDeadLettered)
    prefix = listener.settings.recordings_path
    escaping = egress_event("egress_ended", room, "EG_bad", S.EGRESS_COMPLETE,
                            file_name="../../elsewhere.mp4", prefix=prefix)
    await _send(listener, escaping)
    await _send(listener, egress_event("egress_started", room, "EG_next", S.EGRESS_STARTING))
    letter = await asyncio.wait_for(dead.get(), 15)
    assert isinstance(letter, EffectDeadLettered)
    assert (letter.room, letter.kind) == (room, "egress_ended")
    assert "not a valid recording name" in letter.reason
    await eventually(lambda: _status_of(server, room), "STARTING")  # the room went on
    status = await listener.status()
    assert (status.dead, status.pending) == (1, 0)
    [stored] = await listener.queue.dead_letters()
    assert (stored.room, stored.attempts) == (room, 1)  # at once, never retried
    assert not await listener.store.exists("elsewhere.json")


# --- 3. no metadata for a recording that does not exist ----------------------------------


async def test_aborted_or_failed_egress_without_a_file_gets_no_metadata(
    listener: WebhookListener, server: LiveKitServer
) -> None:
    room = unique_room("nofile")
    await server.ensure_room(room)
    catalog = listener.catalog
    aborted = f"{room}-RM_test-2026-12-03T101010-aaaaaa.mp4"
    failed = f"{room}-RM_test-2026-12-03T101011-bbbbbb.mp4"
    partial = f"{room}-RM_test-2026-12-03T101012-cccccc.mp4"
    prefix = listener.settings.recordings_path
    bodies = [
        egress_event("egress_ended", room, "EG_abort", S.EGRESS_ABORTED, file_name=aborted,
                     error="Start signal not received", size=0, prefix=prefix),
        egress_event("egress_ended", room, "EG_fail", S.EGRESS_FAILED, file_name=failed,
                     error="upload failed", prefix=prefix),  # never reached storage
        egress_event("egress_ended", room, "EG_part", S.EGRESS_FAILED, file_name=partial,
                     error="pipeline error", prefix=prefix),
    ]
    await listener.store.write_bytes(catalog.recording_key(partial), b"part", "video/mp4")
    saved = _events(listener, RecordingSaved)
    for body in bodies:
        await _send(listener, body)
    assert await asyncio.wait_for(saved.get(), 15) == RecordingSaved(partial, room)
    await listener.queue.drained()
    for name in (aborted, failed):
        assert not await listener.store.exists(catalog.metadata_key(name))
    stored = json.loads(await listener.store.read_bytes(catalog.metadata_key(partial)))
    assert (stored["status"], stored["error"]) == ("FAILED", "pipeline error")
    assert await _status_of(server, room) == "FAILED"


# --- 6. a listener that cannot bind applies nothing -----------------------------------------


async def test_a_listener_whose_port_is_taken_applies_nothing_from_the_shared_queue(
    settings: Settings, server: LiveKitServer, tmp_path: Path, listener: WebhookListener
) -> None:
    room = unique_room("portless")
    await server.ensure_room(room)
    # An effect waits in the queue file a second listener would share...
    other = tmp_path / "other"
    queue = DurableQueue(queue_path(other))
    body = egress_event("egress_updated", room, "EG_x", S.EGRESS_ACTIVE)
    await queue.put("EV_pending", room, "egress_updated", body)
    await queue.close()
    # ...and that listener finds its port taken (by the running `listener`).
    second = WebhookListener(settings, data_dir=other, port=listener.port, reconcile_every=None)
    with pytest.raises(OSError, match="address already in use"):
        await second.start()
    await second.stop()
    reopened = DurableQueue(queue_path(other))
    assert (await reopened.status()).pending == 1
    await reopened.close()
    assert await _status_of(server, room) == "STOPPED"  # nothing was applied


async def test_two_listeners_never_drain_one_queue_file(
    settings: Settings, tmp_path: Path, listener: WebhookListener, unused_tcp_port_factory: object,
) -> None:
    port = unused_tcp_port_factory()  # type: ignore[operator]
    second = WebhookListener(settings, data_dir=tmp_path, port=port, reconcile_every=None)
    with pytest.raises(Exception, match="another listener applies the webhooks queued"):
        await second.start()
    await second.stop()


# --- 7. claims of a killed listener lapse in seconds -------------------------------------------


async def test_a_killed_listeners_claim_lapses_and_owners_never_collide(
    redis_server: StackConfig,
) -> None:
    from redis.asyncio import Redis

    clients = [Redis.from_url(redis_server.redis_url) for _ in range(2)]
    dead, alive = RedisEffectClaims(clients[0], claim_for=0.6), RedisEffectClaims(clients[1])
    event = f"EV_{uuid.uuid4().hex}"
    try:
        assert await dead.claim(event) == "claimed"
        owner = await clients[0].get(f"recconsole:webhook:{event}")
        # The process dies: its renewals stop with it, nothing is released.
        for _, task in dead._renewals.values():
            task.cancel()
        assert await alive.claim(event) == "busy"
        claimed = await eventually(lambda: alive.claim(event), "claimed", within=5)
        assert claimed == "claimed"
        assert await clients[1].get(f"recconsole:webhook:{event}") != owner
        await alive.finish(event)
        assert await alive.claim(event) == "done"
    finally:
        for client in clients:
            await client.aclose()


async def test_a_claim_held_longer_than_its_lifetime_is_renewed(
    redis_server: StackConfig,
) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_server.redis_url)
    first, second = RedisEffectClaims(client, claim_for=0.3), RedisEffectClaims(client)
    event = f"EV_{uuid.uuid4().hex}"
    try:
        extend, renewed, renewals = first._extend, asyncio.Event(), [0]

        async def counted(**kwargs: object) -> object:
            answer = await extend(**kwargs)  # type: ignore[arg-type]
            renewals[0] += 1
            if renewals[0] == 6:  # every 0.1 s: twice the claim's 0.3 s lifetime
                renewed.set()
            return answer

        first._extend = counted  # type: ignore[assignment]
        assert await first.claim(event) == "claimed"
        await asyncio.wait_for(renewed.wait(), 10)
        assert await second.claim(event) == "busy"  # the applying process still holds it
        await first.finish(event)
        assert await second.claim(event) == "done"
    finally:
        await client.aclose()


# --- 8. metadata changes in one process never undo each other ----------------------------------


async def test_concurrent_metadata_changes_of_a_room_all_land(
    server: LiveKitServer,
) -> None:
    room = unique_room("rmw")
    await server.ensure_room(room)
    await asyncio.gather(*(server.update_metadata(room, {f"k{i}": i}) for i in range(12)),
                         server.set_recording_status(room, RecordingStatus.FAILED, "disk full"))
    metadata = parse_metadata((await server.get_room(room)).metadata)  # type: ignore[union-attr]
    assert {f"k{i}" for i in range(12)} <= metadata.keys()
    assert (metadata["recordingStatus"], metadata["recordingError"]) == ("FAILED", "disk full")
    assert metadata["createdBy"] == server.app_name


# --- 9. the console finishes what it started, whoever made the room -----------------------------


async def test_a_recording_the_console_started_in_another_apps_room_is_finished_stand_in(
    settings: Settings, listener: WebhookListener, tmp_path: Path
) -> None:
    room = unique_room("foreign")
    async with LiveKitServer(settings.livekit_url, API_KEY, API_SECRET,
                             app_name="some-other-app") as other_app:
        await other_app.ensure_room(room)
        stand_in = StandInEgressServer(settings.livekit_url, API_KEY, API_SECRET,
                                       app_name=settings.app_name)
        # The window's recorder and the listener share the started recordings.
        recorder = Recorder(stand_in, started=listener.shared.started)
        try:
            started = await recorder.start(room)
        finally:
            await recorder.aclose()
            await stand_in.aclose()
        name = f"{room}-RM_test-2026-12-03T101010-abcdef.mp4"
        saved = _events(listener, RecordingSaved)
        prefix = settings.recordings_path
        await _send(listener, egress_event("egress_ended", room, started.egress_id,
                                           S.EGRESS_COMPLETE, file_name=name, prefix=prefix))
        assert await asyncio.wait_for(saved.get(), 15) == RecordingSaved(name, room)
        # An egress of that room the console did not start is still left alone.
        await _send(listener, egress_event("egress_ended", room, "EG_theirs", S.EGRESS_COMPLETE,
                                           file_name=f"{room}-theirs.mp4", prefix=prefix))
        await listener.queue.drained()
        assert not await listener.store.exists(
            listener.catalog.metadata_key(f"{room}-theirs.mp4"))


# --- 11. a room's status follows its current recording ---------------------------------------


async def test_an_old_recordings_late_end_never_stops_the_new_one_stand_in(
    settings: Settings, tmp_path: Path, server: LiveKitServer
) -> None:
    """Stop then start at once: the old egress's egress_ended arrives while the new one
    starts. The room says STARTING, not STOPPED, and the new recording keeps its lock.
    The live egresses come from StandInEgressServer; everything else is real."""
    room = unique_room("order")
    await server.ensure_room(room)
    stand_in = StandInEgressServer(settings.livekit_url, API_KEY, API_SECRET,
                                   app_name=settings.app_name, stay_starting=True)
    shared = SharedState(LocalRecordingLocks(), *_rest(tmp_path))
    listener = WebhookListener(settings, data_dir=tmp_path / "l", server=stand_in, shared=shared,
                               reconcile_every=None)
    await listener.start()
    recorder = Recorder(stand_in, recording_locks=shared.locks, started=shared.started)
    statuses = _events(listener, RecordingStatusChanged)
    try:
        old = await recorder.start(room)
        await recorder.stop(room)  # the stand-in ends it at once; its webhook comes late
        new = await recorder.start(room)
        await _send(listener, egress_event("egress_ended", room, old.egress_id,
                                           S.EGRESS_COMPLETE, file_name=f"{room}-old.mp4"))
        while True:
            change = await asyncio.wait_for(statuses.get(), 15)
            assert isinstance(change, RecordingStatusChanged)
            if change.egress_id == old.egress_id:
                break
        assert change.status is RecordingStatus.STARTING
        assert await _status_of(server, room) == "STARTING"
        assert await shared.locks.owner(room) == new.egress_id
    finally:
        await recorder.aclose()
        await listener.stop()
        await stand_in.aclose()


def _rest(tmp_path: Path) -> tuple[object, ...]:
    from recconsole.server.locks import LocalEffectClaims, LocalEgressLedger

    return (LocalEgressLedger(), LocalEffectClaims(),
            FileStartedRecordings(tmp_path / "started.sqlite3"))


# --- 13. errors of the past do not stick -------------------------------------------------------


async def test_recording_error_is_cleared_when_the_status_moves_on(server: LiveKitServer) -> None:
    room = unique_room("error")
    await server.ensure_room(room)
    await server.set_recording_status(room, RecordingStatus.FAILED, "no egress")
    await server.set_recording_status(room, RecordingStatus.STARTING)
    metadata = parse_metadata((await server.get_room(room)).metadata)  # type: ignore[union-attr]
    assert metadata["recordingStatus"] == "STARTING"
    assert "recordingError" not in metadata


async def test_a_start_that_fails_by_itself_releases_the_rooms_lock_stand_in(
    settings: Settings, server: LiveKitServer
) -> None:
    room = unique_room("stuck")
    await server.ensure_room(room)
    stand_in = StandInEgressServer(settings.livekit_url, API_KEY, API_SECRET,
                                   app_name=settings.app_name, stay_starting=True)
    locks = LocalRecordingLocks()
    recorder = Recorder(stand_in, recording_locks=locks, start_timeout=0.3, poll_interval=0.05)
    statuses: asyncio.Queue[RecordingStatusChanged] = asyncio.Queue()
    recorder.events.subscribe(RecordingStatusChanged, statuses.put_nowait)
    try:
        await recorder.start(room)
        assert await locks.held(room)
        while (change := await asyncio.wait_for(statuses.get(), 15)).status is not (
                RecordingStatus.FAILED):
            pass
        assert "did not start within" in change.error
        assert not await locks.held(room)  # no webhook needed to free the room
    finally:
        await recorder.aclose()
        await stand_in.aclose()


async def test_another_apps_track_recording_is_no_twin_of_the_rooms_recording_stand_in(
    settings: Settings, server: LiveKitServer
) -> None:
    """Another app starts recording one participant's track (Track egress) in the room
    as the console starts the room: the console's room recording goes on beside it."""
    room = unique_room("track")
    await server.ensure_room(room)
    stand_in = StandInEgressServer(settings.livekit_url, API_KEY, API_SECRET,
                                   app_name=settings.app_name)
    track = api.EgressInfo(egress_id="EG_track", room_name=room,
                           status=api.EgressStatus.EGRESS_ACTIVE)
    track.track.CopyFrom(api.TrackEgressRequest(room_name=room, track_id="TR_x"))
    stand_in.start_gate = asyncio.Event()  # the console's check is done, its start pending
    recorder = Recorder(stand_in, poll_interval=0.05, webhook_grace=0.1)
    duplicates: list[object] = []
    recorder.events.subscribe(DuplicateStopped, duplicates.append)
    try:
        starting = asyncio.create_task(recorder.start(room))
        await stand_in.start_entered.wait()
        stand_in.egresses["EG_track"] = track
        stand_in.start_gate.set()
        ours = await starting
        await recorder.idle()  # the start was followed until the egress is recording
    finally:
        await recorder.aclose()
        await stand_in.aclose()
    assert duplicates == []
    assert stand_in.stops == []
    assert stand_in.egresses[ours.egress_id].status == api.EgressStatus.EGRESS_ACTIVE
