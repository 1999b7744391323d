"""The publisher bots' synthetic media."""

from __future__ import annotations

import numpy as np
import pytest

from recconsole.core.livekit_server import ws_url
from recconsole_devtools.bot import SAMPLE_RATE, MovingPattern, tone_frames

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("width", "height"), [(640, 360), (638, 361), (1, 1)])
def test_pattern_frames_are_i420_of_the_asked_size(width: int, height: int) -> None:
    frame = MovingPattern(width, height, hue=40).next_frame()
    chroma = ((width + 1) // 2) * ((height + 1) // 2)
    assert (frame.width, frame.height) == (width, height)
    assert len(frame.data) == width * height + 2 * chroma


def test_pattern_moves_between_frames() -> None:
    pattern = MovingPattern(320, 180, hue=0)
    first = np.frombuffer(pattern.next_frame().data, np.uint8)[: 320 * 180].copy()
    second = np.frombuffer(pattern.next_frame().data, np.uint8)[: 320 * 180]
    assert np.count_nonzero(first != second) > 320 * 180 // 2


def test_bots_get_distinct_colours() -> None:
    a = MovingPattern(64, 64, hue=0).next_frame().data[64 * 64:]
    b = MovingPattern(64, 64, hue=137).next_frame().data[64 * 64:]
    assert bytes(a) != bytes(b)


def test_tone_is_one_second_of_20ms_frames() -> None:
    frames = tone_frames(440.0)
    assert len(frames) == 50
    assert sum(f.samples_per_channel for f in frames) == SAMPLE_RATE
    pcm = np.frombuffer(b"".join(bytes(f.data) for f in frames), np.int16)
    looped = np.concatenate([pcm, pcm[:2]])  # the second wraps around without a jump
    # 440 cycles cross zero upward 440 times.
    assert np.count_nonzero((looped[:-1] < 0) & (looped[1:] >= 0)) == 440
    assert abs(int(looped[-1]) - int(looped[-2])) < 1000


def test_http_urls_become_websocket_urls() -> None:
    assert ws_url("http://127.0.0.1:7880") == "ws://127.0.0.1:7880"
    assert ws_url("https://lk.example.org") == "wss://lk.example.org"
    assert ws_url("wss://lk.example.org") == "wss://lk.example.org"
