"""Tokens: minted by the console, or fetched from a tutorial-style application server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from livekit import rtc

from recconsole.core.errors import TokenServerError
from recconsole.core.livekit_server import ws_url
from recconsole.core.tokens import fetch_token, mint_token
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.rooms import unique_room

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@pytest_asyncio.fixture
async def app_server(unused_tcp_port: int) -> AsyncIterator[str]:
    """An application server with the tutorials' ``POST /token`` behaviour."""

    async def token(request: web.Request) -> web.Response:
        body = await request.json()
        room, name = body.get("roomName"), body.get("participantName")
        if not room or not name:
            return web.json_response(
                {"errorMessage": "roomName and participantName are required"}, status=400)
        if room == "no-token":
            return web.json_response({"nothing": True})
        return web.json_response({"token": mint_token(API_KEY, API_SECRET, room, name)})

    app = web.Application()
    app.router.add_post("/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    yield f"http://127.0.0.1:{unused_tcp_port}"
    await runner.cleanup()


async def test_fetched_token_joins_the_real_server(
    app_server: str, livekit_server: StackConfig
) -> None:
    room_name = unique_room("fetched")
    token = await fetch_token(app_server, room_name, "alice")
    room = rtc.Room()
    await room.connect(ws_url(livekit_server.livekit_url), token)
    try:
        assert room.local_participant.identity == "alice"
        assert room.name == room_name
    finally:
        await room.disconnect()


async def test_app_server_refusal_is_shown_with_its_message(app_server: str) -> None:
    with pytest.raises(TokenServerError, match="roomName and participantName are required"):
        await fetch_token(app_server, "", "alice")


async def test_answer_without_a_token_is_an_error(app_server: str) -> None:
    with pytest.raises(TokenServerError, match="without a token"):
        await fetch_token(app_server, "no-token", "alice")


async def test_unreachable_app_server_is_named() -> None:
    with pytest.raises(TokenServerError, match=r"127\.0\.0\.1:9/token"):
        await fetch_token("http://127.0.0.1:9", "r", "alice", timeout=5)
