"""Saved settings apply without a restart: the console rebuilds what depends on them (the
storage, the webhook listener, the LiveKit client) and reopens the window in place.
Real LiveKit server, real listener on real ports, a real folder of recordings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from recconsole.settings import Settings, load_settings, save_user_settings
from recconsole.ui.app import build_services, console_lifetime, open_window
from recconsole.ui.main_window import MainWindow
from recconsole.ui.settings_dialog import SettingsDialog
from recconsole_devtools.devstack import StackConfig, http_status
from tests.e2e.conftest import next_emission
from tests.helpers.rooms import TEST_APP
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e


def _folder(root: Path, room: str) -> Path:
    """A recordings folder with one recording file of ``room`` (no metadata)."""
    (root / "recordings").mkdir(parents=True)
    (root / "recordings" / f"{room}-RM_abc-2026-01-02T030405-a1b2c3.mp4").write_bytes(b"\0" * 64)
    return root


def _windows() -> list[MainWindow]:
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, MainWindow) and w.isVisible()]


def _listening(port: int) -> bool:
    """Whether something answers HTTP there (blocking: run it off the loop)."""
    return http_status(f"http://127.0.0.1:{port}/") is not None


def test_saved_settings_reconnect_the_storage_and_the_listener_at_once(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
    tmp_path: Path, unused_tcp_port_factory: object,
) -> None:
    first, second = _folder(tmp_path / "one", "alpha"), _folder(tmp_path / "two", "beta")
    ports = [unused_tcp_port_factory() for _ in range(2)]  # type: ignore[operator]
    save_user_settings({"RECORDINGS_STORAGE": "local", "RECORDINGS_DIR": str(first),
                        "SERVER_PORT": str(ports[0])})  # the user's settings file
    livekit = {k: v for k, v in livekit_server.env().items() if k.startswith("LIVEKIT_")}
    settings = load_settings(environ={**livekit, "APP_NAME": TEST_APP}, dotenv=None)
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    qapp.setQuitOnLastWindowClosed(False)  # as run_console has it: the loop outlives a window
    old = open_window(settings)  # not handed to qtbot: applying settings deletes it

    async def scenario() -> MainWindow:
        lifetime = asyncio.ensure_future(console_lifetime(old))
        await eventually(lambda: asyncio.to_thread(_listening, ports[0]), True, within=20)
        await eventually(lambda: old.recordings.progress.text().endswith(str(first)), True)
        old.edit_settings()
        dialog = old.findChild(SettingsDialog)
        assert dialog is not None
        for name, value in (("RECORDINGS_DIR", str(second)), ("SERVER_PORT", str(ports[1]))):
            field = dialog.inputs[name]
            assert isinstance(field, QLineEdit)
            field.setText(value)
        dialog.save()
        await eventually(lambda: len(_windows()) == 1 and _windows()[0] is not old, True,
                         within=20)
        new = _windows()[0]
        await eventually(lambda: new.recordings.progress.text().endswith(str(second)), True)
        assert new.recordings.progress.text().startswith("1 ")
        assert await asyncio.to_thread(_listening, ports[1])
        assert not await asyncio.to_thread(_listening, ports[0])  # the old listener is gone
        assert new.settings.recordings_dir == str(second)
        assert new.settings.source("RECORDINGS_DIR") == "settings file"
        assert load_settings(dotenv=None).recordings_dir == str(second)  # and next start too
        log = new.event_log.toPlainText()
        assert f"127.0.0.1:{ports[0]}" in log  # the old window's log carried over
        assert "Settings applied" in log
        closed = next_emission(new.closed)
        new.close()
        await closed
        await asyncio.wait_for(lifetime, 20)
        return new

    try:
        qloop.run_until_complete(scenario())
    finally:
        for window in _windows():
            window.close()
        qapp.setQuitOnLastWindowClosed(True)
    assert not _listening(ports[1])


def test_settings_saved_in_a_room_wait_for_the_leave(qtbot: QtBot) -> None:
    settings = Settings.from_env({"LIVEKIT_URL": "http://127.0.0.1:9"})
    window = MainWindow(build_services(settings))
    qtbot.addWidget(window)
    room = window._open_room("in-a-room")  # as while joined
    applied: list[Settings] = []
    window.settingsApplied.connect(applied.append)
    window._settings_saved(settings.replace(s3_bucket="later"))
    assert applied == []
    assert "when you leave the room" in window.statusBar().currentMessage()
    room._left()
    assert [s.s3_bucket for s in applied] == ["later"]


def test_settings_that_change_nothing_in_use_reopen_nothing(qtbot: QtBot) -> None:
    settings = Settings.from_env({"LIVEKIT_URL": "http://127.0.0.1:9"})
    window = MainWindow(build_services(settings))
    qtbot.addWidget(window)
    applied: list[Settings] = []
    window.settingsApplied.connect(applied.append)
    window._settings_saved(Settings.from_env(settings.to_env()))
    assert applied == []
    assert "nothing the console uses has changed" in window.statusBar().currentMessage()
