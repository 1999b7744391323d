"""The settings dialog: saves plain settings to the file and secrets to the keyring only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QComboBox, QLineEdit
from pytestqt.qtbot import QtBot

from recconsole.settings import Settings, load_settings
from recconsole.ui.settings_dialog import SettingsDialog
from tests.helpers.secrets import DictSecrets

pytestmark = pytest.mark.gui


def _field(dialog: SettingsDialog, name: str) -> QLineEdit:
    widget = dialog.inputs[name]
    assert isinstance(widget, QLineEdit)
    return widget


def test_saved_settings_come_back_and_secrets_stay_out_of_the_file(
    qtbot: QtBot, tmp_path: Path
) -> None:
    path, keyring = tmp_path / "settings.json", DictSecrets()
    dialog = SettingsDialog(Settings(), secrets=keyring, path=path)
    qtbot.addWidget(dialog)
    _field(dialog, "S3_BUCKET").setText("archive")
    _field(dialog, "S3_SECRET_KEY").setText("s3-very-secret")
    storage = dialog.inputs["RECORDINGS_STORAGE"]
    assert isinstance(storage, QComboBox)
    storage.setCurrentText("local")
    assert _field(dialog, "S3_SECRET_KEY").echoMode() == QLineEdit.EchoMode.Password
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        dialog.save()
    assert "s3-very-secret" not in path.read_text()
    assert json.loads(path.read_text())["settings"]["S3_BUCKET"] == "archive"
    loaded = load_settings(environ={}, dotenv=None, user_file=path, secrets=keyring)
    assert (loaded.s3_bucket, loaded.recordings_storage) == ("archive", "local")
    assert loaded.s3_secret_key.value == "s3-very-secret"


def test_a_bad_value_is_named_and_nothing_is_saved(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    dialog = SettingsDialog(Settings(), secrets=DictSecrets(), path=path)
    qtbot.addWidget(dialog)
    _field(dialog, "LIVEKIT_URL").setText("not a url")
    dialog.save()
    assert "LIVEKIT_URL must be a URL" in dialog.error.text()
    assert not path.exists()
    assert dialog.result() == 0  # still open, nothing accepted
