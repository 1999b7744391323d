"""Settings: server, storage, playback and listener, saved to the user's settings file.

Secrets (API secret, storage keys) go to the OS keyring, never into the file. Values
are validated as a whole before anything is saved; the console uses them from its
next start.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from recconsole.settings import (
    PLAYBACK_STRATEGIES,
    SECRET_NAMES,
    STORAGE_KINDS,
    SecretStore,
    Settings,
    SettingsError,
    save_user_settings,
)

FIELDS = (  # (setting, label)
    ("LIVEKIT_URL", "LiveKit server URL"),
    ("LIVEKIT_API_KEY", "API key"),
    ("LIVEKIT_API_SECRET", "API secret"),
    ("RECORDINGS_STORAGE", "Recordings storage"),
    ("S3_ENDPOINT", "S3 endpoint"),
    ("S3_BUCKET", "S3 bucket"),
    ("AWS_REGION", "S3 region"),
    ("S3_ACCESS_KEY", "S3 access key"),
    ("S3_SECRET_KEY", "S3 secret key"),
    ("AZURE_ACCOUNT_NAME", "Azure account"),
    ("AZURE_ACCOUNT_KEY", "Azure account key"),
    ("AZURE_CONTAINER_NAME", "Azure container"),
    ("AZURE_ENDPOINT", "Azure endpoint (optional)"),
    ("RECORDINGS_PATH", "Recordings path"),
    ("RECORDING_PLAYBACK_STRATEGY", "Playback"),
    ("SERVER_PORT", "Webhook listener port"),
)
CHOICES = {"RECORDINGS_STORAGE": STORAGE_KINDS,
           "RECORDING_PLAYBACK_STRATEGY": PLAYBACK_STRATEGIES}


class SettingsDialog(QDialog):
    """Edits the settings the console starts with.

    Signals: the usual accepted / rejected.
    """

    def __init__(self, settings: Settings, secrets: SecretStore | None = None,
                 path: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._secrets, self._path = secrets, path
        current = settings.to_env()
        self.inputs: dict[str, QLineEdit | QComboBox] = {}
        form = QFormLayout()
        for name, label in FIELDS:
            widget: QLineEdit | QComboBox
            if name in CHOICES:
                widget = QComboBox()
                widget.addItems(list(CHOICES[name]))
                widget.setCurrentText(current[name])
            else:
                widget = QLineEdit(current[name])
                if name in SECRET_NAMES:
                    widget.setEchoMode(QLineEdit.EchoMode.Password)
                    widget.setToolTip("Kept in the OS keyring, never in the settings file.")
            self.inputs[name] = widget
            form.addRow(label, widget)
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
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def values(self) -> dict[str, str]:
        return {name: (w.currentText() if isinstance(w, QComboBox) else w.text().strip())
                for name, w in self.inputs.items()}

    def save(self) -> None:
        """Validate and save; on a bad value say which, keep the dialog open."""
        try:
            save_user_settings(self.values(), path=self._path, secrets=self._secrets)
        except SettingsError as err:
            self.error.setText(str(err))
            return
        self.accept()
