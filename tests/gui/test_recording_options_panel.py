"""The recording options beside the Record button: defaults, memory, problems in words."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from recconsole.core.recording_options import (
    Advanced,
    Content,
    Layout,
    OutputFormat,
    Preset,
    RecordingOptions,
)
from recconsole.ui.recording_options_panel import ADVANCED, RecordingOptionsButton

pytestmark = pytest.mark.gui
DEFAULTS = RecordingOptions(layout=Layout.SPEAKER, preset=Preset.P1080_30)


def _button(qtbot: QtBot, prefs: QSettings) -> RecordingOptionsButton:
    button = RecordingOptionsButton(DEFAULTS, prefs)
    qtbot.addWidget(button)
    return button


@pytest.fixture
def prefs(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat)


def test_nothing_picked_yet_is_the_settings_defaults(qtbot: QtBot, prefs: QSettings) -> None:
    button = _button(qtbot, prefs)
    assert button.options() == DEFAULTS
    assert button.text() == "room · 1080p30 · MP4 ▾"


def test_what_the_moderator_picks_is_remembered(qtbot: QtBot, prefs: QSettings) -> None:
    form = _button(qtbot, prefs).form
    form.content.setCurrentText("Audio only")
    form.output.setCurrentText("OGG (audio only)")
    form.layout_box.setCurrentText("grid-light")
    picked = RecordingOptions(layout=Layout.GRID_LIGHT, content=Content.AUDIO_ONLY,
                              preset=Preset.P1080_30, output=OutputFormat.OGG)
    assert form.options() == picked
    again = _button(qtbot, prefs)  # the next window, the next day
    assert again.options() == picked
    assert "audio" in again.text()
    again.form.reset_button.click()
    assert again.options() == DEFAULTS


def test_advanced_fields_show_only_for_advanced(qtbot: QtBot, prefs: QSettings) -> None:
    form = _button(qtbot, prefs).form
    assert not form.width_box.isVisibleTo(form)
    form.quality.setCurrentText(ADVANCED)
    assert form.width_box.isVisibleTo(form)
    form.width_box.setValue(853)
    assert form.options().advanced == Advanced(width=853)
    assert "width must be even" in form.problems.text()
    form.width_box.setValue(854)
    assert form.problems.text() == ""


def test_one_participant_or_each(qtbot: QtBot, prefs: QSettings) -> None:
    form = _button(qtbot, prefs).form
    form.set_participants(["alice", "bob"])
    form.who.setCurrentIndex(1)
    form.participant.setCurrentText("bob")
    form.screen_share.setChecked(True)
    assert form.options() == RecordingOptions(layout=Layout.SPEAKER, preset=Preset.P1080_30,
                                              participant="bob", screen_share=True)
    form.who.setCurrentIndex(2)
    assert form.options().each_participant
    assert form.options().participant == ""
    # Who is recorded is not remembered: the next window records the room.
    assert _button(qtbot, prefs).options() == DEFAULTS


def test_problems_show_as_they_are_typed(qtbot: QtBot, prefs: QSettings) -> None:
    form = _button(qtbot, prefs).form
    form.output.setCurrentText("OGG (audio only)")
    assert "OGG holds audio only" in form.problems.text()
    form.streams.setText("http://not-a-stream")
    assert "rtmp://" in form.problems.text()
