"""A room larger than a page, through the room view and the session as the window joins
it: only the videos on the page shown are received; a minimised window receives none;
a recording's tap receives them all."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from recconsole.core.tokens import mint_token
from recconsole.realtime.local_recording import FrameTap
from recconsole.realtime.session import RoomSession
from recconsole.ui.room_view import RoomView
from recconsole.ui.session_bridge import SessionBridge
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.rooms import unique_room
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e


def test_a_25_person_room_shows_pages_and_receives_only_the_page_in_sight(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
    tmp_path: Path,
) -> None:
    view = RoomView()
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    bridge = SessionBridge(view)
    bridge.participantJoined.connect(view.add_participant)  # as the window wires it
    bridge.participantLeft.connect(view.remove_participant)
    bridge.videoAdded.connect(lambda sid, who: view.add_video(sid, who))
    bridge.videoRemoved.connect(lambda sid, _who: view.remove_video(sid))
    room = unique_room("pages")

    # The bots publish from a process of their own, as `scripts/bot` does: 25 rooms in
    # this one would share its event loop with the window.
    log = tmp_path / "bots.log"
    with log.open("w") as out:
        bots = subprocess.Popen(
            [sys.executable, "-m", "recconsole_devtools.bot", "--room", room, "--count", "25",
             "--size", "160x90", "--fps", "5", "--no-audio",
             "--url", livekit_server.livekit_url],
            stdout=subprocess.DEVNULL, stderr=out)

    async def scenario() -> None:
        # All 25 joined and publishing (on a busy machine that takes a while).
        await eventually(lambda: "publishing" in log.read_text(), True, within=240)
        token = mint_token(API_KEY, API_SECRET, room, "console", "Console", observer=True)
        session = RoomSession(livekit_server.livekit_url, token, bridge)
        try:
            await session.connect()
            await eventually(lambda: len(view.tiles), 25, within=60)
            publications = {
                sid: pub for p in session.room.remote_participants.values()
                for sid, pub in p.track_publications.items() if sid in view.tiles}

            def receiving() -> list[str]:
                return sorted(sid for sid, pub in publications.items() if pub.subscribed)

            def page(number: int) -> list[str]:
                return sorted(sid for sid in view.tiles if view.page_of(sid) == number)

            assert view.pages == 3
            await eventually(receiving, page(0), within=30)
            await eventually(lambda: all(view.tiles[sid].frames_received >= 3
                                         for sid in page(0)), True, within=30)
            assert all(view.tiles[sid].frames_received == 0 for sid in page(1) + page(2))

            view.next_page_button.click()
            await eventually(receiving, page(1), within=30)
            await eventually(lambda: all(view.tiles[sid].frames_received >= 3
                                         for sid in page(1)), True, within=30)

            view.showMinimized()  # the window is the view here
            await eventually(receiving, [], within=30)
            view.showNormal()
            await eventually(receiving, page(1), within=30)

            tap = FrameTap()  # a recording on this computer needs every video
            session.attach_tap(tap)
            await eventually(receiving, sorted(view.tiles), within=30)
            session.detach_tap()
            await eventually(receiving, page(1), within=30)
            assert len(view.tiles) == 25  # paused videos kept their tiles throughout
        finally:
            await session.disconnect()

    try:
        qloop.run_until_complete(scenario())
    finally:
        bots.terminate()
        bots.wait(timeout=30)
