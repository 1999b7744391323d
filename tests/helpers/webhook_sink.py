"""A webhook recorder: collects the LiveKit server's webhooks, verified with livekit-api.

The receiving HTTP server runs in a child process for the whole test session (started
before the LiveKit server, stopped after it) and prints each verified event as one JSON
line; a reader thread here collects them. Keeping the server out of the test process
means no webhook in flight at shutdown can leave a half-open socket behind in it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from google.protobuf.json_format import Parse
from livekit.protocol.webhook import WebhookEvent

_SERVER = r"""
import asyncio, json, os, sys
from aiohttp import web
from livekit import api
from recconsole.server.verification import Unauthorized, WebhookVerifier, peek_event

port, key, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
receiver = api.WebhookReceiver(api.TokenVerifier(key, secret))
ours = WebhookVerifier(key, secret)

async def receive(request):
    body = await request.text()
    authorization = request.headers.get("Authorization", "")
    try:
        ours.verify(body.encode(), authorization)
        peeked = peek_event(body.encode())
    except (Unauthorized, ValueError) as err:
        peeked = err
    try:
        event = receiver.receive(body, authorization)
    except Exception:
        print(json.dumps({"rejected": True, "ours": str(peeked)}), flush=True)
        return web.Response(status=401)
    if isinstance(peeked, Exception) or (peeked.event, peeked.room) != (
            event.event, event.room.name or event.egress_info.room_name):
        print(json.dumps({"disagreed": str(peeked)}), flush=True)
    print(json.dumps({"body": body}), flush=True)
    return web.Response(text="ok")

async def main():
    app = web.Application()
    app.router.add_post("/livekit/webhook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()  # fails loudly if the port is taken
    print(json.dumps({"ready": True}), flush=True)
    parent = os.getppid()
    while os.getppid() == parent:  # the test process is gone: so are we
        await asyncio.sleep(1)

asyncio.run(main())
"""

class WebhookRecorder:
    """Records every verified webhook posted to ``http://127.0.0.1:{port}/livekit/webhook``.

    ``disagreed`` counts the webhooks the listener's own verifier and first look did not
    read as livekit-api did: what a real server sends must pass both alike.
    """

    def __init__(self, port: int, api_key: str, api_secret: str) -> None:
        self.port = port
        self._args = [str(port), api_key, api_secret]
        self._events: list[WebhookEvent] = []
        self._changed = threading.Condition()
        self._ready = threading.Event()
        self.rejected = 0
        self.disagreed: list[str] = []
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, *self._args],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True, name="webhook-reader")
        self._reader.start()
        if not self._ready.wait(30) or self._proc.poll() is not None:
            self.stop()
            raise RuntimeError(f"the webhook recorder did not start on port {self.port}"
                               " (is it taken?)")

    def _read(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            message = json.loads(line)
            if message.get("ready"):
                self._ready.set()
                continue
            with self._changed:
                if "disagreed" in message:
                    self.disagreed.append(message["disagreed"])
                    continue
                if message.get("rejected"):
                    self.rejected += 1
                else:
                    self._events.append(Parse(message["body"], WebhookEvent(),
                                              ignore_unknown_fields=True))
                self._changed.notify_all()
        self._ready.set()  # the server ended: let start() see it at once

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=30)
            if self._proc.stdout is not None:
                self._proc.stdout.close()
        if self._reader is not None:
            self._reader.join(timeout=10)

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
