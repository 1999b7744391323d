"""Forwarding recording events to the integrator's own URLs, as OpenVidu Meet does.

Each egress webhook the listener applies becomes a ``recordingStarted`` /
``recordingUpdated`` / ``recordingEnded`` JSON event, POSTed to every URL in
WEBHOOK_FORWARD_URLS with ``X-Timestamp`` (ms) and ``X-Signature`` =
hex HMAC-SHA256(WEBHOOK_FORWARD_SECRET, ``timestamp + "." + body``). Deliveries go
through the durable queue, one ordered lane per URL, retried with backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Final

import aiohttp
from livekit import api

from recconsole.core.recording_status import status_from_egress
from recconsole.server.durable_queue import DurableQueue, Effect

FORWARD_KIND: Final = "forward"
EVENT_NAMES: Final = {
    "egress_started": "recordingStarted",
    "egress_updated": "recordingUpdated",
    "egress_ended": "recordingEnded",
}


class DeliveryFailed(Exception):
    """The receiving server did not accept the event; it will be sent again."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """hex HMAC-SHA256 over ``timestamp.body``."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def recording_event(kind: str, egress: api.EgressInfo) -> dict[str, Any]:
    """The forwarded JSON for an egress webhook."""
    data: dict[str, Any] = {
        "recordingId": egress.egress_id,
        "roomName": egress.room_name,
        "roomId": egress.room_id,
        "status": status_from_egress(egress.status).value,
        "startDate": egress.started_at // 1_000_000,
    }
    if egress.error:
        data["error"] = egress.error
    if egress.file_results:
        result = egress.file_results[0]
        data.update(filename=result.filename.rsplit("/", 1)[-1],
                    duration=result.duration / 1_000_000_000, size=result.size)
    if egress.ended_at:
        data["endDate"] = egress.ended_at // 1_000_000
    return {"event": EVENT_NAMES[kind], "creationDate": int(time.time() * 1000), "data": data}


class Forwarder:
    """Queues forwarded events and delivers them, signed."""

    def __init__(self, urls: list[str], secret: str, queue: DurableQueue,
                 timeout: float = 10.0) -> None:
        self.urls, self._secret, self.queue, self.timeout = urls, secret, queue, timeout
        self._http: aiohttp.ClientSession | None = None

    async def enqueue(self, source_event_id: str, kind: str, egress: api.EgressInfo) -> None:
        """Queue the event for every URL (once per source webhook)."""
        payload = recording_event(kind, egress)
        for url in self.urls:
            job = json.dumps({"url": url, "payload": payload}).encode()
            await self.queue.put(f"{source_event_id}>{url}", f"{FORWARD_KIND} {url}",
                                 FORWARD_KIND, job)

    async def deliver(self, effect: Effect) -> None:
        """POST one queued event; raises DeliveryFailed to have it retried."""
        job = json.loads(effect.body)
        body = json.dumps(job["payload"], separators=(",", ":")).encode()
        timestamp = str(int(time.time() * 1000))
        headers = {"Content-Type": "application/json", "X-Timestamp": timestamp,
                   "X-Signature": signature(self._secret, timestamp, body)}
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            async with self._http.post(job["url"], data=body, headers=headers) as resp:
                if not 200 <= resp.status < 300:
                    raise DeliveryFailed(f"{job['url']} answered {resp.status}")
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DeliveryFailed(f"{job['url']}: {err or type(err).__name__}") from None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
