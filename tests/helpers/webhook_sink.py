"""A webhook recorder: collects the LiveKit server's webhooks, verified with livekit-api.

It runs on its own thread and event loop for the whole test session, started
before the LiveKit server and stopped after it, so no webhook ever arrives at a
half-closed listener. Tests wait for the events they expect.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from aiohttp import web
from livekit import api
from livekit.protocol.webhook import WebhookEvent


class WebhookRecorder:
    """Records every verified webhook posted to ``http://127.0.0.1:{port}/livekit/webhook``."""

    def __init__(self, port: int, api_key: str, api_secret: str) -> None:
        self.port = port
        self._receiver = api.WebhookReceiver(api.TokenVerifier(api_key, api_secret))
        self._events: list[WebhookEvent] = []
        self._changed = threading.Condition()
        self.rejected = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="webhook-recorder")

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.text()
        try:
            event = self._receiver.receive(body, request.headers.get("Authorization", ""))
        except Exception:  # noqa: BLE001 - livekit-api raises plain Exception
            with self._changed:
                self.rejected += 1
            return self._closing(web.Response(status=401))
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()
        return self._closing(web.Response(text="ok"))

    @staticmethod
    def _closing(response: web.Response) -> web.Response:
        # No keep-alive: no idle connection is left open when the recorder stops.
        response.force_close()
        return response

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/livekit/webhook", self._receive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def wait_for(
        self, match: Callable[[WebhookEvent], bool], within: float = 20.0
    ) -> WebhookEvent:
        """The first recorded event that ``match``es, waiting up to ``within`` seconds."""
        deadline = time.monotonic() + within
        with self._changed:
            while True:
                for event in self._events:
                    if match(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(e.event, e.room.name) for e in self._events[-10:]]
                    raise TimeoutError(f"no matching webhook within {within} s; last: {seen}")
                self._changed.wait(left)
