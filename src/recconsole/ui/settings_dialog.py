"""Settings: server, storage, playback and listener, saved to the user's settings file.

Secrets (API secret, storage keys) go to the OS keyring, never into the file. Values
are validated as a whole before anything is saved; the console uses them from its
next start. Only the chosen storage's fields are shown, and "Test connection" checks
what the values reach — the LiveKit credentials, the recordings storage, an egress
service — each with its own answer in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from recconsole.core.errors import ConsoleError, EgressUnavailable
from recconsole.core.livekit_server import LiveKitServer
from recconsole.settings import (
    PLAYBACK_STRATEGIES,
    SECRET_NAMES,
    STORAGE_KINDS,
    SecretStore,
    Settings,
    SettingsError,
    save_user_settings,
)
from recconsole.storage.base import StoreError
from recconsole.storage.factory import store_from_settings
from recconsole.ui.tasks import AsyncRunner

GROUPS = (  # (title, ((setting, label), ...))
    ("Server", (("LIVEKIT_URL", "LiveKit server URL"), ("LIVEKIT_API_KEY", "API key"),
                ("LIVEKIT_API_SECRET", "API secret"))),
    ("Recordings storage", (("RECORDINGS_STORAGE", "Kept in"),
                            ("RECORDINGS_PATH", "Recordings path"))),
    ("S3", (("S3_ENDPOINT", "Endpoint"), ("S3_BUCKET", "Bucket"), ("AWS_REGION", "Region"),
            ("S3_ACCESS_KEY", "Access key"), ("S3_SECRET_KEY", "Secret key"))),
    ("Azure", (("AZURE_ACCOUNT_NAME", "Account"), ("AZURE_ACCOUNT_KEY", "Account key"),
               ("AZURE_CONTAINER_NAME", "Container"),
               ("AZURE_ENDPOINT", "Endpoint (optional)"))),
    ("Local folder", (("RECORDINGS_DIR", "Folder"),)),
    ("Playback", (("RECORDING_PLAYBACK_STRATEGY", "Play through"),)),
    ("Listener", (("SERVER_PORT", "Webhook listener port"),)),
)
FIELDS = tuple(field for _, fields in GROUPS for field in fields)
CHOICES = {"RECORDINGS_STORAGE": STORAGE_KINDS,
           "RECORDING_PLAYBACK_STRATEGY": PLAYBACK_STRATEGIES}
STORAGE_GROUPS = {"s3": "S3", "azure": "Azure", "local": "Local folder"}


@dataclass(frozen=True)
class Check:
    """One answer of "Test connection": what was checked, whether it works, in words."""

    what: str
    ok: bool
    words: str


async def check_connection(settings: Settings) -> list[Check]:
    """Reach what ``settings`` point at: LiveKit, the recordings storage, an egress."""
    checks: list[Check] = []
    async with LiveKitServer(settings.livekit_url, settings.livekit_api_key,
                             settings.livekit_api_secret.value, app_name=settings.app_name,
                             timeout=5.0) as server:
        try:
            rooms = await server.list_rooms()
        except ConsoleError as err:
            checks.append(Check("LiveKit", False, str(err)))
        else:
            checks.append(Check("LiveKit", True, f"credentials accepted; {len(rooms)} room"
                                f"{'s' if len(rooms) != 1 else ''} open"))
            try:
                await server.list_egress("", active=True)
            except EgressUnavailable:
                checks.append(Check("Egress", False, "no egress service answers: this server"
                                    " cannot record"))
            except ConsoleError as err:
                checks.append(Check("Egress", False, str(err)))
            else:
                checks.append(Check("Egress", True, "the server takes recording requests"))
    try:
        store = store_from_settings(settings)
    except (StoreError, SettingsError, ConsoleError) as err:
        checks.append(Check("Storage", False, str(err)))
        return checks
    try:
        await store.list_page(settings.recordings_path)
    except StoreError as err:
        checks.append(Check("Storage", False, str(err)))
    else:
        checks.append(Check("Storage", True, f"{store.describe}: the recordings can be listed"))
    finally:
        await store.aclose()
    return checks


class SettingsDialog(QDialog):
    """Edits the settings the console starts with.

    Signals: the usual accepted / rejected.
    """

    def __init__(self, settings: Settings, secrets: SecretStore | None = None,
                 path: Path | None = None, parent: QWidget | None = None,
                 runner: AsyncRunner | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings, self._secrets, self._path = settings, secrets, path
        self.runner = runner or AsyncRunner(self)
        current = settings.to_env()
        self.inputs: dict[str, QLineEdit | QComboBox] = {}
        self.groups: dict[str, QGroupBox] = {}
        layout = QVBoxLayout(self)
        for title, fields in GROUPS:
            box = QGroupBox(title)
            form = QFormLayout(box)
            for name, label in fields:
                widget = self._input(name, current[name])
                self.inputs[name] = widget
                form.addRow(label, widget)
            self.groups[title] = box
            layout.addWidget(box)
        storage = self.inputs["RECORDINGS_STORAGE"]
        assert isinstance(storage, QComboBox)
        storage.currentTextChanged.connect(self._show_storage)
        for kind, title in STORAGE_GROUPS.items():
            self.groups[title].setVisible(kind == storage.currentText())
        self.setMinimumWidth(560)

        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.results = QLabel()
        self.results.setWordWrap(True)
        self.results.setObjectName("subtitle")
        testing = QHBoxLayout()
        testing.addWidget(self.test_button)
        testing.addStretch(1)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        note = QLabel("Saved settings apply from the next start. The environment and "
                      "command-line options still take precedence.")
        note.setObjectName("subtitle")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addLayout(testing)
        layout.addWidget(self.results)
        layout.addWidget(self.error)
        layout.addWidget(note)
        layout.addWidget(buttons)

    @staticmethod
    def _input(name: str, value: str) -> QLineEdit | QComboBox:
        if name in CHOICES:
            combo = QComboBox()
            combo.addItems(list(CHOICES[name]))
            combo.setCurrentText(value)
            return combo
        line = QLineEdit(value)
        if name in SECRET_NAMES:
            line.setEchoMode(QLineEdit.EchoMode.Password)
            line.setToolTip("Kept in the OS keyring, never in the settings file.")
        return line

    def _show_storage(self, kind: str) -> None:
        for storage_kind, title in STORAGE_GROUPS.items():
            self.groups[title].setVisible(storage_kind == kind)
        self.adjustSize()  # shrink or grow to the fields shown

    def values(self) -> dict[str, str]:
        return {name: (w.currentText() if isinstance(w, QComboBox) else w.text().strip())
                for name, w in self.inputs.items()}

    def test_connection(self) -> None:
        """Check the values as they are in the form (saved or not)."""
        try:
            settings = Settings.from_env({**self._settings.to_env(), **self.values()})
        except SettingsError as err:
            self.error.setText(str(err))
            return
        self.error.clear()
        self.test_button.setEnabled(False)
        self.results.setText("Testing…")
        self.runner.run(check_connection(settings), on_success=self._tested,
                        on_failure=self._test_failed)

    def _tested(self, checks: list[Check]) -> None:
        self.test_button.setEnabled(True)
        self.results.setText("\n".join(
            f"{'✓' if check.ok else '✗'} {check.what}: {check.words}" for check in checks))

    def _test_failed(self, message: str) -> None:
        self.test_button.setEnabled(True)
        self.results.setText(f"✗ {message}")

    def save(self) -> None:
        """Validate and save; on a bad value say which, keep the dialog open."""
        try:
            save_user_settings(self.values(), path=self._path, secrets=self._secrets)
        except SettingsError as err:
            self.error.setText(str(err))
            return
        self.accept()
