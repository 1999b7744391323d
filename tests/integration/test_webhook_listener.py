"""The webhook listener against the real LiveKit server and MinIO.

The LiveKit server's own room and participant webhooks arrive for real. Egress
webhooks are signed with the real key and posted by the tests, to reach cases at will
(a status sequence, a failure text, a duplicate); tests/e2e/test_real_recording.py gets
them from the real egress.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from livekit import api, rtc

from recconsole.core.events import RecordingSaved, RecordingStatusChanged, WebhookReceived
from recconsole.core.livekit_server import LiveKitServer, parse_metadata, ws_url
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.tokens import mint_token
from recconsole.server.listener import WebhookListener
from recconsole.server.webhooks import MAX_BODY
from recconsole.settings import Settings
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.rooms import unique_room
from tests.helpers.webhooks import egress_event, post, sign

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]



@pytest.fixture
def app_name() -> str:
    """An APP_NAME of each test's own: rooms earlier tests left behind finish while
    later ones run, and LiveKit's room_finished for them must not count as work here."""
    return f"recconsole-tests-{uuid.uuid4().hex[:6]}"
S = api.EgressStatus


@pytest_asyncio.fixture
async def listener(
    livekit_server: StackConfig, minio_server: StackConfig, listener_port: int, tmp_path: Path,
    app_name: str,
) -> AsyncIterator[WebhookListener]:
    settings = Settings.from_env({**livekit_server.env(), "APP_NAME": app_name,
                                  "RECORDINGS_PATH": f"hooks-{uuid.uuid4().hex[:8]}/",
                                  "SERVER_PORT": str(listener_port), "REDIS_URL": ""})
    # No reconciliation here: these rooms "record" with no egress behind them.
    service = WebhookListener(settings, data_dir=tmp_path, reconcile_every=None)
    await service.start()
    yield service
    await service.stop()


@pytest_asyncio.fixture
async def server(livekit_server: StackConfig, app_name: str) -> AsyncIterator[LiveKitServer]:
    async with LiveKitServer(livekit_server.livekit_url, API_KEY, API_SECRET,
                             app_name=app_name) as s:
        yield s


def _queue_of(listener: WebhookListener, kind: type) -> asyncio.Queue[object]:
    queue: asyncio.Queue[object] = asyncio.Queue()
    listener.events.subscribe(kind, queue.put_nowait)
    return queue


async def test_real_server_webhooks_are_verified_and_reported(
    listener: WebhookListener, livekit_server: StackConfig
) -> None:
    received = _queue_of(listener, WebhookReceived)
    room_name = unique_room("real")
    room = rtc.Room()
    await room.connect(ws_url(livekit_server.livekit_url),
                       mint_token(API_KEY, API_SECRET, room_name, "guest"))
    try:
        while True:
            event = await asyncio.wait_for(received.get(), 20)
            assert isinstance(event, WebhookReceived)
            if event.room == room_name and event.event == "participant_joined":
                break
    finally:
        await room.disconnect()
    assert event.detail == "guest"


async def test_someone_joining_a_room_that_says_it_is_not_recording_costs_no_egress_listing(
    listener: WebhookListener, server: LiveKitServer, livekit_server: StackConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A join is checked against the room's recordings (to take the newcomer into an
    each-participant session) only when the room's metadata, as the join's webhook gives
    it, does not say the room is not recording."""
    room_name = unique_room("joins")
    await server.ensure_room(room_name)  # the app's metadata: STOPPED
    asked: list[str] = []
    list_egress = listener.recorder.server.list_egress

    async def listing(room: str, *args: object, **kwargs: object) -> list[api.EgressInfo]:
        asked.append(room)
        return await list_egress(room, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(listener.recorder.server, "list_egress", listing)
    received = _queue_of(listener, WebhookReceived)

    async def join(identity: str) -> WebhookReceived:
        room = rtc.Room()
        await room.connect(ws_url(livekit_server.livekit_url),
                           mint_token(API_KEY, API_SECRET, room_name, identity))
        try:
            while True:
                event = await asyncio.wait_for(received.get(), 20)
                assert isinstance(event, WebhookReceived)
                if event.event == "participant_joined" and event.detail == identity:
                    await asyncio.gather(*listener._joining)
                    return event
        finally:
            await room.disconnect()

    assert (await join("first")).room_status == "STOPPED"
    assert asked == []
    await server.set_recording_status(room_name, RecordingStatus.STARTED)
    assert (await join("second")).room_status == "STARTED"
    assert asked == [room_name]


async def test_egress_webhooks_drive_status_and_write_metadata(
    listener: WebhookListener, server: LiveKitServer, livekit_server: StackConfig
) -> None:
    room_name = unique_room("egress")
    await server.ensure_room(room_name)
    watcher = rtc.Room()
    changes: asyncio.Queue[str] = asyncio.Queue()
    watcher.on("room_metadata_changed",
               lambda _old, new: changes.put_nowait(parse_metadata(new)["recordingStatus"]))
    await watcher.connect(ws_url(livekit_server.livekit_url),
                          mint_token(API_KEY, API_SECRET, room_name, "watcher"))
    saved = _queue_of(listener, RecordingSaved)
    name = f"{room_name}-RM_test-2024-06-13T101010.mp4"
    try:
        for kind, status in (("egress_started", S.EGRESS_STARTING),
                             ("egress_updated", S.EGRESS_ACTIVE)):
            body = egress_event(kind, room_name, "EG_one", status)
            assert (await post(listener.url, body, sign(body)))[0] == 200
        assert await asyncio.wait_for(changes.get(), 15) == "STARTING"
        assert await asyncio.wait_for(changes.get(), 15) == "STARTED"
        body = egress_event("egress_ended", room_name, "EG_one", S.EGRESS_COMPLETE,
                            file_name=name)
        assert (await post(listener.url, body, sign(body)))[0] == 200
        assert await asyncio.wait_for(changes.get(), 15) == "STOPPED"
        assert await asyncio.wait_for(saved.get(), 15) == RecordingSaved(name, room_name)
    finally:
        await watcher.disconnect()
    stored = json.loads(await listener.store.read_bytes(listener.catalog.metadata_key(name)))
    assert stored == {"id": "EG_one", "name": name, "roomName": room_name, "roomId": "RM_test",
                      "startedAt": 1_700_000_000_000, "duration": 4.0, "size": 2048}


async def test_older_update_arriving_late_never_moves_status_back(
    listener: WebhookListener, server: LiveKitServer
) -> None:
    room_name = unique_room("order")
    await server.ensure_room(room_name)
    statuses = _queue_of(listener, RecordingStatusChanged)
    newer = egress_event("egress_updated", room_name, "EG_two", S.EGRESS_ACTIVE, updated_at=200)
    older = egress_event("egress_started", room_name, "EG_two", S.EGRESS_STARTING,
                         updated_at=100)
    for body in (newer, older, newer):  # the last one a duplicate delivery
        assert (await post(listener.url, body, sign(body)))[0] == 200
    await listener.queue.drained()
    applied = [statuses.get_nowait() for _ in range(statuses.qsize())]
    assert [getattr(e, "status", None) for e in applied] == [RecordingStatus.STARTED]
    assert await server.recording_status(room_name) is RecordingStatus.STARTED
    # Only this room: LiveKit's own room_finished for other tests' rooms come in too.
    status = await listener.status(room_name)
    assert (status.pending, status.done) == (0, 2)  # the duplicate was never queued


async def test_rooms_of_other_apps_are_left_alone(
    listener: WebhookListener, livekit_server: StackConfig
) -> None:
    async with LiveKitServer(livekit_server.livekit_url, API_KEY, API_SECRET,
                             app_name="someone-else") as other:
        room_name = unique_room("foreign")
        await other.ensure_room(room_name)
        body = egress_event("egress_updated", room_name, "EG_x", S.EGRESS_ACTIVE)
        assert (await post(listener.url, body, sign(body)))[0] == 200
        await listener.queue.drained()
        assert await other.recording_status(room_name) is RecordingStatus.STOPPED


@pytest.mark.parametrize(
    ("case", "expected"),
    [("unsigned", 401), ("tampered", 401), ("wrong key", 401), ("wrong secret", 401),
     ("garbage token", 401), ("oversized", 413), ("truncated json", 400),
     ("unknown event", 200)],
)
async def test_bad_webhooks_are_refused_and_change_nothing(
    listener: WebhookListener, server: LiveKitServer, case: str, expected: int
) -> None:
    room_name = unique_room("bad")
    await server.ensure_room(room_name)
    body = egress_event("egress_updated", room_name, "EG_bad", S.EGRESS_ACTIVE)
    auth: str | None = sign(body)
    if case == "unsigned":
        auth = None
    elif case == "tampered":
        body = body.replace(b"EGRESS_ACTIVE", b"EGRESS_FAILED")
    elif case == "wrong key":
        auth = sign(body, key="otherkey")
    elif case == "wrong secret":
        auth = sign(body, secret="another-secret-another-secret-xx")
    elif case == "garbage token":
        auth = "Bearer not.a.jwt"
    elif case == "oversized":
        body = body[:-1] + b', "pad": "' + b"x" * MAX_BODY + b'"}'
        auth = sign(body)
    elif case == "truncated json":
        body = body[: len(body) // 2]
        auth = sign(body)
    elif case == "unknown event":
        body = body.replace(b'"egress_updated"', b'"something_new"')
        auth = sign(body)
    status, _ = await post(listener.url, body, auth)
    assert status == expected
    queued = await listener.status(room_name)
    assert (queued.pending, queued.done) == (0, 0)
    assert await server.recording_status(room_name) is RecordingStatus.STOPPED


async def test_a_signed_event_protobuf_cannot_read_is_dead_lettered_not_applied(
    listener: WebhookListener, server: LiveKitServer
) -> None:
    """The route answers by a first look at the fields it needs; the full event is read
    when applied: one that reads as JSON but not as LiveKit's event is kept aside."""
    room_name = unique_room("unreadable")
    await server.ensure_room(room_name)
    event = json.loads(egress_event("egress_ended", room_name, "EG_odd", S.EGRESS_COMPLETE))
    event["egressInfo"]["startedAt"] = "not a time"
    body = json.dumps(event).encode()
    assert (await post(listener.url, body, sign(body)))[0] == 200
    await listener.queue.drained()
    queued = await listener.status(room_name)
    assert (queued.pending, queued.done, queued.dead) == (0, 0, 1)
    assert await server.recording_status(room_name) is RecordingStatus.STOPPED


async def test_listener_start_sets_stale_recording_rooms_back_to_stopped(
    livekit_server: StackConfig, minio_server: StackConfig, server: LiveKitServer,
    unused_tcp_port: int, tmp_path: Path, app_name: str,
) -> None:
    room_name = unique_room("stale")
    await server.ensure_room(room_name)
    await server.set_recording_status(room_name, RecordingStatus.STARTED)  # egress_ended missed
    settings = Settings.from_env({**livekit_server.env(), "APP_NAME": app_name,
                                  "SERVER_PORT": str(unused_tcp_port), "REDIS_URL": ""})
    service = WebhookListener(settings, data_dir=tmp_path)
    fixed = _queue_of(service, RecordingStatusChanged)
    await service.start()
    try:
        while True:
            event = await asyncio.wait_for(fixed.get(), 15)
            assert isinstance(event, RecordingStatusChanged)
            if event.room == room_name:
                break
    finally:
        await service.stop()
    assert event.status is RecordingStatus.STOPPED
    assert await server.recording_status(room_name) is RecordingStatus.STOPPED
