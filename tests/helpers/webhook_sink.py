"""A tiny aiohttp endpoint that collects LiveKit webhooks verified with livekit-api.

Used by tests to see what the real LiveKit server sends before the product's own
listener exists in a test; it verifies exactly as the product must.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from livekit import api
from livekit.protocol.webhook import WebhookEvent


@dataclass
class WebhookSink:
    events: asyncio.Queue[WebhookEvent] = field(default_factory=asyncio.Queue)
    rejected: int = 0

    async def next_matching(self, room: str, kinds: set[str], timeout: float) -> WebhookEvent:
        """The next verified event of ``room`` whose type is one of ``kinds``."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if event.room.name == room and event.event in kinds:
                    return event


@asynccontextmanager
async def webhook_sink(port: int, api_key: str, api_secret: str) -> AsyncIterator[WebhookSink]:
    receiver = api.WebhookReceiver(api.TokenVerifier(api_key, api_secret))
    sink = WebhookSink()

    async def receive(request: web.Request) -> web.Response:
        body = await request.text()
        try:
            event = receiver.receive(body, request.headers.get("Authorization", ""))
        except Exception:
            sink.rejected += 1
            return web.Response(status=401)
        await sink.events.put(event)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/livekit/webhook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield sink
    finally:
        await runner.cleanup()
