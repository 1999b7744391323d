"""The test run's stand-in for CPython's fix of gh-109564 (tests/helpers/server_close_race)."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


async def test_a_connection_accepted_as_its_server_closes_is_closed_not_left_open() -> None:
    """However few loop iterations after a client connected its server closes (two, on
    Python 3.11: accepted, its transport not built yet), the client's connection is
    closed at once, never left open on a socket nobody holds."""
    loop = asyncio.get_running_loop()
    for iterations in range(6):
        server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.setblocking(False)
            for _ in range(iterations):
                await asyncio.sleep(0)
            server.close()
            await server.wait_closed()
            with contextlib.suppress(ConnectionResetError):  # closed before its accept
                assert await asyncio.wait_for(loop.sock_recv(client, 16), 5) == b"", iterations
