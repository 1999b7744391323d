"""The room's sound: mixed tracks reach a real (silent) PulseAudio speaker; mutes hold."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from livekit import rtc
from PySide6.QtCore import Qt
from PySide6.QtMultimedia import QAudioDevice
from pytestqt.qtbot import QtBot

from recconsole.ui.audio_output import RoomAudio
from recconsole.ui.room_view import RoomView
from recconsole_devtools.devstack import StackConfig
from tests.helpers.sound import RATE, SpeakerRecorder

pytestmark = pytest.mark.gui


def _tone(freq: float, ms: int = 10, start: int = 0) -> rtc.AudioFrame:
    n = RATE * ms // 1000
    t = (np.arange(n) + start) / RATE
    pcm = (np.sin(2 * np.pi * freq * t) * 8000).astype(np.int16)
    return rtc.AudioFrame(pcm.tobytes(), RATE, 1, n)


class ToneFeeder:
    """Pushes 10 ms tone frames into the room audio, as the session would."""

    def __init__(self, audio: RoomAudio, sid: str, freq: float) -> None:
        self.audio, self.sid, self.freq, self.sent = audio, sid, freq, 0

    def feed(self, ms: int) -> None:
        for _ in range(ms // 10):
            self.audio.push(self.sid, _tone(self.freq, 10, self.sent))
            self.sent += RATE // 100


@pytest.fixture
def speaker(silent_speaker: StackConfig) -> Iterator[SpeakerRecorder]:
    with SpeakerRecorder(silent_speaker.pulse_server) as recorder:
        yield recorder


@pytest.fixture
def audio(qtbot: QtBot) -> Iterator[RoomAudio]:
    room_audio = RoomAudio()
    yield room_audio
    room_audio.close()


def _play(qtbot: QtBot, audio: RoomAudio, feeders: list[ToneFeeder], ms: int) -> None:
    """Feed ``ms`` of sound at the device's pace (the device drains it)."""
    for _ in range(ms // 40):
        played = audio.bytes_played
        for feeder in feeders:
            feeder.feed(40)
        qtbot.waitUntil(lambda played=played: audio.bytes_played > played, timeout=3000)


def test_the_silent_speaker_is_the_default_output(audio: RoomAudio) -> None:
    assert audio.available
    assert audio.device_name == "Silent-speaker"


def test_a_track_is_heard_at_its_pitch(qtbot: QtBot, audio: RoomAudio,
                                       speaker: SpeakerRecorder) -> None:
    audio.add_track("TR_a", "alice")
    start = speaker.mark()
    _play(qtbot, audio, [ToneFeeder(audio, "TR_a", 440)], 600)
    qtbot.waitUntil(lambda: speaker.loudness(start) > 1000, timeout=3000)
    assert speaker.pitch(start) == pytest.approx(440, abs=5)


def test_two_tracks_are_heard_together(qtbot: QtBot, audio: RoomAudio,
                                       speaker: SpeakerRecorder) -> None:
    audio.add_track("TR_a", "alice")
    audio.add_track("TR_b", "bob")
    start = speaker.mark()
    _play(qtbot, audio, [ToneFeeder(audio, "TR_a", 300), ToneFeeder(audio, "TR_b", 1000)], 800)
    qtbot.waitUntil(lambda: speaker.seconds * RATE - start > RATE // 2, timeout=3000)
    pcm = speaker.samples(start).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm))
    freqs = np.fft.rfftfreq(len(pcm), 1 / RATE)
    top = {round(float(f), -1) for f in freqs[np.argsort(spectrum)[-6:]]}
    assert {300.0, 1000.0} <= top


def test_muting_the_room_silences_it_and_unmuting_brings_it_back(
    qtbot: QtBot, audio: RoomAudio, speaker: SpeakerRecorder,
) -> None:
    audio.add_track("TR_a", "alice")
    feeder = ToneFeeder(audio, "TR_a", 440)
    _play(qtbot, audio, [feeder], 200)
    with qtbot.waitSignal(audio.mutedChanged) as muted:
        audio.set_muted(True)
    assert muted.args == [True]
    played = audio.bytes_played
    feeder.feed(300)
    quiet_from = speaker.mark()
    # 600 ms recorded at the speaker: time in which the fed sound would have played.
    qtbot.waitUntil(lambda: speaker.mark() - quiet_from > RATE * 6 // 10, timeout=3000)
    assert audio.bytes_played == played
    assert speaker.loudness(quiet_from + RATE // 4) < 50
    audio.set_muted(False)
    start = speaker.mark()
    _play(qtbot, audio, [feeder], 400)
    qtbot.waitUntil(lambda: speaker.loudness(start) > 1000, timeout=3000)


def test_one_person_muted_here_is_not_heard(qtbot: QtBot, audio: RoomAudio,
                                            speaker: SpeakerRecorder) -> None:
    audio.add_track("TR_a", "alice")
    audio.add_track("TR_b", "bob")
    with qtbot.waitSignal(audio.personMutedChanged) as signal:
        audio.set_person_muted("bob", True)
    assert signal.args == ["bob", True]
    start = speaker.mark()
    _play(qtbot, audio, [ToneFeeder(audio, "TR_a", 300), ToneFeeder(audio, "TR_b", 1000)], 600)
    qtbot.waitUntil(lambda: speaker.loudness(start) > 1000, timeout=3000)
    assert speaker.pitch(start) == pytest.approx(300, abs=5)
    assert audio.is_person_muted("bob")
    assert not audio.is_person_muted("alice")


def test_without_an_output_device_the_room_is_silent_and_says_so(qtbot: QtBot) -> None:
    audio = RoomAudio(device=QAudioDevice())
    audio.add_track("TR_a", "alice")
    audio.push("TR_a", _tone(440))
    assert not audio.available
    assert audio.device_name == ""
    assert audio.bytes_played == 0
    assert audio.mixer.buffered == 0
    audio.close()


def test_people_with_sound_can_be_unticked_in_the_list(qtbot: QtBot) -> None:
    view = RoomView()
    qtbot.addWidget(view)
    view.add_participant("a", "Alice")
    view.add_participant("b", "Bob")
    view.add_audio("TR_a", "a")
    bob = view.person_item("b")
    assert bob is not None
    assert not bob.flags() & Qt.ItemFlag.ItemIsUserCheckable
    alice = view.person_item("a")
    assert alice is not None
    assert alice.checkState() == Qt.CheckState.Checked
    with qtbot.waitSignal(view.hearToggled) as toggled:
        alice.setCheckState(Qt.CheckState.Unchecked)
    assert toggled.args == ["a", False]
    view.add_participant("c", "Carol")  # the list is rebuilt; Alice stays unticked
    alice = view.person_item("a")
    assert alice is not None
    assert alice.checkState() == Qt.CheckState.Unchecked
    view.remove_audio("TR_a")
    alice = view.person_item("a")
    assert alice is not None
    assert not alice.flags() & Qt.ItemFlag.ItemIsUserCheckable
