"""Cold start to window shown, and filtering a 100,000-row recordings table.

- start: ``recconsole --self-test`` (offscreen) is launched N times; the time from
  launch to its "window shown" line (its first screen is on screen, saying what loads)
  is measured, against a bare PySide6 program that shows an empty window, in the same
  run (one of each in turn). Target ≤ 1.5 s, and ≤ 3.5x the bare window. The time to
  its "console shown" line (the main window has taken the first screen's place, every
  service built) is printed too, with its ratio: no target.
- filter: 100,000 recordings in the table model; one room-name keystroke at a time.
  Target ≤ 50 ms per keystroke.

    python -m bench.startup [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

RATIO_TARGET = 3.5  # issue 19: cold start ≤ 3.5x a bare PySide6 window, same run
BARE = """
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([])
w = QWidget(); w.show()
while not w.windowHandle().isExposed():
    app.processEvents()
print("window shown", flush=True)
"""


def _launch(command: list[str], *marks: str) -> list[float]:
    """Seconds from launch to each of ``marks``, lines the program prints in that order."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    assert proc.stdout is not None
    times: list[float] = []
    for line in proc.stdout:
        if line.startswith(marks[len(times)]):
            times.append(time.perf_counter() - started)
            if len(times) == len(marks):
                proc.stdout.read()
                if proc.wait(timeout=60) != 0:
                    raise RuntimeError(f"{command} exited with {proc.returncode}")
                return times
    raise RuntimeError(f"{command} never printed {marks[len(times)]!r} (exit {proc.wait()})")


def _filter_times() -> list[float]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication, QTableView

    from recconsole.core.recording_info import RecordingInfo
    from recconsole.ui.recordings_model import RecordingsModel

    app = QApplication.instance() or QApplication([])
    rooms = [f"weekly-sync-{i:03d}" for i in range(300)]
    model = RecordingsModel()
    view = QTableView()
    view.setModel(model)
    view.resize(900, 600)
    view.show()
    rows = [RecordingInfo(f"EG_{i}", f"{rooms[i % 300]}-RM_x-{i}.mp4", rooms[i % 300], "RM_x",
                          1_700_000_000_000 + i * 1000, 60.0, 1 << 20) for i in range(100_000)]
    for start in range(0, len(rows), 1000):
        model.merge(rows[start:start + 1000])
    times = []
    for text in ("w", "we", "wee", "week", "weekly-sync-0", "weekly-sync-01", "weekly-sync-012",
                 "weekly-sync-01", "weekly-sync-0", "", "x"):
        began = time.perf_counter()
        model.set_room_filter(text)
        app.processEvents()  # the view repaints what is visible
        times.append(time.perf_counter() - began)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    console: list[float] = []
    ready: list[float] = []
    bare: list[float] = []
    for _ in range(args.runs):  # side by side, so both meet the same load
        shown, whole = _launch([sys.executable, "-m", "recconsole", "--self-test"],
                               "window shown", "console shown")
        console.append(shown)
        ready.append(whole)
        bare.append(_launch([sys.executable, "-c", BARE], "window shown")[0])
    median = statistics.median(console)
    print(f"cold start to window shown     median {median:.2f} s, worst {max(console):.2f} s"
          f"  (runs {', '.join(f'{t:.2f}' for t in console)})   target ≤ 1.5 s: "
          f"{'met' if median <= 1.5 else 'missed'}")
    print(f"baseline: bare PySide6 window  median {statistics.median(bare):.2f} s, worst "
          f"{max(bare):.2f} s")
    ratios = [c / b for c, b in zip(console, bare, strict=True)]
    ratio = median / statistics.median(bare)
    print(f"console / baseline             {ratio:.1f}x (worst run {max(ratios):.1f}x)"
          f"   target ≤ {RATIO_TARGET:g}x: {'met' if ratio <= RATIO_TARGET else 'missed'}")
    whole = [r / b for r, b in zip(ready, bare, strict=True)]
    print(f"cold start to console shown    median {statistics.median(ready):.2f} s, worst "
          f"{max(ready):.2f} s, {statistics.median(ready) / statistics.median(bare):.1f}x the"
          f" baseline (worst run {max(whole):.1f}x)   (every service built; no target)")
    times = _filter_times()
    worst = max(times) * 1000
    print(f"filter keystroke, 100,000 rows median {statistics.median(times) * 1000:.1f} ms, "
          f"worst {worst:.1f} ms   target ≤ 50 ms: {'met' if worst <= 50 else 'missed'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
