"""The parts of a local recording that need no server: the grid, the encoder, the spool."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import pytest
from livekit import rtc

from recconsole.realtime.grid import I420Canvas, grid_tiles, label_mask
from recconsole.realtime.local_recording import FrameTap, LocalRecording, SoundMix
from recconsole.realtime.mp4_writer import finish_file
from recconsole.realtime.spool import Spool

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 9, 10])
def test_grid_tiles_fill_the_picture_without_overlapping(count: int) -> None:
    tiles = grid_tiles(count, 1280, 720)
    assert len(tiles) == count
    for tile in tiles:
        assert tile.x >= 0
        assert tile.y >= 0
        assert tile.x + tile.width <= 1280
        assert tile.y + tile.height <= 720
        assert all(v % 2 == 0 for v in (tile.x, tile.y, tile.width, tile.height))
    taken = np.zeros((720, 1280), int)
    for tile in tiles:
        taken[tile.y:tile.y + tile.height, tile.x:tile.x + tile.width] += 1
    assert taken.max() == 1


def test_a_picture_keeps_its_aspect_in_its_tile() -> None:
    canvas = I420Canvas(1280, 720)
    canvas.clear()
    [tile] = grid_tiles(1, 1280, 720)
    square = np.full(100 * 100 * 3 // 2, 200, np.uint8)
    canvas.draw_i420(tile, square.tobytes(), 100, 100)
    rows, cols = np.nonzero(canvas.y == 200)
    assert rows.max() - rows.min() + 1 == 720
    assert cols.max() - cols.min() + 1 == 720  # square: letterboxed left and right


def test_names_are_drawn_in_capitals_and_unknown_letters_as_a_question_mark() -> None:
    assert (label_mask("ab") == label_mask("AB")).all()
    assert (label_mask("é") == label_mask("?")).all()
    assert label_mask("x" * 100).shape[1] == label_mask("x" * 40).shape[1]


def _feed(tap: FrameTap, seconds: float, tone: bool) -> None:
    start, n = time.monotonic(), 0
    while time.monotonic() - start < seconds:
        luma = (np.arange(64 * 64) + 4 * n) % 256
        picture = np.concatenate([luma, np.full(2 * 32 * 32, 128)]).astype(np.uint8)
        tap.video_frame("TR_v", rtc.VideoFrame(64, 64, rtc.VideoBufferType.I420,
                                               picture.tobytes()))
        if tone:
            t = np.arange(960) + n * 960
            pcm = (6000 * np.sin(2 * np.pi * 500 * t / 48_000)).astype(np.int16)
            tap.audio_frame("TR_a", rtc.AudioFrame(pcm.tobytes(), 48_000, 1, len(pcm)))
        n += 1
        time.sleep(0.02)


@pytest.mark.parametrize("tone", [True, False])
def test_a_recording_lasts_as_long_as_it_ran_with_or_without_sound(
    tmp_path: Path, tone: bool
) -> None:
    tap = FrameTap()
    tap.participant_joined("p", "Person")
    tap.video_added("TR_v", "p")
    tap.audio_added("TR_a")
    recording = LocalRecording(tap, tmp_path / "r.mp4", width=320, height=180, fps=15)
    recording.start()
    _feed(tap, 2.0, tone)
    stats = recording.stop()
    assert stats.frames + stats.dropped_frames == pytest.approx(stats.elapsed * 15, abs=1)
    finished = finish_file(tmp_path / "r.mp4", tmp_path / "done.mp4")
    assert finished.duration == pytest.approx(stats.elapsed, abs=0.15)
    with av.open(str(finished.path)) as container:
        pcm = np.concatenate([f.to_ndarray().ravel()
                              for f in container.decode(container.streams.audio[0])])
    assert len(pcm) / 48_000 == pytest.approx(stats.elapsed, abs=0.1)
    assert bool(np.abs(pcm).max() > 0.05) == tone


@pytest.mark.parametrize("content", [b"", b"\0\0\0\x1cftypisom", b"garbage" * 100])
def test_a_file_with_nothing_playable_is_not_finished(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "empty.mp4").write_bytes(content)
    with pytest.raises(ValueError, match=r"empty\.mp4"):
        finish_file(tmp_path / "empty.mp4", tmp_path / "done.mp4")


def test_the_spool_lists_what_is_not_being_recorded(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    first = spool.new("room", "RM_1", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    second = spool.new("room", "RM_1", datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC))
    assert first.name.startswith("room-RM_1-2026-01-02T030405-")
    assert [s.id for s in spool.pending()] == [first.id, second.id]
    assert [s.id for s in spool.pending(busy={first.id})] == [second.id]
    Spool.forget(first)
    assert [s.id for s in spool.pending()] == [second.id]
    own = spool.new("room", "RM_1", datetime(2026, 1, 2, 3, 4, 7, tzinfo=UTC),
                    tag="abcdef123456", extra={"kind": "participant", "participant": "p"})
    assert own.name == "room-RM_1-2026-01-02T030407-abcdef123456.mp4"
    own.journal.write_text("{}")  # an upload's journal beside it is not a recording
    assert [(s.id, s.extra) for s in spool.pending()] == [
        (second.id, {}), (own.id, {"kind": "participant", "participant": "p"})]


def test_a_participant_leaving_or_changing_size_mid_recording_keeps_it_going(
    tmp_path: Path,
) -> None:
    tap = FrameTap()
    for who in ("a", "b"):
        tap.participant_joined(who, who.upper())
        tap.video_added(f"TR_{who}", who)
    recording = LocalRecording(tap, tmp_path / "r.mp4", width=320, height=180, fps=15)
    recording.start()
    _feed(tap, 0.5, tone=False)  # to TR_v: no such track, nothing shown
    for size in ((64, 64), (200, 100), (33, 17)):  # odd sizes too
        w, h = size
        picture = np.full(w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2), 90, np.uint8)
        tap.video_frame("TR_a", rtc.VideoFrame(w, h, rtc.VideoBufferType.I420,
                                               picture.tobytes()))
        time.sleep(0.3)
    tap.video_removed("TR_b")
    time.sleep(0.3)
    stats = recording.stop()
    assert not recording.error
    assert stats.frames > 10
    finished = finish_file(tmp_path / "r.mp4", tmp_path / "done.mp4")
    assert finished.duration == pytest.approx(stats.elapsed, abs=0.15)


def test_an_error_mid_recording_ends_it_with_the_reason_and_a_playable_file(
    tmp_path: Path,
) -> None:
    tap = FrameTap()
    tap.participant_joined("p", "Person")
    tap.video_added("TR_v", "p")
    calls = 0
    pictures = tap.pictures

    def disk_full() -> list[tuple[str, rtc.VideoFrame | None]]:
        nonlocal calls
        calls += 1
        if calls > 45:  # 3 s at 15 fps: past the first keyframe interval
            raise OSError(28, "No space left on device")
        return pictures()

    tap.pictures = disk_full  # type: ignore[method-assign]
    reasons: list[str] = []
    recording = LocalRecording(tap, tmp_path / "r.mp4", width=160, height=90, fps=15,
                               failed=reasons.append)
    recording.start()
    _feed(tap, 4.0, tone=True)
    assert not recording.running
    recording.stop()
    assert reasons == [recording.error]
    assert "No space left on device" in recording.error
    finished = finish_file(tmp_path / "r.mp4", tmp_path / "done.mp4")
    assert finished.duration >= 2.5


class _SlowPictures(LocalRecording):
    """A recording whose pictures take far longer to draw than their interval (a
    starved computer): the picture path falls behind, the sound must not."""

    def compose(self) -> None:
        time.sleep(0.6)  # longer than the speaker's whole buffer of sound
        super().compose()


def _feed_two_voices(tap: FrameTap, stop: threading.Event) -> None:
    """Two tracks of one 500 Hz tone in phase, one sending every 10 ms, the other in
    bursts of 20 to 90 ms (as frames come from an event loop that is not always on time)."""
    n, began = 0, time.monotonic()
    bursts = np.random.default_rng(18)
    held: list[rtc.AudioFrame] = []
    burst = 2
    while not stop.is_set():
        t = np.arange(480) + n * 480
        pcm = (4000 * np.sin(2 * np.pi * 500 * t / 48_000)).astype(np.int16)
        frame = rtc.AudioFrame(pcm.tobytes(), 48_000, 1, len(pcm))
        tap.audio_frame("TR_a", frame)
        held.append(frame)
        if len(held) >= burst:
            for f in held:
                tap.audio_frame("TR_b", f)
            held, burst = [], int(bursts.integers(2, 10))
        if n % 3 == 0:
            picture = np.full(64 * 64 * 3 // 2, 128, np.uint8)
            tap.video_frame("TR_v", rtc.VideoFrame(64, 64, rtc.VideoBufferType.I420,
                                                   picture.tobytes()))
        n += 1
        time.sleep(max(0.0, began + n * 0.01 - time.monotonic()))


def test_sound_is_whole_when_the_pictures_cannot_keep_up(tmp_path: Path) -> None:
    tap = FrameTap()
    tap.participant_joined("p", "Person")
    tap.video_added("TR_v", "p")
    tap.audio_added("TR_a")
    tap.audio_added("TR_b")
    stop = threading.Event()
    feeder = threading.Thread(target=_feed_two_voices, args=(tap, stop))
    feeder.start()
    recording = _SlowPictures(tap, tmp_path / "r.mp4", width=320, height=180, fps=15)
    try:
        recording.start()
        time.sleep(4.0)
        stats = recording.stop()
    finally:
        stop.set()
        feeder.join()
    assert stats.dropped_frames > stats.frames  # the pictures were starved
    finished = finish_file(tmp_path / "r.mp4", tmp_path / "done.mp4")
    with av.open(str(finished.path)) as container:
        pcm = np.concatenate([f.to_ndarray().ravel()
                              for f in container.decode(container.streams.audio[0])])
    assert len(pcm) / 48_000 == pytest.approx(stats.elapsed, abs=0.1)
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    strongest = np.fft.rfftfreq(len(pcm), 1 / 48_000)[int(np.argmax(spectrum[1:])) + 1]
    assert strongest == pytest.approx(500, abs=3)
    # No hole in either voice: every 10 ms holds both, from the first to the end.
    start = 2048  # the AAC encoder's priming
    body = pcm[start:len(pcm) - 4800].astype(float)
    rms = np.sqrt((body[: len(body) // 480 * 480].reshape(-1, 480) ** 2).mean(axis=1))
    assert rms.min() > 0.8 * np.median(rms), np.flatnonzero(rms < 0.8 * np.median(rms))
    assert recording.silence == 0


def test_the_mix_waits_for_a_late_track_but_not_for_one_gone_quiet() -> None:
    now = [0.0]
    mix = SoundMix(clock=lambda: now[0])
    mix.add("a")
    mix.add("b")
    mix.push("a", np.full(960, 100, np.int16))
    mix.push("b", np.full(480, 10, np.int16))
    assert mix.pull().tolist() == [110] * 480  # b's next 10 ms is waited for
    mix.push("b", np.full(480, 10, np.int16))
    assert mix.pull().tolist() == [110] * 480
    for _ in range(30):  # b stops sending; a goes on
        now[0] += 0.01
        mix.push("a", np.full(480, 100, np.int16))
    assert len(mix.pull()) == 30 * 480  # b is more than TRACK_WAIT behind: not waited for
    mix.push("b", np.full(480, 10, np.int16))  # b again: mixed from where the sound is
    now[0] += 0.01
    mix.push("a", np.full(480, 100, np.int16))
    assert mix.pull().tolist() == [110] * 480
    mix.push("a", np.full(480, 100, np.int16))
    assert mix.pull(wait=None).tolist() == [100] * 480  # the end: all there is
    assert mix.dropped == 0


def test_sound_that_comes_after_silence_took_its_place_does_not_fall_behind(
    tmp_path: Path,
) -> None:
    tap = FrameTap()
    tap.audio_added("TR_a")
    recording = LocalRecording(tap, tmp_path / "r.mp4", width=160, height=90, fps=15)
    recording.start()
    tone = (4000 * np.sin(2 * np.pi * 500 * np.arange(480) / 48_000)).astype(np.int16)
    frame = rtc.AudioFrame(tone.tobytes(), 48_000, 1, 480)

    def send(seconds: float) -> None:
        began = time.monotonic()
        for n in range(int(seconds * 100)):
            tap.audio_frame("TR_a", frame)
            time.sleep(max(0.0, began + (n + 1) * 0.01 - time.monotonic()))

    send(1.0)
    time.sleep(1.0)  # a stalled event loop: nothing comes for a second...
    for half in range(2):  # ...then the half second the SDK kept, in two bursts
        for _ in range(25):
            tap.audio_frame("TR_a", frame)
        time.sleep(0.06 * (1 - half))  # the recording writes the first half meanwhile
    send(1.0)
    stats = recording.stop()
    assert recording.silence > 0  # the stall was filled with silence
    assert recording.replaced > 0  # and the late sound it stood for was left out
    finished = finish_file(tmp_path / "r.mp4", tmp_path / "done.mp4")
    with av.open(str(finished.path)) as container:
        pcm = np.concatenate([f.to_ndarray().ravel()
                              for f in container.decode(container.streams.audio[0])])
    assert len(pcm) / 48_000 == pytest.approx(stats.elapsed, abs=0.1)
