"""The recordings table with thumbnails, and a player showing one as its poster, for the
README; taken under Xvfb against the dev stack's MinIO. The recordings are real MP4s of
the bots' moving pattern (one colour each), plus one audio-only and one unreadable file;
none has a stored thumbnail, so the table makes them all lazily, as for another app's.

    scripts/devstack up [--offset N] && PYTHONPATH=. xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python scripts/screenshot_thumbnails.py docs/screenshots [N]

Thumbnails made here are cached in a temporary folder, so every run makes them anew.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import av
from window_shots import photograph

from recconsole.core.recording_info import RecordingInfo
from recconsole.ui.app import create_application
from recconsole.ui.main_window import MainWindow
from recconsole.ui.player_window import PlayerWindow
from recconsole_devtools.bot import MovingPattern
from recconsole_devtools.devstack import StackConfig

ROOMS = ("keynote", "workshop-a", "support-call", "weekly-sync")


def pattern_mp4(path: Path, hue: int, seconds: float = 3.0) -> Path:
    """A recording of a bot's moving bands in one colour."""
    width, height, fps = 640, 360, 25
    pattern = MovingPattern(width, height, hue)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame(width, height, "yuv420p")
            data = pattern.next_frame().data
            y, c = width * height, (width // 2) * (height // 2)
            for plane, part in zip(frame.planes, (data[:y], data[y:y + c], data[y + c:]),
                                   strict=True):
                plane.update(bytes(part))
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


async def _until(check: Callable[[], object]) -> None:
    """Wait for what the page shows (no signal says "every thumbnail is in")."""
    while True:
        if check():
            return
        await asyncio.sleep(0.2)


async def _seed(window: MainWindow) -> list[str]:
    catalog = window.services.catalog
    names: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        for i in range(10):
            room = ROOMS[i % len(ROOMS)]
            suffix = ".ogg" if i == 3 else ".mp4"
            name = f"{room}-RM_{i:02d}ab-2026-12-{1 + i:02d}T10{i:02d}00{suffix}"
            if i == 3:
                data, extra = b"OggS", {"options": {"content": "audio"}}
            elif i == 7:
                data, extra = b"\0" * 4096, {}  # unreadable: no thumbnail, no fuss
            else:
                data = pattern_mp4(Path(folder) / f"{i}.mp4", hue=i * 36).read_bytes()
                extra = {}
            await catalog.store.write_bytes(catalog.recording_key(name), data, "video/mp4")
            await catalog.save_metadata(RecordingInfo(
                f"EG_{i}", name, room, f"RM_{i}", 1_796_032_800_000 + i * 86_460_000,
                95.0 + i * 401, len(data), extra=extra))
            names.append(name)
    return names


async def take(window: MainWindow, folder: Path) -> None:
    app = create_application()
    names = await _seed(window)
    page = window.recordings
    window.tabs.setCurrentWidget(page)
    page.refresh()
    await _until(lambda: page.model.total == len(names))
    videos = [n for i, n in enumerate(names) if i not in (3, 7)]
    await _until(lambda: all(page.model.thumbnail(n) for n in videos)
                 and not page.thumbnails.busy)
    await asyncio.sleep(0.5)  # the last rows repaint
    app.primaryScreen().grabWindow(0).save(str(folder / "recordings-thumbnails.png"))

    # The player before its first frame: the poster.
    hold = asyncio.Event()

    async def later() -> str:
        await hold.wait()
        return await page.catalog.playback_url(videos[0])

    player = PlayerWindow(videos[0], later, page.runner, poster=page.model.thumbnail(videos[0]))
    player.setGeometry(200, 120, 960, 600)
    player.show()
    player.open()
    await asyncio.sleep(0.8)
    app.primaryScreen().grabWindow(0).save(str(folder / "player-poster.png"))
    hold.set()
    player.close()


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    offset = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    folder.mkdir(parents=True, exist_ok=True)
    cfg = StackConfig.for_profile("dev", offset=offset)
    cache = tempfile.TemporaryDirectory()
    os.environ["XDG_CACHE_HOME"] = cache.name
    env = {**os.environ, **cfg.env(), "APP_NAME": "recconsole", "REDIS_URL": "",
           "RECORDINGS_PATH": f"screenshots-{os.getpid()}/recordings/"}
    with cache:
        photograph(env, lambda window: take(window, folder), listen=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
