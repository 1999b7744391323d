"""Recording each participant separately from the window, with the real egress service:
the options beside the Record button, a participant who joins while it runs, one Stop
for all, and the files listed as one session."""

from __future__ import annotations

import asyncio
import time

import pytest
from livekit import api
from pytestqt.qtbot import QtBot

from recconsole.core.recording_options import RecordingOptions
from recconsole.core.recording_status import RecordingStatus
from recconsole.settings import Settings
from recconsole.ui.app import build_services, shutdown, start_listener
from recconsole.ui.main_window import MainWindow
from recconsole.ui.recordings_model import recording_kind
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.e2e.conftest import next_emission
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e
SMALL = BotOptions(width=320, height=180, fps=15)


def test_each_participant_from_the_window_records_whoever_joins(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, egress_stack: StackConfig,
) -> None:
    cfg = egress_stack
    settings = Settings.from_env({**cfg.env(), "APP_NAME": TEST_APP, "REDIS_URL": "",
                                  "SERVER_PORT": str(cfg.ports.webhook)})
    room = unique_room("each-win")
    window = MainWindow(build_services(settings), room=room)
    qtbot.addWidget(window)
    window.show()
    server = window.services.server

    async def active() -> int:
        return sum(e.status == api.EgressStatus.EGRESS_ACTIVE
                   for e in await server.list_egress(room, active=True))

    async def scenario() -> None:
        listener = await start_listener(window)
        assert listener is not None, window.event_log.toPlainText()
        bots: list[PublisherBot] = []
        try:
            joined = next_emission(window.joinedChanged)
            window.join_button.click()
            assert await asyncio.wait_for(joined, 20) == (True,)
            bots = await start_bots(cfg.livekit_url, API_KEY, API_SECRET, room, 2, SMALL)
            await eventually(lambda: sorted(window.options_button.form.participant.itemText(i)
                                            for i in range(2)), ["bot-1", "bot-2"])
            window.options_button.form.who.setCurrentIndex(2)  # each participant
            assert window.options_button.options() == RecordingOptions(each_participant=True)
            window.record_button.click()
            await eventually(lambda: window.status, RecordingStatus.STARTED, within=60)
            await eventually(active, 2, within=60)
            bots += await start_bots(cfg.livekit_url, API_KEY, API_SECRET, room, 1, SMALL,
                                     prefix="late")
            await eventually(active, 3, within=60)  # the window started the newcomer's
            since = time.monotonic()
            await eventually(lambda: time.monotonic() - since >= 4, True, within=10)
            window.record_button.click()
            await eventually(lambda: window.status, RecordingStatus.STOPPED, within=60)
            await eventually(active, 0, within=30)  # one Stop stopped all three
            model = window.room_recordings.model
            await eventually(lambda: model.total, 3, within=60)
            assert model.rowCount() == 1  # one session, its files under it
            rows = model.files(0)
            assert sorted(r.extra["participant"] for r in rows) == ["bot-1", "bot-2", "late-1"]
            sessions = {r.extra["session"] for r in rows}
            assert len(sessions) == 1
            tag = sessions.pop().rsplit("-", 1)[-1]
            assert all(recording_kind(r).endswith(f"session {tag}") for r in rows)
        finally:
            await asyncio.gather(*(bot.stop() for bot in bots))
            await shutdown(window, listener)

    qloop.run_until_complete(scenario())
