"""The recording options beside the Record button: a button that opens a compact form.

How to record (layout, content, quality, file, streams) is remembered per user
(QSettings, as JSON); what was never picked comes from the settings (RECORDING_LAYOUT,
...). Who is recorded (the room, one participant, each) is chosen afresh in each
window. Problems egress would refuse show under the form as they are typed, and the
Record button's start is refused with the same words.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Final

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from recconsole.core.recording_options import (
    Advanced,
    BadRecordingOptions,
    Content,
    Layout,
    OutputFormat,
    Preset,
    RecordingOptions,
)

log = logging.getLogger(__name__)
PREFS_KEY: Final = "recordingOptions"
WHO: Final = ("The room", "One participant", "Each participant separately")
CONTENTS: Final = {Content.AUDIO_VIDEO: "Audio and video", Content.AUDIO_ONLY: "Audio only",
                   Content.VIDEO_ONLY: "Video only"}
OUTPUTS: Final = {OutputFormat.MP4: "MP4 file", OutputFormat.OGG: "OGG (audio only)",
                  OutputFormat.HLS: "HLS (playlist + segments)"}
DEFAULT_QUALITY: Final = "Egress default (720p30)"
ADVANCED: Final = "Advanced…"


class RecordingOptionsForm(QWidget):
    """The form: who, layout, content, quality (preset or advanced), file, live streams.

    Signals:
        changed(): any field changed.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.who = QComboBox()
        self.who.addItems(list(WHO))
        self.participant = QComboBox()
        self.participant.setEditable(True)
        self.participant.setPlaceholderText("identity")
        self.screen_share = QCheckBox("their screen share, not their camera")
        self.layout_box = QComboBox()
        self.layout_box.addItems([m.value for m in Layout])
        self.content = QComboBox()
        self.content.addItems(list(CONTENTS.values()))
        self.quality = QComboBox()
        self.quality.addItems([DEFAULT_QUALITY, *(m.value for m in Preset), ADVANCED])
        self.width_box, self.height_box = _spin(16, 3840, 1280), _spin(16, 3840, 720)
        self.fps = _spin(1, 60, 30)
        self.video_bitrate, self.audio_bitrate = _spin(100, 20_000, 3000), _spin(16, 320, 128)
        self.keyframe = QDoubleSpinBox()
        self.keyframe.setRange(0.5, 20)
        self.keyframe.setValue(4.0)
        self.keyframe.setSuffix(" s")
        self.video_bitrate.setSuffix(" kbps")
        self.audio_bitrate.setSuffix(" kbps")
        self.output = QComboBox()
        self.output.addItems(list(OUTPUTS.values()))
        self.streams = QLineEdit()
        self.streams.setPlaceholderText("rtmp://… or srt://… (optional, space-separated)")
        self.problems = QLabel()
        self.problems.setObjectName("error")
        self.problems.setWordWrap(True)
        self.reset_button = QPushButton("Defaults")

        form = QFormLayout()
        form.addRow("Record", self.who)
        form.addRow("Participant", self.participant)
        form.addRow("", self.screen_share)
        form.addRow("Layout", self.layout_box)
        form.addRow("Content", self.content)
        form.addRow("Quality", self.quality)
        self._advanced_rows = [("Width", self.width_box), ("Height", self.height_box),
                               ("Frame rate", self.fps), ("Video bitrate", self.video_bitrate),
                               ("Audio bitrate", self.audio_bitrate),
                               ("Keyframe every", self.keyframe)]
        for label, widget in self._advanced_rows:
            form.addRow(label, widget)
        form.addRow("File", self.output)
        form.addRow("Live stream", self.streams)
        self._form = form
        column = QVBoxLayout(self)
        column.addLayout(form)
        column.addWidget(self.problems)
        column.addWidget(self.reset_button)
        for combo in (self.who, self.layout_box, self.content, self.quality, self.output):
            combo.currentIndexChanged.connect(self._changed)
        self.participant.currentTextChanged.connect(self._changed)
        self.screen_share.toggled.connect(self._changed)
        self.streams.textChanged.connect(self._changed)
        for spin in (self.width_box, self.height_box, self.fps, self.video_bitrate,
                     self.audio_bitrate, self.keyframe):
            spin.valueChanged.connect(self._changed)
        self._changed()

    def options(self) -> RecordingOptions:
        """What the form says (not yet checked: see :meth:`RecordingOptions.validate`)."""
        who = self.who.currentIndex()
        quality = self.quality.currentText()
        advanced = None
        if quality == ADVANCED:
            advanced = Advanced(self.width_box.value(), self.height_box.value(),
                                self.fps.value(), self.video_bitrate.value(),
                                self.audio_bitrate.value(), self.keyframe.value())
        return RecordingOptions(
            layout=Layout(self.layout_box.currentText()),
            content=list(CONTENTS)[self.content.currentIndex()],
            preset=Preset(quality) if quality not in (DEFAULT_QUALITY, ADVANCED) else None,
            advanced=advanced,
            output=list(OUTPUTS)[self.output.currentIndex()],
            streams=tuple(self.streams.text().split()),
            participant=self.participant.currentText().strip() if who == 1 else "",
            screen_share=self.screen_share.isChecked() and who != 0,
            each_participant=who == 2,
        )

    def set_options(self, options: RecordingOptions) -> None:
        self.who.setCurrentIndex(2 if options.each_participant else 1 if options.participant
                                 else 0)
        if options.participant:
            self.participant.setCurrentText(options.participant)
        self.screen_share.setChecked(options.screen_share)
        self.layout_box.setCurrentText(options.layout.value)
        self.content.setCurrentIndex(list(CONTENTS).index(options.content))
        if options.advanced is not None:
            a = options.advanced
            self.quality.setCurrentText(ADVANCED)
            for spin, value in ((self.width_box, a.width), (self.height_box, a.height),
                                (self.fps, a.fps), (self.video_bitrate, a.video_bitrate),
                                (self.audio_bitrate, a.audio_bitrate)):
                spin.setValue(value)
            self.keyframe.setValue(a.keyframe_interval)
        else:
            self.quality.setCurrentText(options.preset.value if options.preset
                                        else DEFAULT_QUALITY)
        self.output.setCurrentIndex(list(OUTPUTS).index(options.output))
        self.streams.setText(" ".join(options.streams))

    def set_participants(self, identities: list[str]) -> None:
        """Offer these people to record one of (what was typed stays)."""
        typed = self.participant.currentText()
        self.participant.blockSignals(True)
        self.participant.clear()
        self.participant.addItems(identities)
        self.participant.setCurrentText(typed)
        self.participant.blockSignals(False)

    def _changed(self) -> None:
        who = self.who.currentIndex()
        self._form.setRowVisible(self.participant, who == 1)
        self._form.setRowVisible(self.screen_share, who != 0)
        self._form.setRowVisible(self.layout_box, who == 0)
        self._form.setRowVisible(self.content, who == 0)
        advanced = self.quality.currentText() == ADVANCED
        for _label, widget in self._advanced_rows:
            self._form.setRowVisible(widget, advanced)
        try:
            self.options().validate()
        except BadRecordingOptions as err:
            self.problems.setText(str(err).removeprefix("Recording options: "))
        else:
            self.problems.setText("")
        self.problems.setVisible(bool(self.problems.text()))
        self.changed.emit()


class RecordingOptionsButton(QToolButton):
    """"Options ▾" beside the Record button; its menu holds the form.

    Signals:
        changed(): the options changed (and were remembered).
    """

    changed = Signal()

    def __init__(self, defaults: RecordingOptions, prefs: QSettings,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.defaults, self._prefs = defaults, prefs
        self.form = RecordingOptionsForm()
        self.form.set_options(self._remembered())
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setObjectName("recordingOptions")
        menu = QMenu(self)
        action = QWidgetAction(menu)
        action.setDefaultWidget(self.form)
        menu.addAction(action)
        self.setMenu(menu)
        self.form.changed.connect(self._changed)
        self.form.reset_button.clicked.connect(lambda: self.form.set_options(self.defaults))
        self._show()

    def options(self) -> RecordingOptions:
        return self.form.options()

    def _remembered(self) -> RecordingOptions:
        return remembered_options(self.defaults, self._prefs)

    def _changed(self) -> None:
        # Who is recorded is this session's choice: each start of a new window records
        # the room until told otherwise; how it is recorded is remembered.
        how = replace(self.form.options(), participant="", screen_share=False,
                      each_participant=False)
        self._prefs.setValue(PREFS_KEY, json.dumps(how.to_json()))
        self._show()
        self.changed.emit()

    def _show(self) -> None:
        options = self.form.options()
        text = ("room" if not options.individual else "each person"
                if options.each_participant else options.participant or "one person")
        quality = (options.preset.value if options.preset else "custom" if options.advanced
                   else "")
        parts = [text, quality, options.output.value.upper()]
        if options.content is not Content.AUDIO_VIDEO and not options.individual:
            parts.insert(1, "audio" if options.content is Content.AUDIO_ONLY else "video")
        self.setText(" · ".join(p for p in parts if p) + " ▾")
        self.setToolTip(f"Recording options: {options.describe()}")


def _spin(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin


def remembered_options(defaults: RecordingOptions, prefs: QSettings) -> RecordingOptions:
    """How to record as last chosen (who: the room), or ``defaults`` if never chosen."""
    raw = prefs.value(PREFS_KEY, "")
    if not raw:
        return defaults
    try:
        return replace(RecordingOptions.from_json(json.loads(str(raw))), participant="",
                       screen_share=False, each_participant=False)
    except (ValueError, BadRecordingOptions) as err:
        log.warning("remembered recording options ignored: %s", err)
        return defaults
