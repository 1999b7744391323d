"""Recording on this computer: 4 bots at 640x360@30 composed into 1280x720@30.

Publisher bots (moving pattern and tone) run in their own process; the console's
room view (tiles fed as the window feeds them, offscreen Qt, qasync loop) joins in
another, watches for ``--seconds`` without recording, then as long while
recording the room into an MP4 (the window's local recording, without upload).
Reported:
- CPU the recording adds (process CPU while recording minus while not), in cores;
- pictures written per second, and pictures the encoder dropped;
- A/V drift: how far the file's sound and picture timelines end apart;
- sound: seconds written against seconds recorded, the silence written in place of
  sound that did not come (none expected: the bots' tone never stops), and the late
  sound left out because silence had already taken its place;
- tile fps while recording / tile fps while not (same run).
Targets (issue 18): added CPU ≤ 1 core, ≥ 29 fps written, drift ≤ 40 ms, tile fps
ratio ≥ 0.9.

    python -m bench.local_record [--bots 4] [--seconds 20] [--offset N]

The LiveKit server is the test profile's at port offset ``--offset`` (default
RECCONSOLE_TEST_PORT_OFFSET, else 500), started if it does not answer and then stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from recconsole_devtools.devstack import API_KEY, API_SECRET, DevStack, StackConfig


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(view: Any, seconds: float) -> tuple[list[float], float]:
    """Tile fps over ``seconds`` and the process CPU used meanwhile."""
    before = {sid: t.frames_shown for sid, t in view.tiles.items()}
    cpu0, began = _cpu(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu, elapsed = _cpu() - cpu0, time.perf_counter() - began
    fps = sorted((t.frames_shown - before.get(sid, 0)) / elapsed
                 for sid, t in view.tiles.items())
    return fps, cpu / elapsed


async def _consume(url: str, room: str, seconds: float, bots: int) -> dict[str, Any]:
    from livekit import rtc

    from recconsole.core.tokens import mint_token
    from recconsole.realtime.local_recording import FrameTap, LocalRecording
    from recconsole.realtime.mp4_writer import finish_file
    from recconsole.realtime.session import RoomSession, SessionEvents
    from recconsole.ui.room_view import RoomView

    view = RoomView()
    view.resize(1280, 800)
    view.show()

    everyone = asyncio.Event()

    class Events(SessionEvents):
        def video_added(self, track_sid: str, identity: str) -> None:
            view.add_video(track_sid, identity)
            if len(view.tiles) >= bots:
                everyone.set()

        def video_frame(self, track_sid: str, frame: rtc.VideoFrame) -> None:
            view.show_frame(track_sid, frame)

    token = mint_token(API_KEY, API_SECRET, room, "bench-recorder", observer=True)
    session = RoomSession(url, token, Events(), audio=True)
    await session.connect()
    await everyone.wait()
    await asyncio.sleep(3)  # every track at its steady rate
    idle_fps, idle_cores = await _measure(view, seconds)
    folder = Path(tempfile.mkdtemp(prefix="bench-local-"))
    tap = FrameTap()
    session.attach_tap(tap)
    recording = LocalRecording(tap, folder / "r.mp4")
    await asyncio.to_thread(recording.start)
    rec_fps, rec_cores = await _measure(view, seconds)
    stats = await asyncio.to_thread(recording.stop)
    await session.disconnect()
    drift = await asyncio.to_thread(_drift, folder / "r.mp4", folder / "done.mp4", finish_file)
    return {"idle_fps": idle_fps, "rec_fps": rec_fps, "idle_cores": idle_cores,
            "rec_cores": rec_cores, "frames": stats.frames, "dropped": stats.dropped_frames,
            "elapsed": stats.elapsed, "drift_ms": drift * 1000,
            "sound": recording.sound_written, "silence": recording.silence / 48_000,
            "late": recording.replaced / 48_000}


def _drift(spooled: Path, target: Path, finish: Any) -> float:
    import av

    finish(spooled, target)
    ends = []
    with av.open(str(target)) as container:
        for stream in container.streams:
            last = 0.0
            for packet in container.demux(stream):
                if packet.pts is not None:
                    last = max(last, float((packet.pts + (packet.duration or 0))
                                           * packet.time_base))
            ends.append(last)
            container.seek(0)
    return abs(ends[0] - ends[1])


def _consumer_main(url: str, room: str, seconds: float, bots: int) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        result = loop.run_until_complete(_consume(url, room, seconds, bots))
    print(json.dumps(result), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bots", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--offset", type=int,
                        default=int(os.environ.get("RECCONSOLE_TEST_PORT_OFFSET", "500")))
    parser.add_argument("--consumer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--room", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consumer:
        _consumer_main(args.url, args.room, args.seconds, args.bots)
        return 0
    stack = DevStack(StackConfig.for_profile("test", offset=args.offset))
    was_running = stack.pid("livekit") is not None
    stack.start("livekit")
    url, room = stack.cfg.livekit_url, f"bench-{uuid.uuid4().hex[:6]}"
    bots = subprocess.Popen(
        [sys.executable, "-m", "recconsole_devtools.bot", "--room", room, "--count",
         str(args.bots), "--size", "640x360", "--fps", "30", "--url", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert bots.stderr is not None
        for line in bots.stderr:
            if "publishing" in line:
                break
        out = subprocess.run(
            [sys.executable, "-m", "bench.local_record", "--consumer", "--url", url, "--room",
             room, "--seconds", str(args.seconds), "--bots", str(args.bots)],
            capture_output=True, text=True, timeout=args.seconds * 4 + 120, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        bots.terminate()
        bots.wait(timeout=30)
        if not was_running:
            stack.stop("livekit")
    added = r["rec_cores"] - r["idle_cores"]
    written = r["frames"] / r["elapsed"]
    ratio = statistics.median(r["rec_fps"]) / max(statistics.median(r["idle_fps"]), 1e-9)
    print(f"tiles not recording: fps median {statistics.median(r['idle_fps']):5.1f}"
          f" (min {min(r['idle_fps']):.1f}), console CPU {r['idle_cores']:.2f} cores")
    print(f"tiles recording:     fps median {statistics.median(r['rec_fps']):5.1f}"
          f" (min {min(r['rec_fps']):.1f}), console CPU {r['rec_cores']:.2f} cores")
    print(f"recording: {written:.1f} fps written, {r['dropped']} dropped in"
          f" {r['elapsed']:.1f} s; A/V ends {r['drift_ms']:.0f} ms apart")
    print(f"sound: {r['sound']:.2f} s written in {r['elapsed']:.2f} s recorded,"
          f" {r['silence']:.2f} s of it silence in place of sound that did not come;"
          f" {r['late']:.2f} s of late sound left out (silence had taken its place)")
    print(f"added CPU ≤ 1 core: {'met' if added <= 1 else 'missed'} ({added:.2f});"
          f" ≥ 29 fps written: {'met' if written >= 29 else 'missed'};"
          f" drift ≤ 40 ms: {'met' if r['drift_ms'] <= 40 else 'missed'};"
          f" tile fps ratio ≥ 0.9: {'met' if ratio >= 0.9 else 'missed'} ({ratio:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
