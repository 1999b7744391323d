"""Signed LiveKit webhooks, as the real server would send them, for tests to post."""

from __future__ import annotations

import base64
import hashlib
import io
import time
import uuid

import aiohttp
from google.protobuf.json_format import MessageToJson
from livekit import api
from livekit.protocol.webhook import WebhookEvent

from recconsole_devtools.devstack import API_KEY, API_SECRET


def sign(body: bytes, key: str = API_KEY, secret: str = API_SECRET) -> str:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return api.AccessToken(key, secret).with_sha256(digest).to_jwt()


def egress_event(
    kind: str,
    room: str,
    egress_id: str,
    status: int,
    *,
    updated_at: int | None = None,
    file_name: str = "",
    error: str = "",
    room_id: str = "RM_test",
    prefix: str = "recordings/",
    size: int = 2048,
) -> bytes:
    """The JSON body of an egress_* webhook (its file ``prefix + file_name``)."""
    info = api.EgressInfo(
        egress_id=egress_id, room_name=room, room_id=room_id, status=status, error=error,
        started_at=1_700_000_000_000_000_000,
        updated_at=updated_at if updated_at is not None else time.time_ns(),
    )
    if file_name:
        info.file_results.add(filename=f"{prefix}{file_name}", duration=4_000_000_000,
                              size=size)
    event = WebhookEvent(event=kind, egress_info=info, id=f"EV_{uuid.uuid4().hex[:12]}",
                         created_at=int(time.time()))
    return MessageToJson(event).encode()


async def post(url: str, body: bytes, authorization: str | None = None,
               ) -> tuple[int, str]:
    headers = {"Content-Type": "application/webhook+json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with aiohttp.ClientSession() as http, http.post(
        url, data=io.BytesIO(body), headers=headers, timeout=aiohttp.ClientTimeout(total=10)
    ) as resp:
        return resp.status, await resp.text()
