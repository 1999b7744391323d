"""Mixing remote audio tracks for the speaker."""

from __future__ import annotations

import numpy as np
import pytest

from recconsole.realtime.audio import AudioMixer

pytestmark = pytest.mark.unit


def _pcm(*values: int) -> bytes:
    return np.array(values, np.int16).tobytes()


def _samples(data: bytes) -> list[int]:
    return np.frombuffer(data, np.int16).tolist()


def test_tracks_are_summed_sample_by_sample() -> None:
    mixer = AudioMixer()
    mixer.add("a")
    mixer.add("b")
    mixer.push("a", _pcm(100, 200, 300))
    mixer.push("b", _pcm(-50, 50, 0))
    assert _samples(mixer.pull(10)) == [50, 250, 300]
    assert mixer.pull(10) == b""


def test_loud_sums_are_clipped_not_wrapped() -> None:
    mixer = AudioMixer()
    for key in "ab":
        mixer.add(key)
        mixer.push(key, _pcm(30000, -30000))
    assert _samples(mixer.pull(2)) == [32767, -32768]


def test_a_late_track_is_a_gap_not_a_delay() -> None:
    mixer = AudioMixer()
    mixer.add("early")
    mixer.add("late")
    mixer.push("early", _pcm(1, 1, 1, 1))
    mixer.push("late", _pcm(10))
    assert _samples(mixer.pull(4)) == [11, 1, 1, 1]
    mixer.push("late", _pcm(20, 20))
    assert _samples(mixer.pull(4)) == [20, 20]


def test_pull_takes_at_most_what_is_asked() -> None:
    mixer = AudioMixer()
    mixer.add("a")
    mixer.push("a", _pcm(*range(10)))
    assert _samples(mixer.pull(4)) == [0, 1, 2, 3]
    assert mixer.buffered == 6


def test_a_track_that_runs_ahead_loses_its_oldest_sound() -> None:
    mixer = AudioMixer(sample_rate=1000, max_buffered_ms=10)  # keeps 10 samples
    mixer.add("a")
    mixer.push("a", _pcm(*range(25)))
    assert mixer.buffered == 10
    assert mixer.dropped == 15
    assert _samples(mixer.pull(100)) == list(range(15, 25))


def test_a_muted_track_is_not_heard_and_its_backlog_is_dropped() -> None:
    mixer = AudioMixer()
    mixer.add("a")
    mixer.add("b")
    mixer.push("a", _pcm(5, 5))
    mixer.set_muted("a", True)
    mixer.push("a", _pcm(7, 7))
    mixer.push("b", _pcm(1, 1))
    assert _samples(mixer.pull(10)) == [1, 1]
    mixer.set_muted("a", False)
    mixer.push("a", _pcm(3))
    assert _samples(mixer.pull(10)) == [3]


def test_unknown_and_removed_tracks_are_ignored() -> None:
    mixer = AudioMixer()
    mixer.push("nobody", _pcm(1, 2, 3))
    assert mixer.pull(10) == b""
    mixer.add("a")
    mixer.push("a", _pcm(1))
    mixer.remove("a")
    assert mixer.pull(10) == b""
    assert mixer.keys == []


def test_stereo_pulls_whole_frames() -> None:
    mixer = AudioMixer(channels=2)
    mixer.add("a")
    mixer.push("a", _pcm(1, 2, 3, 4, 5))
    assert _samples(mixer.pull(3)) == [1, 2]
