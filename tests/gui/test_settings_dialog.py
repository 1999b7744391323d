"""The settings dialog: every setting, where each value comes from, only the changes
saved (secrets to a real keyring backend only), and the development-credentials banner."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from PySide6.QtWidgets import QComboBox, QLineEdit
from pytestqt.qtbot import QtBot

from recconsole.settings import ENV_NAMES, KEYRING_SERVICE, Settings, load_settings
from recconsole.ui.app import build_services
from recconsole.ui.main_window import MainWindow
from recconsole.ui.settings_dialog import SettingsDialog
from tests.helpers.keyrings import file_keyring

pytestmark = pytest.mark.gui
README = Path(__file__).parents[2] / "README.md"


@pytest.fixture
def keyring_file(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The real file keyring of this test; the file it keeps the secrets in."""
    with file_keyring(monkeypatch) as path:
        yield path


def _field(dialog: SettingsDialog, name: str) -> QLineEdit:
    widget = dialog.inputs[name]
    assert isinstance(widget, QLineEdit)
    return widget


def test_saved_settings_come_back_and_secrets_stay_out_of_the_file(
    qtbot: QtBot, tmp_path: Path, keyring_file: Path
) -> None:
    path = tmp_path / "settings.json"
    dialog = SettingsDialog(Settings(), path=path)
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
    assert keyring_file.exists()  # the backend's own file
    keyring.core.init_backend()  # as a new process finds it
    assert keyring.get_password(KEYRING_SERVICE, "S3_SECRET_KEY") == "s3-very-secret"
    loaded = load_settings(environ={}, dotenv=None, user_file=path)
    assert (loaded.s3_bucket, loaded.recordings_storage) == ("archive", "local")
    assert loaded.s3_secret_key.value == "s3-very-secret"
    assert (loaded.source("S3_SECRET_KEY"), loaded.source("S3_BUCKET")) == (
        "keyring", "settings file")


def test_a_bad_value_is_named_and_nothing_is_saved(
    qtbot: QtBot, tmp_path: Path, keyring_file: Path
) -> None:
    path = tmp_path / "settings.json"
    dialog = SettingsDialog(Settings(), path=path)
    qtbot.addWidget(dialog)
    _field(dialog, "LIVEKIT_URL").setText("not a url")
    dialog.save()
    assert "LIVEKIT_URL must be a URL" in dialog.error.text()
    assert not path.exists()
    assert not keyring_file.exists()
    assert dialog.result() == 0  # still open, nothing accepted


def test_every_setting_of_the_readme_table_can_be_edited(qtbot: QtBot) -> None:
    table = re.findall(r"^\| (.+?) \|", README.read_text(), flags=re.MULTILINE)
    named = {name for cell in table for name in re.findall(r"`([A-Z0-9_]+)`", cell)}
    assert named == set(ENV_NAMES)  # the table names every setting, and only settings
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    assert set(dialog.inputs) == set(ENV_NAMES)


def test_each_value_says_where_it_comes_from(
    qtbot: QtBot, tmp_path: Path, keyring_file: Path
) -> None:
    dotenv, user = tmp_path / ".env", tmp_path / "settings.json"
    dotenv.write_text("S3_BUCKET=from-dotenv\n")
    user.write_text(json.dumps({"schema": 1, "settings": {"AWS_REGION": "eu-west-3"}}))
    keyring.set_password(KEYRING_SERVICE, "S3_SECRET_KEY", "kept-in-keyring")
    settings = load_settings(cli={"LIVEKIT_URL": "http://127.0.0.1:7880"},
                             environ={"REDIS_URL": "redis://127.0.0.1:6379"},
                             dotenv=dotenv, user_file=user)
    dialog = SettingsDialog(settings, path=user)
    qtbot.addWidget(dialog)
    said = {name: label.text() for name, label in dialog.sources.items()}
    assert said["LIVEKIT_URL"] == "from the command line"
    assert said["REDIS_URL"] == "from the environment"
    assert said["S3_BUCKET"] == "from .env"
    assert said["AWS_REGION"] == "from the settings file"
    assert said["S3_SECRET_KEY"] == "from the keyring"
    assert said["S3_ENDPOINT"] == "default"
    assert _field(dialog, "S3_SECRET_KEY").text() == "kept-in-keyring"


def test_only_what_the_user_changed_is_saved(
    qtbot: QtBot, tmp_path: Path, keyring_file: Path
) -> None:
    """Values from the environment or defaults (secrets included) stay where they are."""
    user = tmp_path / "settings.json"
    settings = load_settings(
        environ={"LIVEKIT_API_SECRET": "env-secret-env-secret-env-secret",
                 "LIVEKIT_URL": "http://127.0.0.1:7880"}, dotenv=None, user_file=user)
    dialog = SettingsDialog(settings, path=user)
    qtbot.addWidget(dialog)
    _field(dialog, "S3_BUCKET").setText("archive")
    _field(dialog, "PLAYBACK_TOKEN").setText("typed-token")
    assert dialog.sources["S3_BUCKET"].text() == "changed: saved to the settings file"
    assert dialog.sources["PLAYBACK_TOKEN"].text() == "changed: saved to the keyring"
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        dialog.save()
    assert json.loads(user.read_text()) == {"schema": 1, "settings": {"S3_BUCKET": "archive"}}
    keyring.core.init_backend()
    assert keyring.get_password(KEYRING_SERVICE, "PLAYBACK_TOKEN") == "typed-token"
    for untouched in ("LIVEKIT_API_SECRET", "S3_SECRET_KEY", "S3_ACCESS_KEY"):
        assert keyring.get_password(KEYRING_SERVICE, untouched) is None
    assert dialog.saved_settings.s3_bucket == "archive"
    assert dialog.saved_settings.source("S3_BUCKET") == "settings file"


def test_a_change_under_an_environment_value_says_the_environment_wins(
    qtbot: QtBot, tmp_path: Path, keyring_file: Path
) -> None:
    user = tmp_path / "settings.json"
    settings = load_settings(environ={"S3_BUCKET": "from-env"}, dotenv=None, user_file=user)
    dialog = SettingsDialog(settings, path=user)
    qtbot.addWidget(dialog)
    _field(dialog, "S3_BUCKET").setText("typed")
    assert dialog.sources["S3_BUCKET"].text() == "changed: from the environment still wins"
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        dialog.save()
    assert json.loads(user.read_text())["settings"] == {"S3_BUCKET": "typed"}
    assert dialog.saved_settings.s3_bucket == "from-env"  # what the next start will use


def test_a_keyring_that_keeps_nothing_is_said_and_nothing_is_saved(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """The tests' default "null" backend drops secrets silently, as a broken keyring may."""
    user = tmp_path / "settings.json"
    dialog = SettingsDialog(Settings(), path=user)
    qtbot.addWidget(dialog)
    _field(dialog, "S3_SECRET_KEY").setText("would-be-lost")
    _field(dialog, "S3_BUCKET").setText("archive")
    dialog.save()
    assert "did not keep S3_SECRET_KEY" in dialog.error.text()
    assert dialog.result() == 0
    assert not user.exists()


def test_development_credentials_against_a_remote_server_raise_a_banner(
    qtbot: QtBot,
) -> None:
    dialog = SettingsDialog(Settings.from_env({"LIVEKIT_URL": "wss://lk.example.org"}))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.development.isVisible()
    assert "development defaults (API key devkey)" in dialog.development_label.text()
    assert "lk.example.org" in dialog.development_label.text()
    _field(dialog, "LIVEKIT_URL").setText("http://localhost:7880")
    assert not dialog.development.isVisible()
    _field(dialog, "S3_ENDPOINT").setText("https://s3.example.org")
    assert dialog.development.isVisible()
    assert "minioadmin" in dialog.development_label.text()
    _field(dialog, "S3_ACCESS_KEY").setText("AKIAREAL")
    _field(dialog, "S3_SECRET_KEY").setText("a-real-secret")
    assert not dialog.development.isVisible()


def test_the_window_says_when_development_credentials_go_elsewhere(qtbot: QtBot) -> None:
    windows = {}
    for url in ("wss://lk.example.org", "http://127.0.0.1:7880"):
        window = MainWindow(build_services(Settings.from_env({"LIVEKIT_URL": url})))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows[url] = window
    remote, local = windows.values()
    assert remote.development_banner.isVisible()
    assert "development defaults (API key devkey)" in remote.development_label.text()
    assert not local.development_banner.isVisible()
