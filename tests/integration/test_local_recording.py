"""Recording a room on this computer: a real LiveKit server with no egress service,
publisher bots, and MinIO as the recordings store.

The console's session hands its frames to the recording; the file lands in MinIO
at the tutorial's path with the tutorial's metadata, and the room's status moves
as with an egress. A recording dropped without a stop (a crash) is found in the
spool by the next start and uploaded.
"""

from __future__ import annotations

import asyncio
import io
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import pytest_asyncio
from livekit import rtc

from recconsole.core.errors import AlreadyRecording, EgressUnavailable
from recconsole.core.events import LocalRecordingNotice, RecordingStatusChanged
from recconsole.core.livekit_server import LiveKitServer, parse_metadata, ws_url
from recconsole.core.recorder import Recorder
from recconsole.core.recording_info import parse_recording_name
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.tokens import mint_token
from recconsole.realtime.local_recorder import LocalRecorder, OutputFormat
from recconsole.realtime.local_recording import FrameTap, LocalRecording, track_owner
from recconsole.realtime.mp4_writer import Mp4Writer, finish_file
from recconsole.realtime.session import RoomSession, SessionEvents
from recconsole.realtime.spool import Spool, SpooledRecording
from recconsole.storage import s3
from recconsole.storage.base import UploadJournal
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.s3 import S3Store
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import (
    API_KEY,
    API_SECRET,
    MINIO_PASSWORD,
    MINIO_USER,
    S3_BUCKET,
    DevStack,
    StackConfig,
)
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.sound import PITCH_HZ, pitch_of
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

TONE_HZ = 730.0  # the bots' tone: nothing else here makes this one
BOT_TONE_HZ = BotOptions().tone_hz  # the tone of a bot run as a command
RECORD_FOR = 5.0
SMALL = OutputFormat(640, 360, 30)  # the 2-core machine runs LiveKit and bots beside it


@dataclass
class Stack:
    server: LiveKitServer
    recorder: Recorder
    catalog: RecordingsCatalog
    local: LocalRecorder
    spool: Spool


@pytest_asyncio.fixture
async def stack(livekit_server: StackConfig, minio_server: StackConfig,
                tmp_path: Path) -> AsyncIterator[Stack]:
    server = LiveKitServer(livekit_server.livekit_url, API_KEY, API_SECRET, app_name=TEST_APP)
    recorder = Recorder(server, recordings_path="recordings/")
    store = S3Store(minio_server.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1", S3_BUCKET)
    catalog = RecordingsCatalog(store, "recordings/")
    spool = Spool(tmp_path / "spool")
    local = LocalRecorder(recorder, catalog, spool, output=SMALL, retry_delay=0.2)
    yield Stack(server, recorder, catalog, local, spool)
    await local.aclose()
    await recorder.aclose()
    await store.aclose()
    await server.aclose()


@pytest_asyncio.fixture
async def room_with_bots(
    livekit_server: StackConfig, stack: Stack
) -> AsyncIterator[tuple[str, list[PublisherBot]]]:
    room = unique_room("local-rec")
    await stack.server.ensure_room(room)
    bots = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 2,
                            BotOptions(width=320, height=180, fps=15, tone_hz=TONE_HZ))
    yield room, bots
    await asyncio.gather(*(bot.stop() for bot in bots))


async def _join(livekit_url: str, room: str, identity: str) -> tuple[RoomSession, FrameTap]:
    token = mint_token(API_KEY, API_SECRET, room, identity, "Console", observer=True)
    session = RoomSession(livekit_url, token, SessionEvents(), audio=True)
    await session.connect()
    tap = FrameTap()
    session.attach_tap(tap)
    await eventually(lambda: len(session._tracks), 4, within=20)  # 2 bots x video + audio
    return session, tap


async def _watch(livekit_url: str, room: str) -> tuple[rtc.Room, list[str]]:
    watcher, statuses = rtc.Room(), []
    watcher.on("room_metadata_changed", lambda _old, new: statuses.append(
        str(parse_metadata(new).get("recordingStatus"))))
    await watcher.connect(ws_url(livekit_url),
                          mint_token(API_KEY, API_SECRET, room, "watcher", observer=True))
    return watcher, statuses


async def test_a_room_is_recorded_on_this_computer_into_the_store_as_egress_would(
    livekit_server: StackConfig, stack: Stack, room_with_bots: tuple[str, list[PublisherBot]],
) -> None:
    room, _bots = room_with_bots
    with pytest.raises(EgressUnavailable):  # why the console records it itself
        await stack.recorder.start(room)
    await stack.recorder.reconcile(room)
    session, tap = await _join(livekit_server.livekit_url, room, "console-local")
    watcher, statuses = await _watch(livekit_server.livekit_url, room)
    notices: list[str] = []
    stack.recorder.events.subscribe(LocalRecordingNotice, lambda e: notices.append(e.message))
    try:
        room_id = (await stack.server.get_room(room)).sid  # type: ignore[union-attr]
        asked = time.monotonic()
        spooled = await stack.local.start(room, room_id, tap, "console-local")
        started = time.monotonic()
        await eventually(lambda: "STARTED" in statuses, True)
        # Anyone else starting (an egress, another console) is told it is recorded.
        with pytest.raises(AlreadyRecording):
            await stack.recorder.start(room)
        with pytest.raises(AlreadyRecording):
            await stack.local.start(room, room_id, FrameTap(), "another-console")
        # Another console joining does not take the room's status for a stale one.
        assert (await stack.recorder.reconcile(room)).value == "STARTED"  # type: ignore[union-attr]
        while time.monotonic() - started < RECORD_FOR:
            await asyncio.sleep(0.2)
            stats = stack.local.stats(room)
            assert stats is not None
            assert stats.size > 0
        stopping = time.monotonic()
        info = await stack.local.stop(room)
        elapsed, span = stopping - started, stopping - asked
        await eventually(lambda: statuses[-1:], ["STOPPED"])
    finally:
        await session.disconnect()
        await watcher.disconnect()
    assert statuses == ["STARTING", "STARTED", "STOPPING", "STOPPED"]
    assert info is not None
    assert info.id == spooled.id
    assert info.id.startswith("LOCAL_")
    assert info.extra == {"recordedBy": "console"}
    assert parse_recording_name(info.name) is not None
    assert info.name.startswith(f"{room}-{room_id}-")
    assert info.name.endswith(".mp4")
    stored = await stack.catalog.get(info.name)
    assert stored == info
    assert stored.extra == {"recordedBy": "console"}
    assert any(info.name in n and "uploaded" in n for n in notices)
    assert not list(stack.spool.folder.iterdir())  # nothing left behind once uploaded

    data = await stack.catalog.store.read_bytes(stack.catalog.recording_key(info.name))
    content = read_content(data)
    print(f"\nlocal: duration {content.duration:.2f} s, elapsed {elapsed:.2f} s,"
          f" pitch {content.pitch:.1f} Hz, change {content.change:.1f}")
    assert content.size == (SMALL.width, SMALL.height)
    assert content.pitch == pytest.approx(TONE_HZ, abs=PITCH_HZ)
    assert content.change > 1.0, "the recorded video does not move"
    # From when start was asked (it began meanwhile) to when stop was asked.
    assert elapsed - 0.5 <= content.duration <= span + 0.5, (elapsed, span)
    assert info.duration == pytest.approx(content.duration, abs=0.1)


async def test_a_recording_killed_mid_way_is_uploaded_playable_at_the_next_start(
    stack: Stack,
) -> None:
    room, room_id = unique_room("local-crash"), "RM_crashed1"
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.helpers.spooling_recorder", str(stack.spool.folder), room,
        room_id, stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).parents[2])
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), 60)
    assert line.startswith(b"recording LOCAL_"), line
    await asyncio.sleep(1.0)
    child.send_signal(signal.SIGKILL)  # a crash: no flush, no close
    await child.wait()
    [spooled] = stack.spool.pending()

    notices: list[str] = []
    stack.recorder.events.subscribe(LocalRecordingNotice, lambda e: notices.append(e.message))
    recovered = await stack.local.recover()
    assert [r.name for r in recovered] == [spooled.name]
    assert notices[0].startswith(f"found {spooled.name}")
    stored = await stack.catalog.get(spooled.name)
    assert stored.id == spooled.id
    assert stored.extra == {"recordedBy": "console"}
    assert stored.duration > 2.0
    data = await stack.catalog.store.read_bytes(stack.catalog.recording_key(spooled.name))
    content = read_content(data)  # it plays: every picture and sample decodes
    assert content.pitch == pytest.approx(TONE_HZ, abs=PITCH_HZ)
    assert content.change > 1.0
    assert content.duration == pytest.approx(stored.duration, abs=0.2)
    assert not spooled.plan.exists()
    assert not spooled.video.exists()


async def test_each_participant_also_gets_a_file_of_their_own_as_egress_would_name_it(
    livekit_server: StackConfig, stack: Stack,
) -> None:
    room = unique_room("local-each")
    await stack.server.ensure_room(room)
    bots = [*await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 1,
                              BotOptions(width=320, height=180, fps=15, tone_hz=TONE_HZ),
                              prefix="high"),
            *await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 1,
                              BotOptions(width=256, height=144, fps=15, tone_hz=440.0),
                              prefix="low")]
    token = mint_token(API_KEY, API_SECRET, room, "console-each", "Console", observer=True)
    session = RoomSession(livekit_server.livekit_url, token, SessionEvents(), audio=True)
    try:
        await session.connect()
        tap = FrameTap(owner_of=track_owner(session.room))
        session.attach_tap(tap)
        await eventually(lambda: len(session._tracks), 4, within=20)
        room_id = await session.room.sid
        asked = time.monotonic()
        await stack.local.start(room, room_id, tap, "console-each", each_participant=True)
        started = time.monotonic()
        await asyncio.sleep(RECORD_FOR)
        stopping = time.monotonic()
        room_file = await stack.local.stop(room)
        elapsed, span = stopping - started, stopping - asked
    finally:
        await session.disconnect()
        await asyncio.gather(*(bot.stop() for bot in bots))
    assert room_file is not None
    assert room_file.extra == {"recordedBy": "console"}  # the room's grid, as before
    stored = await stack.catalog.list_recordings(room_id)
    own = {r.extra.get("participant"): r for r in stored if r.extra.get("kind")}
    assert sorted(r.name for r in stored) == sorted([room_file.name, *(r.name for r in
                                                                      own.values())])
    assert set(own) == {"high-1", "low-1"}
    sessions = {r.extra["session"] for r in own.values()}
    assert len(sessions) == 1  # recorded together: one session, as egress's would be
    [together] = sessions
    assert together.startswith(f"{room_id}-")
    for who, tone, size in (("high-1", TONE_HZ, (320, 180)), ("low-1", 440.0, (256, 144))):
        info = own[who]
        assert info.extra == {"kind": "participant", "participant": who, "session": together,
                              "recordedBy": "console"}
        assert info.id.startswith("LOCAL_")
        assert info.name.startswith(f"{room}-{room_id}-")
        assert recording_extras_session(info.name) == together.rsplit("-", 1)[-1]
        content = read_content(await stack.catalog.store.read_bytes(
            stack.catalog.recording_key(info.name)))
        print(f"\n{who}: {content.duration:.2f} s of {elapsed:.2f}, pitch {content.pitch:.1f}")
        assert content.size == size  # their camera as it came, not the grid
        assert content.pitch == pytest.approx(tone, abs=PITCH_HZ)  # their own sound only
        assert content.change > 1.0
        # From their first picture after the start to when stop was asked.
        assert elapsed - 1.0 <= content.duration <= span + 0.5, (elapsed, span)
    assert not list(stack.spool.folder.iterdir())


def recording_extras_session(name: str) -> str:
    """The session tag egress's each-participant file names carry (six hex digits
    of the session, six of the file's own)."""
    match = re.search(r"-([0-9a-f]{6})[0-9a-f]{6}\.mp4$", name)
    assert match, name
    return match[1]


class _StarvedPictures(LocalRecording):
    """Each picture costs ten times its interval of pure-Python work (holding the
    interpreter as a starved process's threads do): the picture path falls far behind."""

    def compose(self) -> None:
        ends = time.monotonic() + 10 / self.fps
        while time.monotonic() < ends:
            pass
        super().compose()


async def _bot_process(livekit_url: str, room: str) -> asyncio.subprocess.Process:
    """A publisher bot in a process of its own (the default 440 Hz tone), joined on return:
    starving this process must not starve what it records."""
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "recconsole_devtools.bot", "--room", room, "--count", "1",
        "--size", "320x180", "--fps", "15", "--url", livekit_url, "--api-key", API_KEY,
        "--api-secret", API_SECRET, stderr=asyncio.subprocess.PIPE)
    assert bot.stderr is not None
    try:
        async with asyncio.timeout(60):
            while b"publishing" not in (line := await bot.stderr.readline()):
                assert line, "the bot ended before publishing"
    except BaseException:
        bot.kill()
        await bot.wait()
        raise
    return bot


class _KeepingTap(FrameTap):
    """A tap that also keeps the sound it is handed once the recording began: what the
    file's sound must be, sample for sample (holes the network made included)."""

    def __init__(self) -> None:
        super().__init__()
        self.heard: list[np.ndarray] = []

    def audio_frame(self, track_sid: str, frame: rtc.AudioFrame) -> None:
        with self._lock:
            self.heard.append(np.frombuffer(frame.data, np.int16).copy())
        super().audio_frame(track_sid, frame)

    def drop_audio(self) -> None:
        with self._lock:
            self.heard.clear()
        super().drop_audio()


def _likeness(recorded: np.ndarray, heard: np.ndarray, rate: int) -> list[float]:
    """How alike the recorded sound is to the sound heard, each half second, once the
    encoder's delay is found (1.0: the same; a sample lost or added mid-way puts a tone
    out of step from there on, and the likeness falls far below 1)."""
    first = heard[:rate]
    lag = max(range(4096), key=lambda k: float(np.dot(recorded[k:k + len(first)],
                                                       first[:len(recorded) - k])))
    n = min(len(recorded) - lag, len(heard))
    size = rate // 2
    alike = []
    for at in range(0, n - size + 1, size):
        a, b = recorded[lag + at:lag + at + size], heard[at:at + size]
        norm = float(np.linalg.norm(a) * np.linalg.norm(b))
        alike.append(float(np.dot(a, b)) / norm if norm else 1.0)
    return alike


async def test_the_sound_stays_whole_when_the_pictures_are_starved(
    livekit_server: StackConfig, stack: Stack, tmp_path: Path,
) -> None:
    room = unique_room("local-starved")
    await stack.server.ensure_room(room)
    bot = await _bot_process(livekit_server.livekit_url, room)
    token = mint_token(API_KEY, API_SECRET, room, "console-starved", "Console", observer=True)
    session = RoomSession(livekit_server.livekit_url, token, SessionEvents(), audio=True)
    tap = _KeepingTap()
    try:
        await session.connect()
        session.attach_tap(tap)
        await eventually(lambda: len(session._tracks), 2, within=20)
        recording = _StarvedPictures(tap, tmp_path / "r.mp4", width=SMALL.width,
                                     height=SMALL.height, fps=SMALL.fps)
        await asyncio.to_thread(recording.start)
        began = time.monotonic()
        await asyncio.sleep(RECORD_FOR)
        stats = await asyncio.to_thread(recording.stop)
        wall = time.monotonic() - began
    finally:
        await session.disconnect()
        bot.terminate()
        await bot.wait()
    assert stats.dropped_frames > stats.frames  # the pictures were starved
    finished = await asyncio.to_thread(finish_file, tmp_path / "r.mp4", tmp_path / "done.mp4")
    content = read_content(finished.path.read_bytes())
    heard = np.concatenate(tap.heard).astype(float) / 32768
    alike = _likeness(content.pcm, heard, content.rate)
    print(f"\nstarved: {stats.frames} pictures, {stats.dropped_frames} dropped; sound"
          f" {content.audio_duration:.2f} s in {wall:.2f} s, pitch {content.pitch:.1f} Hz,"
          f" silence written {recording.silence / 48_000:.2f} s,"
          f" likeness {min(alike):.3f}")
    assert content.audio_duration == pytest.approx(wall, abs=0.5)
    assert content.pitch == pytest.approx(BOT_TONE_HZ, abs=PITCH_HZ)
    # Every sample heard is in the file, in order, with nothing between them: each
    # half-second as heard (one may differ somewhat when the machine is loaded beyond the
    # test's own starving: 0.87 seen in CI, with no silence written).
    assert float(np.median(alike)) > 0.99, (alike, recording.silence)
    assert min(alike) > 0.8, (alike, recording.silence)
    assert len(alike) >= 2 * RECORD_FOR - 2


@dataclass
class Content:
    """What a recorded MP4 holds, read with PyAV."""

    pitch: float  # the frequency most of the sound is at, Hz (see pitch_of)
    change: float  # mean luma difference between frames 2 s apart
    duration: float  # s
    size: tuple[int, int]
    audio_duration: float  # s of sound decoded
    pcm: np.ndarray  # the sound, mono float
    rate: int

    def quiet_spans(self, skip_start: float, skip_end: float, window: float = 0.01) -> list[float]:
        """Where (s) the sound drops below a tenth of its usual loudness for a ``window``
        (a hole in it), between ``skip_start`` s and ``skip_end`` s before the end."""
        size = int(window * self.rate)
        body = self.pcm[int(skip_start * self.rate):len(self.pcm) - int(skip_end * self.rate)]
        rms = np.sqrt((body[:len(body) // size * size].reshape(-1, size) ** 2).mean(axis=1))
        return [skip_start + i * window for i in np.flatnonzero(rms < 0.1 * np.median(rms))]


def read_content(data: bytes) -> Content:
    with av.open(io.BytesIO(data)) as container:
        audio = container.streams.audio[0]
        rate = audio.rate
        pcm = np.concatenate([f.to_ndarray().mean(axis=0) for f in container.decode(audio)])
        audio_end = len(pcm) / rate
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        base, step = float(video.time_base or 0), 1 / float(video.average_rate or 30)
        size = (video.codec_context.width, video.codec_context.height)
        lumas = [(f.pts * base, f.to_ndarray(format="gray").astype(float))
                 for f in container.decode(video)]
    pitch = pitch_of(pcm[rate:] if len(pcm) > 2 * rate else pcm, rate)
    first = lumas[0][0]
    later = next((i for i, (t, _) in enumerate(lumas) if t >= first + 2.0), len(lumas) - 1)
    change = float(np.abs(lumas[0][1] - lumas[later][1]).mean())
    duration = max(audio_end, lumas[-1][0] + step) - min(first, 0.0)
    return Content(pitch, change, duration, size, audio_end, pcm, rate)


async def test_storage_down_at_stop_keeps_the_recording_until_it_comes_back(
    livekit_server: StackConfig, private_minio: DevStack, stack: Stack, app_room: str,
) -> None:
    store = S3Store(private_minio.cfg.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1",
                    S3_BUCKET)
    catalog = RecordingsCatalog(store, "recordings/")
    local = LocalRecorder(stack.recorder, catalog, stack.spool, output=SMALL,
                          upload_attempts=2, retry_delay=0.1)
    statuses: list[RecordingStatusChanged] = []
    stack.recorder.events.subscribe(RecordingStatusChanged, statuses.append)
    try:
        room_id = (await stack.server.get_room(app_room)).sid  # type: ignore[union-attr]
        spooled = await local.start(app_room, room_id, FrameTap(), "console-offline")
        await eventually(lambda: local.stats(app_room).size > 0, True)  # type: ignore[union-attr]
        private_minio.stop("minio")
        assert await local.stop(app_room) is None
        last = statuses[-1]
        assert last.status is RecordingStatus.FAILED
        assert "kept in" in last.error
        assert "uploaded at the next start" in last.error
        assert spooled.plan.exists()

        private_minio.start("minio")
        [recovered] = await local.recover()
        assert recovered.name == spooled.name
        assert (await catalog.get(spooled.name)).id == spooled.id
        assert not spooled.plan.exists()
    finally:
        await local.aclose()
        await store.aclose()


async def test_limits_stop_a_recording_by_themselves(stack: Stack, app_room: str) -> None:
    statuses: list[RecordingStatusChanged] = []
    stack.recorder.events.subscribe(RecordingStatusChanged, statuses.append)
    room_id = (await stack.server.get_room(app_room)).sid  # type: ignore[union-attr]
    began = time.monotonic()
    await stack.local.start(app_room, room_id, FrameTap(), "console-limited", max_duration=1.5)
    await eventually(lambda: statuses[-1].status, RecordingStatus.STOPPED, within=30)
    assert time.monotonic() - began >= 1.5
    assert not stack.local.is_recording(app_room)

    someone_there = [True]
    await stack.local.start(app_room, room_id, FrameTap(), "console-limited",
                            stop_when_empty_after=1.0, occupied=lambda: someone_there[0])
    await asyncio.sleep(2.0)
    assert stack.local.is_recording(app_room)  # people are there: it goes on
    someone_there[0] = False
    left = time.monotonic()
    await eventually(lambda: statuses[-1].status, RecordingStatus.STOPPED, within=30)
    assert time.monotonic() - left >= 1.0
    assert len(await stack.catalog.list_recordings(room_id)) == 2


class _WatchedJournal(UploadJournal):
    """The store's journal as it is, noting the parts each save adds; ``after_part``
    runs once the store has taken a part (here: the storage goes down)."""

    def __init__(self, inner: UploadJournal, sent: list[int],
                 after_part: Callable[[int], None]) -> None:
        self.inner, self.sent, self.after_part = inner, sent, after_part

    def load(self) -> dict[str, Any] | None:
        return self.inner.load()

    def save(self, state: dict[str, Any]) -> None:
        before = {int(n) for n in (self.inner.load() or {}).get("parts", {})}
        self.inner.save(state)
        for number in sorted({int(n) for n in state["parts"]} - before):
            self.sent.append(number)
            self.after_part(number)

    def clear(self) -> None:
        self.inner.clear()


class _WatchedS3(S3Store):
    """MinIO as it is; each upload's journal is watched (see :class:`_WatchedJournal`)."""

    sent: list[int]
    after_part: Callable[[int], None] = staticmethod(lambda _n: None)

    async def write_file(self, key: str, path: Path,
                         content_type: str = "application/octet-stream",
                         journal: UploadJournal | None = None) -> None:
        assert journal is not None  # a recording's upload always keeps one
        await super().write_file(key, path, content_type,
                                 _WatchedJournal(journal, self.sent, self.after_part))


def _large_recording(spool: Spool, room: str) -> SpooledRecording:
    """A spooled recording of moving noise: three 5 MB parts in a couple of seconds."""
    spooled = spool.new(room, "RM_parts", datetime.now(UTC))
    rng = np.random.default_rng(18)
    writer = Mp4Writer(spooled.video, 640, 360, 30)
    for index in range(70):
        writer.write_video(rng.integers(0, 256, (540, 640), np.uint8), index)
        writer.write_audio(np.zeros(1600, np.int16))
    writer.close()
    return spooled


async def test_an_upload_cut_short_goes_on_from_the_parts_already_sent(
    private_minio: DevStack, stack: Stack, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(s3, "MULTIPART_PART", 5 * 1024 * 1024)  # S3's smallest part
    store = _WatchedS3(private_minio.cfg.s3_endpoint, MINIO_USER, MINIO_PASSWORD,
                       "us-east-1", S3_BUCKET, timeout=3)
    store.sent = []
    catalog = RecordingsCatalog(store, "recordings/")
    local = LocalRecorder(stack.recorder, catalog, stack.spool, upload_attempts=2,
                          retry_delay=0.1)
    spooled = await asyncio.to_thread(_large_recording, stack.spool, unique_room("parts"))
    key = catalog.recording_key(spooled.name)
    try:
        # The storage goes down once it has the first part: the upload stops there.
        store.after_part = lambda number: private_minio.stop("minio") if number == 1 else None
        assert await local.recover() == []
        assert store.sent == [1]
        assert spooled.plan.exists()
        assert spooled.journal.exists()
        uploaded = spooled.finished.read_bytes()
        assert len(uploaded) > 10 * 1024 * 1024

        # Back again: the next start sends the other parts only, and the whole file is there.
        private_minio.start("minio")
        store.after_part = lambda _number: None
        [info] = await local.recover()
        assert store.sent == [1, 2, 3]
        assert info.name == spooled.name
        assert info.extra == {"recordedBy": "console"}
        stored = await store.head(key)
        assert stored.etag.endswith("-3")  # S3's tag of an object made of three parts
        assert await store.read_bytes(key) == uploaded
        assert (await catalog.get(spooled.name)).id == spooled.id
        assert not list(stack.spool.folder.iterdir())
    finally:
        await local.aclose()
        await store.aclose()
