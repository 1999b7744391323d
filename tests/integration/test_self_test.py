"""`recconsole --self-test --join ROOM`, the check the standalone build runs, for real."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from recconsole_devtools.bot import BotOptions, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.rooms import unique_room

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_self_test_joins_a_room_and_receives_video(livekit_server: StackConfig) -> None:
    room = unique_room("selftest")
    bots = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 1,
                            BotOptions(width=320, height=180, fps=15, audio=False))
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "recconsole", "--env-file", os.devnull, "--self-test",
            "--join", room, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, **livekit_server.env(), "QT_QPA_PLATFORM": "offscreen"})
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        await asyncio.gather(*(bot.stop() for bot in bots))
    assert proc.returncode == 0, out.decode()[-1000:]
    assert f"5 video frames received in room {room}" in out.decode()


async def test_self_test_fails_when_the_room_has_no_video(livekit_server: StackConfig) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "recconsole", "--env-file", os.devnull, "--self-test",
        "--join", unique_room("empty"), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, **livekit_server.env(), "QT_QPA_PLATFORM": "offscreen"})
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 1
    assert "self-test failed: 0 video frames" in out.decode()
