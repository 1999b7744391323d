"""Small helpers for tests that use real rooms."""

from __future__ import annotations

import contextlib
import uuid

from livekit import api

from recconsole_devtools.bot import PublisherBot
from recconsole_devtools.devstack import API_KEY, API_SECRET

TEST_APP = "recconsole-tests"  # APP_NAME of the rooms tests create


def unique_room(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def make_leave(bot: PublisherBot, livekit_url: str, room: str) -> None:
    """The bot leaves: it disconnects, and the server is told to drop it too.

    A client's own disconnect is sometimes noticed by the server only after its
    departure timeout (~15 s); removing it server-side makes leaving prompt in tests.
    """
    identity = bot.room.local_participant.identity
    await bot.stop()
    async with api.LiveKitAPI(livekit_url, API_KEY, API_SECRET) as lk:
        with contextlib.suppress(api.ServerError):  # already gone: nothing to do
            await lk.room.remove_participant(
                api.RoomParticipantIdentity(room=room, identity=identity))
