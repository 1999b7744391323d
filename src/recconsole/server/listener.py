"""The webhook listener as one service: web server, durable queue and effect worker.

The window starts it inside its (qasync) loop; ``recconsole listen`` starts it
alone. Either way it binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from aiohttp import web
from livekit import api

from recconsole.core.errors import ConsoleError
from recconsole.core.events import EffectDeadLettered, EventBus, WebhookReceived
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recorder import Recorder, upload_from_settings
from recconsole.server.app import init_app, start_server
from recconsole.server.durable_queue import DurableQueue, Effect, QueueBusy, QueueStatus
from recconsole.server.effects import WebhookEffects
from recconsole.server.forwarding import Forwarder
from recconsole.server.playback_access import PlaybackAccess
from recconsole.server.shared_state import SharedState
from recconsole.server.verification import WebhookVerifier
from recconsole.server.webhooks import Listener
from recconsole.settings import Settings, user_data_dir
from recconsole.storage.base import ObjectStore
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.factory import store_from_settings

log = logging.getLogger(__name__)


def queue_path(data_dir: Path | None = None) -> Path:
    return (data_dir or user_data_dir()) / "webhooks.sqlite3"


class WebhookListener:
    """Receives LiveKit webhooks on ``host:port`` and applies them durably.

    The window passes its own LiveKit server client and shared state, so its
    recorder and its listener change room metadata one at a time and hold the same
    recording locks.
    """

    def __init__(
        self,
        settings: Settings,
        events: EventBus | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        data_dir: Path | None = None,
        store: ObjectStore | None = None,
        server: LiveKitServer | None = None,
        shared: SharedState | None = None,
        reconcile_every: float | None = 300.0,
        joiners: Recorder | None = None,
    ) -> None:
        self.settings = settings
        self.events = events or EventBus()
        self.host, self.port = host, settings.server_port if port is None else port
        self.queue = DurableQueue(queue_path(data_dir), concurrency=4, on_dead=self._dead)
        self.store = store or store_from_settings(settings)
        self.catalog = RecordingsCatalog(self.store, settings.recordings_path)
        self._own_server = server is None
        self.server = server or LiveKitServer(
            settings.livekit_url, settings.livekit_api_key, settings.livekit_api_secret.value,
            app_name=settings.app_name)
        self._own_shared = shared is None
        self.shared = shared or SharedState.from_settings(settings, data_dir)
        self.locks = self.shared.locks
        self.recorder = Recorder(
            self.server, recordings_path=settings.recordings_path,
            upload=upload_from_settings(settings), recording_locks=self.locks,
            started=self.shared.started, events=self.events)
        # Each participant separately: whoever joins while it runs is recorded too, by
        # ``joiners`` (the window's recorder, which also hears of them from its session)
        # or this listener's own.
        self.joiners = joiners or self.recorder
        self._joining: set[asyncio.Task[None]] = set()
        self._unsubscribe = self.events.subscribe(WebhookReceived, self._participant_joined)
        self.reconcile_every = reconcile_every
        self.stop_timeout = 10.0
        self.forwarder = (
            Forwarder(settings.forward_urls, settings.webhook_forward_secret.value, self.queue)
            if settings.forward_urls else None)
        self.effects = WebhookEffects(self.server, self.catalog, self.shared.ledger, self.locks,
                                      self.events, self.shared.claims, self.forwarder,
                                      self.shared.started)
        self.access = PlaybackAccess.for_listener(settings, host)
        self.app: web.Application = init_app(
            settings, self.catalog,
            Listener(WebhookVerifier(settings.livekit_api_key, settings.livekit_api_secret.value),
                     self.queue, self.events),
            access=self.access,
        )
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/livekit/webhook"

    async def start(self) -> None:
        """Open the queue, bind the port, then resume pending effects.

        Nothing is applied unless the port is ours and no other process applies this
        queue: a listener that cannot start leaves the queue as it found it.
        """
        await self.queue.open()
        try:
            self.queue.claim_worker()
        except QueueBusy as err:
            raise ConsoleError(f"{err}; give this listener its own --data-dir") from None
        try:
            self._runner = await start_server(self.app, self.host, self.port)
        except OSError:
            self.queue.release_worker()
            raise
        self._tasks.append(asyncio.create_task(self.queue.run(self.effects)))
        self._tasks.append(asyncio.create_task(self.recorder.limits.run()))
        if self.reconcile_every is not None:
            self._tasks.append(asyncio.create_task(self._reconcile_periodically(
                self.reconcile_every)))
        log.info("listening for LiveKit webhooks on %s", self.url)

    def _participant_joined(self, event: WebhookReceived) -> None:
        if event.event != "participant_joined" or not event.room or not event.detail:
            return
        task = asyncio.ensure_future(self._record_newcomer(event.room, event.detail,
                                                           event.room_status))
        self._joining.add(task)
        task.add_done_callback(self._joining.discard)

    async def _record_newcomer(self, room: str, identity: str, room_status: str) -> None:
        try:
            await self.joiners.participant_joined(room, api.ParticipantInfo(identity=identity),
                                                  room_status)
        except ConsoleError as err:
            log.warning("could not record %r, who joined %r: %s", identity, room, err)

    def _dead(self, effect: Effect, reason: str) -> None:
        self.events.publish(EffectDeadLettered(effect.room, effect.kind, effect.event_id, reason))

    async def _reconcile_periodically(self, every: float) -> None:
        """Rooms left saying "recording" by a missed egress_ended are set right, now and later."""
        while True:
            try:
                changed = await self.recorder.reconcile_all()
            except ConsoleError as err:
                log.warning("could not reconcile rooms: %s", err)
            else:
                for room, status in changed.items():
                    log.info("reconciled room %r: %s", room, status and status.value)
            await asyncio.sleep(every)

    async def stop(self) -> None:
        """Finish requests in flight, stop applying (pending effects stay queued), close."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        worker = self._tasks[0] if self._tasks else None
        if worker is not None:
            self.queue.request_stop()  # effects being applied are finished and recorded
            try:
                await asyncio.wait_for(asyncio.shield(worker), self.stop_timeout)
            except TimeoutError:
                log.warning("effects still running after %.0f s: they stay queued",
                            self.stop_timeout)
        for task in self._tasks:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks = []
        self._unsubscribe()
        for joining in list(self._joining):
            joining.cancel()
        await asyncio.gather(*self._joining, return_exceptions=True)
        await self.recorder.aclose()
        await self.queue.close()
        if self.forwarder is not None:
            await self.forwarder.aclose()
        if self._own_server:
            await self.server.aclose()
        await self.store.aclose()
        if self._own_shared:
            await self.shared.aclose()

    async def status(self, room: str | None = None) -> QueueStatus:
        return await self.queue.status(room)
