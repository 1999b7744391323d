"""What the window and each joined room work with, built once by the application."""

from __future__ import annotations

from dataclasses import dataclass

from recconsole.core.events import EventBus
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recorder import Recorder
from recconsole.realtime.local_recorder import LocalRecorder
from recconsole.server.shared_state import SharedState
from recconsole.settings import Settings
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.recordings import RecordingsService


@dataclass
class ConsoleServices:
    """What the window works with, built once by the application."""

    settings: Settings
    server: LiveKitServer
    recorder: Recorder
    catalog: RecordingsCatalog
    events: EventBus
    recordings: RecordingsService
    shared: SharedState
    local: LocalRecorder  # recordings made on this computer
