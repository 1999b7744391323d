"""Settings: every setting of the console, grouped, each saying where its value comes from.

Only what the user changed is saved: secrets (API secret, storage keys, tokens) to
the OS keyring, never into the file; the rest to the user's settings file. Values
are validated as a whole before anything is saved; the console applies them at once
(see :func:`recconsole.ui.app.console_lifetime`), or when it leaves the room it is in.
Only the storage kinds in use are shown, a banner says when the development
credentials would go to a server elsewhere, and "Test connection" checks what the
values reach — the LiveKit credentials, the recordings storage, an
egress service — each with its own answer in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from recconsole.core.errors import ConsoleError, EgressUnavailable
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recording_options import Content, Layout, OutputFormat, Preset
from recconsole.settings import (
    COMMAND_LINE,
    DEFAULT,
    DOTENV,
    ENV_NAMES,
    ENVIRONMENT,
    KEYRING,
    PLAYBACK_AUTH_MODES,
    PLAYBACK_STRATEGIES,
    RECORDING_UPLOADS,
    SECRET_NAMES,
    STORAGE_KINDS,
    USER_FILE,
    SecretStore,
    Settings,
    SettingsError,
    development_defaults,
    save_user_settings,
)
from recconsole.storage.base import StoreError
from recconsole.storage.factory import store_from_settings
from recconsole.ui.tasks import AsyncRunner

GROUPS = (  # (title, ((setting, label), ...))
    ("Server", (("LIVEKIT_URL", "LiveKit server URL"), ("LIVEKIT_API_KEY", "API key"),
                ("LIVEKIT_API_SECRET", "API secret"),
                ("APP_SERVER_URL", "Tokens from (optional)"))),
    ("Recording", (("RECORDING_UPLOAD", "Egress uploads to"),
                   ("RECORDING_START_TIMEOUT", "Start timeout (s)"),
                   ("RECORDING_LAYOUT", "Default layout"),
                   ("RECORDING_CONTENT", "Default content"),
                   ("RECORDING_PRESET", "Default quality"),
                   ("RECORDING_OUTPUT", "Default file"),
                   ("RECORDING_LAYOUT_URL", "Layout page (optional)"),
                   ("APP_NAME", "App name (createdBy)"))),
    ("Recordings storage", (("RECORDINGS_STORAGE", "Kept in"),
                            ("RECORDINGS_PATH", "Recordings path"))),
    ("S3", (("S3_ENDPOINT", "Endpoint"), ("S3_BUCKET", "Bucket"), ("AWS_REGION", "Region"),
            ("S3_ACCESS_KEY", "Access key"), ("S3_SECRET_KEY", "Secret key"),
            ("S3_SESSION_TOKEN", "Session token (optional)"),
            ("AWS_PROFILE", "AWS profile (no keys set)"))),
    ("Azure", (("AZURE_ACCOUNT_NAME", "Account"), ("AZURE_ACCOUNT_KEY", "Account key"),
               ("AZURE_CONTAINER_NAME", "Container"),
               ("AZURE_ENDPOINT", "Endpoint (optional)"))),
    ("Local folder", (("RECORDINGS_DIR", "Folder"),)),
    ("Playback", (("RECORDING_PLAYBACK_STRATEGY", "Play through"),
                  ("RECORDING_URL_EXPIRY", "Link lifetime (s)"),
                  ("PLAYBACK_AUTH", "PROXY access"), ("PLAYBACK_TOKEN", "PROXY token"))),
    ("Listener", (("SERVER_PORT", "Webhook listener port"), ("REDIS_URL", "Redis (optional)"),
                  ("WEBHOOK_FORWARD_URLS", "Forward events to"),
                  ("WEBHOOK_FORWARD_SECRET", "Forwarding secret"))),
)
FIELDS = tuple(field for _, fields in GROUPS for field in fields)
CHOICES = {"RECORDINGS_STORAGE": STORAGE_KINDS,
           "RECORDING_PLAYBACK_STRATEGY": PLAYBACK_STRATEGIES,
           "RECORDING_UPLOAD": RECORDING_UPLOADS,
           "PLAYBACK_AUTH": PLAYBACK_AUTH_MODES,
           "RECORDING_LAYOUT": tuple(m.value for m in Layout),
           "RECORDING_CONTENT": tuple(m.value for m in Content),
           "RECORDING_PRESET": ("", *(m.value for m in Preset)),  # "": egress's default
           "RECORDING_OUTPUT": tuple(m.value for m in OutputFormat)}
STORAGE_GROUPS = {"s3": "S3", "azure": "Azure", "local": "Local folder"}
# Where a value came from, as the dialog says it.
SOURCE_WORDS = {COMMAND_LINE: "from the command line", ENVIRONMENT: "from the environment",
                DOTENV: "from .env", USER_FILE: "from the settings file",
                KEYRING: "from the keyring", DEFAULT: "default"}
# Sources that outrank what the dialog saves: a saved value shows only once they are gone.
ABOVE_SAVED = (COMMAND_LINE, ENVIRONMENT, DOTENV)


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
    """Edits the settings the console starts with; saves only what the user changed.

    Signals: the usual accepted / rejected (after a save, :attr:`saved_settings` holds
    the settings as they now stand, to apply).
    """

    def __init__(self, settings: Settings, secrets: SecretStore | None = None,
                 path: Path | None = None, parent: QWidget | None = None,
                 runner: AsyncRunner | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings, self._secrets, self._path = settings, secrets, path
        self.saved_settings = settings
        self.runner = runner or AsyncRunner(self)
        self._initial = settings.to_env()
        self.inputs: dict[str, QLineEdit | QComboBox] = {}
        self.sources: dict[str, QLabel] = {}  # where each value comes from, in words
        self.groups: dict[str, QGroupBox] = {}
        fields = QWidget()
        fields_layout = QVBoxLayout(fields)
        for title, group in GROUPS:
            box = QGroupBox(title)
            form = QFormLayout(box)
            for name, label in group:
                form.addRow(label, self._row(name))
            self.groups[title] = box
            fields_layout.addWidget(box)
        fields_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(fields)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        for name in ("RECORDINGS_STORAGE", "RECORDING_UPLOAD"):
            choice = self.inputs[name]
            assert isinstance(choice, QComboBox)
            choice.currentTextChanged.connect(self._show_storage)
        self._show_storage()
        self.setMinimumWidth(640)

        self.development = QFrame()  # development credentials aimed elsewhere
        self.development.setObjectName("banner")
        self.development_label = QLabel()
        self.development_label.setWordWrap(True)
        QVBoxLayout(self.development).addWidget(self.development_label)
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
        note = QLabel("Only the values you change are saved: secrets to the OS keyring, the "
                      "rest to the settings file. They apply at once (on leaving the room, if "
                      "the console is in one); the command line, the environment and .env "
                      "still take precedence.")
        note.setObjectName("subtitle")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.development)
        layout.addWidget(scroll, 1)
        layout.addLayout(testing)
        layout.addWidget(self.results)
        layout.addWidget(self.error)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(680, 720)
        self._check_development()

    def _row(self, name: str) -> QWidget:
        """The input of ``name`` with, beside it, where its value comes from."""
        widget = self._input(name, self._initial[name])
        source = QLabel()
        source.setObjectName("subtitle")
        source.setMinimumWidth(170)
        self.inputs[name], self.sources[name] = widget, source
        self._show_source(name)
        if isinstance(widget, QComboBox):
            widget.currentTextChanged.connect(lambda _: self._edited(name))
        else:
            widget.textChanged.connect(lambda _: self._edited(name))
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(widget, 1)
        line.addWidget(source)
        return row

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

    def _show_source(self, name: str) -> None:
        source = self._settings.source(name)
        label = self.sources[name]
        if name not in self.changed():
            label.setText(SOURCE_WORDS[source])
            label.setToolTip("")
            return
        where = "the keyring" if name in SECRET_NAMES else "the settings file"
        if source in ABOVE_SAVED:
            label.setText(f"changed: {SOURCE_WORDS[source]} still wins")
            label.setToolTip(f"Saved to {where}, but {name} is also set"
                             f" {SOURCE_WORDS[source].removeprefix('from ')}, which comes first.")
        else:
            label.setText(f"changed: saved to {where}")
            label.setToolTip("")

    def _edited(self, name: str) -> None:
        self._show_source(name)
        self._check_development()

    def _show_storage(self, _: str = "") -> None:
        """Only the storage the recordings are kept in, and the one egress uploads to."""
        used = {self.values()[name] for name in ("RECORDINGS_STORAGE", "RECORDING_UPLOAD")}
        for storage_kind, title in STORAGE_GROUPS.items():
            self.groups[title].setVisible(storage_kind in used)

    def _check_development(self) -> None:
        try:
            warnings = development_defaults(self._form_settings())
        except SettingsError:
            warnings = []  # said when saving or testing
        self.development_label.setText("\n".join(warnings))
        self.development.setVisible(bool(warnings))

    def values(self) -> dict[str, str]:
        return {name: (w.currentText() if isinstance(w, QComboBox) else w.text().strip())
                for name, w in self.inputs.items()}

    def changed(self) -> dict[str, str]:
        """The values the user changed in the form."""
        return {name: value for name, value in self.values().items()
                if value != self._initial[name]}

    def _form_settings(self, *, next_start: bool = False) -> Settings:
        """The settings as the form has them, each change counted as saved.

        ``next_start``: as the next start will see them, where a change saved under
        a value the command line, environment or .env sets does not show.
        """
        changed = self.changed()
        sources = {name: self._settings.source(name) for name in ENV_NAMES}
        for name in list(changed):
            if sources[name] not in ABOVE_SAVED:
                sources[name] = KEYRING if name in SECRET_NAMES else USER_FILE
            elif next_start:
                del changed[name]
        return Settings.from_env({**self._initial, **changed},
                                 {k: v for k, v in sources.items() if v != DEFAULT})

    def test_connection(self) -> None:
        """Check the values as they are in the form (saved or not)."""
        try:
            settings = self._form_settings()
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
        """Validate and save what changed; on a bad value say which, keep the dialog open."""
        try:
            self._form_settings()  # the whole form must be valid, not only the changes
            if self.changed():
                save_user_settings(self.changed(), path=self._path, secrets=self._secrets)
            self.saved_settings = self._form_settings(next_start=True)
        except SettingsError as err:
            self.error.setText(str(err))
            return
        self.accept()
