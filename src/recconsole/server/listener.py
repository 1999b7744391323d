"""The webhook listener as one service: web server, durable queue and effect worker.

The window starts it inside its (qasync) loop; ``recconsole listen`` starts it
alone. Either way it binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from recconsole.core.errors import ConsoleError
from recconsole.core.events import EventBus
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recorder import Recorder
from recconsole.server.app import init_app, start_server
from recconsole.server.durable_queue import DurableQueue, QueueStatus
from recconsole.server.forwarding import Forwarder
from recconsole.server.locks import (
    EffectClaims,
    EgressLedger,
    LocalEffectClaims,
    LocalEgressLedger,
    LocalRecordingLocks,
    RecordingLocks,
    RedisEffectClaims,
    RedisEgressLedger,
    RedisRecordingLocks,
)
from recconsole.server.webhooks import Listener, WebhookEffects, WebhookVerifier
from recconsole.settings import Settings, user_data_dir
from recconsole.storage.base import ObjectStore
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.factory import store_from_settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)


def queue_path(data_dir: Path | None = None) -> Path:
    return (data_dir or user_data_dir()) / "webhooks.sqlite3"


class WebhookListener:
    """Receives LiveKit webhooks on ``host:port`` and applies them durably."""

    def __init__(
        self,
        settings: Settings,
        events: EventBus | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        data_dir: Path | None = None,
        store: ObjectStore | None = None,
        reconcile_every: float | None = 300.0,
    ) -> None:
        self.settings = settings
        self.events = events or EventBus()
        self.host, self.port = host, settings.server_port if port is None else port
        self.queue = DurableQueue(queue_path(data_dir), concurrency=4)
        self.store = store or store_from_settings(settings)
        self.catalog = RecordingsCatalog(self.store, settings.recordings_path)
        self.server = LiveKitServer(settings.livekit_url, settings.livekit_api_key,
                                    settings.livekit_api_secret.value, app_name=settings.app_name)
        self.redis: Redis | None = None
        self.locks: RecordingLocks = LocalRecordingLocks()
        ledger: EgressLedger = LocalEgressLedger()
        claims: EffectClaims = LocalEffectClaims()
        if settings.redis_url:
            from redis.asyncio import from_url  # imported only when configured

            self.redis = from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
            self.locks = RedisRecordingLocks(self.redis)
            ledger, claims = RedisEgressLedger(self.redis), RedisEffectClaims(self.redis)
        self.recorder = Recorder(self.server, recording_locks=self.locks, events=self.events)
        self.reconcile_every = reconcile_every
        self.stop_timeout = 10.0
        self.forwarder = (
            Forwarder(settings.forward_urls, settings.webhook_forward_secret.value, self.queue)
            if settings.forward_urls else None)
        self.effects = WebhookEffects(self.server, self.catalog, ledger, self.locks,
                                      self.events, claims, self.forwarder)
        self.app: web.Application = init_app(
            settings, self.catalog,
            Listener(WebhookVerifier(settings.livekit_api_key, settings.livekit_api_secret.value),
                     self.queue, self.events),
        )
        self._runner: web.AppRunner | None = None
        self._worker: asyncio.Task[None] | None = None
        self._reconciler: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/livekit/webhook"

    async def start(self) -> None:
        """Open the queue, resume pending effects, and start accepting webhooks."""
        await self.queue.open()
        self._worker = asyncio.create_task(self.queue.run(self.effects))
        self._runner = await start_server(self.app, self.host, self.port)
        if self.reconcile_every is not None:
            self._reconciler = asyncio.create_task(self._reconcile_periodically(
                self.reconcile_every))
        log.info("listening for LiveKit webhooks on %s", self.url)

    async def _reconcile_periodically(self, every: float) -> None:
        """Rooms left saying "recording" by a missed egress_ended are set right, now and later."""
        while True:
            try:
                changed = await self.recorder.reconcile_all()
            except ConsoleError as err:
                log.warning("could not reconcile rooms: %s", err)
            else:
                for room, status in changed.items():
                    log.info("reconciled room %s: %s", room, status and status.value)
            await asyncio.sleep(every)

    async def stop(self) -> None:
        """Finish requests in flight, stop applying (pending effects stay queued), close."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._worker is not None:
            self.queue.request_stop()  # effects being applied are finished and recorded
            try:
                await asyncio.wait_for(asyncio.shield(self._worker), self.stop_timeout)
            except TimeoutError:
                log.warning("effects still running after %.0f s: they stay queued",
                            self.stop_timeout)
        for task in (self._worker, self._reconciler):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._worker = self._reconciler = None
        await self.queue.close()
        if self.forwarder is not None:
            await self.forwarder.aclose()
        await self.server.aclose()
        await self.store.aclose()
        if self.redis is not None:
            await self.redis.aclose()

    async def status(self, room: str | None = None) -> QueueStatus:
        return await self.queue.status(room)
