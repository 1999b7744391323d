"""The event log says, with the time, what the moderator must know and cannot see."""

from __future__ import annotations

import re

import pytest
from pytestqt.qtbot import QtBot

from recconsole.core.events import DuplicateStopped, EffectDeadLettered, EventBus, LimitReached
from recconsole.ui.event_log import EventLog

pytestmark = pytest.mark.gui


def test_given_up_webhooks_duplicates_and_limits_are_logged_in_words(qtbot: QtBot) -> None:
    events = EventBus()
    log = EventLog(events)
    qtbot.addWidget(log)
    events.publish(EffectDeadLettered("reunión #1", "egress_ended", "EV_1",
                                      "not a valid recording name: '../x.mp4'"))
    events.publish(DuplicateStopped("daily", "EG_ours", "EG_theirs", "another app"))
    events.publish(LimitReached("daily", "EG_ours", "maximum duration of 600 s reached"))
    lines = log.toPlainText().splitlines()
    assert len(lines) == 3
    assert all(re.match(r"\d\d:\d\d:\d\d  ", line) for line in lines)
    assert "reunión #1" in lines[0]
    assert "not a valid recording name" in lines[0]
    assert "recconsole listen --replay" in lines[0]
    assert "another app started recording at the same moment" in lines[1]
    assert "EG_theirs goes on" in lines[1]
    assert "EG_ours was stopped" in lines[1]
    assert lines[2].endswith("stopped: maximum duration of 600 s reached")
