"""Recording events forwarded to an integrator's server: signed, ordered, retried."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from livekit import api

from recconsole.core.livekit_server import LiveKitServer
from recconsole.server.forwarding import signature
from recconsole.server.listener import WebhookListener
from recconsole.settings import Settings
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.rooms import unique_room
from tests.helpers.webhooks import egress_event, post, sign

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

APP = "recconsole-tests"
SECRET = "forward-secret-forward-secret-32"


class Receiver:
    """The integrator's server: checks signatures, fails the first deliveries on purpose."""

    def __init__(self, failures: int) -> None:
        self.failures_left = failures
        self.refused = 0
        self.bad_signatures = 0
        self.events: asyncio.Queue[dict[str, object]] = asyncio.Queue()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get("X-Timestamp", "")
        if request.headers.get("X-Signature") != signature(SECRET, timestamp, body):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.failures_left:
            self.failures_left -= 1
            self.refused += 1
            return web.Response(status=500)
        await self.events.put(json.loads(body))
        return web.Response(status=204)


@pytest_asyncio.fixture
async def receiver(unused_tcp_port_factory: object) -> AsyncIterator[tuple[Receiver, str]]:
    target = Receiver(failures=2)
    app = web.Application()
    app.router.add_post("/hooks", target.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = unused_tcp_port_factory()  # type: ignore[operator]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield target, f"http://127.0.0.1:{port}/hooks"
    await runner.cleanup()


async def test_recording_events_are_forwarded_signed_in_order_despite_failures(
    livekit_server: StackConfig, minio_server: StackConfig, receiver: tuple[Receiver, str],
    unused_tcp_port: int, tmp_path: Path,
) -> None:
    target, url = receiver
    async with LiveKitServer(livekit_server.livekit_url, API_KEY, API_SECRET, app_name=APP) as s:
        room = unique_room("fwd")
        await s.ensure_room(room)
    settings = Settings.from_env({
        **livekit_server.env(), "APP_NAME": APP, "SERVER_PORT": str(unused_tcp_port),
        "REDIS_URL": "", "WEBHOOK_FORWARD_URLS": url, "WEBHOOK_FORWARD_SECRET": SECRET,
        "RECORDINGS_PATH": "forwarded/",
    })
    listener = WebhookListener(settings, data_dir=tmp_path, reconcile_every=None)
    listener.queue.first_backoff = 0.05
    await listener.start()
    try:
        name = f"{room}-RM_test-0001.mp4"
        for kind, status in (("egress_started", api.EgressStatus.EGRESS_STARTING),
                             ("egress_updated", api.EgressStatus.EGRESS_ACTIVE),
                             ("egress_ended", api.EgressStatus.EGRESS_COMPLETE)):
            body = egress_event(kind, room, "EG_fwd", status,
                                file_name=name if kind == "egress_ended" else "")
            assert (await post(listener.url, body, sign(body)))[0] == 200
        got = [await asyncio.wait_for(target.events.get(), 20) for _ in range(3)]
    finally:
        await listener.stop()
    assert [e["event"] for e in got] == ["recordingStarted", "recordingUpdated", "recordingEnded"]
    assert [e["data"]["status"] for e in got] == ["STARTING", "STARTED", "STOPPED"]  # type: ignore[index]
    ended = got[2]["data"]
    assert isinstance(ended, dict)
    assert (ended["recordingId"], ended["roomName"], ended["filename"], ended["size"]) == (
        "EG_fwd", room, name, 2048)
    assert (target.refused, target.bad_signatures) == (2, 0)

