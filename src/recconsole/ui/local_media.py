"""The moderator's own camera and microphone: captured with Qt Multimedia, published.

Either capture can come from a device (QCamera / QAudioSource on the defaults) or,
where a machine has none, from any QVideoSink / QIODevice given instead (tests use
synthetic ones). Frames are published as they come; none wait for an earlier one.
"""

from __future__ import annotations

import time

from livekit import rtc
from PySide6.QtCore import QIODevice, QObject, Signal
from PySide6.QtGui import QImage
from PySide6.QtMultimedia import (
    QAudioDevice,
    QAudioFormat,
    QAudioSource,
    QCamera,
    QCameraDevice,
    QMediaCaptureSession,
    QMediaDevices,
    QVideoFrame,
    QVideoSink,
)

from recconsole.realtime.audio import CHANNELS, SAMPLE_RATE
from recconsole.realtime.local_tracks import LocalAudio, LocalVideo
from recconsole.realtime.session import RoomSession
from recconsole.ui.tasks import AsyncRunner

MAX_FPS = 30.0


def rtc_frame(frame: QVideoFrame) -> rtc.VideoFrame | None:
    """A captured Qt frame as an RGBA SDK frame (the SDK converts to I420 natively)."""
    image = frame.toImage()
    if image.isNull():
        return None
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = rgba.width(), rgba.height()
    data = bytes(rgba.constBits())[: width * 4 * height]  # 32-bit rows are never padded
    return rtc.VideoFrame(width, height, rtc.VideoBufferType.RGBA, data)


class LocalMedia(QObject):
    """Camera and microphone of this console, on or off, published into the room.

    Signals:
        cameraChanged(bool), microphoneChanged(bool): published or stopped.
        failed(str): a readable reason a capture could not start.
    """

    cameraChanged = Signal(bool)
    microphoneChanged = Signal(bool)
    failed = Signal(str)

    def __init__(self, runner: AsyncRunner, parent: QObject | None = None,
                 camera: QCameraDevice | None = None,
                 microphone: QAudioDevice | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.camera_device = camera if camera is not None else QMediaDevices.defaultVideoInput()
        self.microphone_device = (microphone if microphone is not None
                                  else QMediaDevices.defaultAudioInput())
        self.preview: QVideoSink | None = None  # where captured frames are also shown
        self.video: LocalVideo | None = None
        self.audio: LocalAudio | None = None
        self._session: RoomSession | None = None
        self._camera: QCamera | None = None
        self._capture: QMediaCaptureSession | None = None
        self._frames: QVideoSink | None = None
        self._mic: QAudioSource | None = None
        self._mic_io: QIODevice | None = None
        self._last_frame_at = 0.0
        self._publishing = False  # the camera track is being published

    @property
    def camera_available(self) -> bool:
        return not self.camera_device.isNull()

    @property
    def microphone_available(self) -> bool:
        return not self.microphone_device.isNull()

    # --- camera -------------------------------------------------------------------------

    def start_camera(self, session: RoomSession, frames: QVideoSink | None = None) -> None:
        """Capture from the default camera (or from ``frames``) and publish it."""
        if self._frames is not None:
            return
        if frames is None:
            if not self.camera_available:
                self.failed.emit("No camera was found on this computer.")
                return
            self._camera = QCamera(self.camera_device, self)
            self._camera.errorOccurred.connect(
                lambda _error, text: self._camera_failed(f"The camera stopped: {text}"))
            self._capture = QMediaCaptureSession(self)
            self._capture.setCamera(self._camera)
            frames = QVideoSink(self)
            self._capture.setVideoSink(frames)
            self._camera.start()
        self._session, self._frames = session, frames
        self._publishing = False
        frames.videoFrameChanged.connect(self._on_camera_frame)

    def _camera_published(self, video: LocalVideo) -> None:
        if self._frames is None:  # stopped while publishing
            self.runner.run(self._unpublish(video))
            return
        self.video = video
        self.cameraChanged.emit(True)

    def _camera_failed(self, message: str) -> None:
        self.stop_camera()
        self.failed.emit(message)

    def _on_camera_frame(self, frame: QVideoFrame) -> None:
        if self.preview is not None:
            self.preview.setVideoFrame(frame)
        if self.video is None:
            if not self._publishing and self._session is not None:
                # The track is made at the size the camera really delivers.
                self._publishing = True
                size = frame.size()
                self.runner.run(self._session.publish_camera(size.width(), size.height()),
                                on_success=self._camera_published,
                                on_failure=self._camera_failed)
            return
        now = time.monotonic()
        if now - self._last_frame_at < 1 / MAX_FPS:
            return
        converted = rtc_frame(frame)
        if converted is not None:
            self._last_frame_at = now
            self.video.push(converted)

    def stop_camera(self) -> None:
        video = self._detach_camera()
        if video is not None:
            self.runner.run(self._unpublish(video))

    def _detach_camera(self) -> LocalVideo | None:
        """Stop capturing; the published track (if any) is returned to unpublish."""
        if self._frames is not None:
            self._frames.videoFrameChanged.disconnect(self._on_camera_frame)
        if self._camera is not None:
            self._camera.stop()
            self._camera.deleteLater()
        if self._capture is not None:
            self._capture.deleteLater()
        self._camera = self._capture = self._frames = None
        self._publishing = False
        video, self.video = self.video, None
        if video is not None:
            self.cameraChanged.emit(False)
        return video

    # --- microphone ---------------------------------------------------------------------

    def start_microphone(self, session: RoomSession) -> None:
        """Capture from the default microphone and publish it."""
        if self._mic is not None:
            return
        if not self.microphone_available:
            self.failed.emit("No microphone was found on this computer.")
            return
        fmt = QAudioFormat()
        fmt.setSampleRate(SAMPLE_RATE)
        fmt.setChannelCount(CHANNELS)
        fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        if not self.microphone_device.isFormatSupported(fmt):
            self.failed.emit(f"The microphone {self.microphone_device.description()} cannot"
                             " record 48 kHz mono sound.")
            return
        self._session = session
        self._mic = QAudioSource(self.microphone_device, fmt, self)
        self.runner.run(session.publish_microphone(), on_success=self._microphone_published,
                        on_failure=self._microphone_failed)

    def _microphone_published(self, audio: LocalAudio) -> None:
        if self._mic is None:  # stopped while publishing
            self.runner.run(self._unpublish(audio))
            return
        self.audio = audio
        self._mic_io = self._mic.start()
        self._mic_io.readyRead.connect(self._on_sound)
        self.microphoneChanged.emit(True)

    def _microphone_failed(self, message: str) -> None:
        self.stop_microphone()
        self.failed.emit(message)

    def _on_sound(self) -> None:
        if self._mic_io is not None and self.audio is not None:
            self.audio.push(bytes(self._mic_io.readAll().data()))

    def stop_microphone(self) -> None:
        audio = self._detach_microphone()
        if audio is not None:
            self.runner.run(self._unpublish(audio))

    def _detach_microphone(self) -> LocalAudio | None:
        mic, self._mic, self._mic_io = self._mic, None, None
        if mic is not None:
            mic.stop()
            mic.deleteLater()
        audio, self.audio = self.audio, None
        if audio is not None:
            self.microphoneChanged.emit(False)
        return audio

    # --- both ---------------------------------------------------------------------------

    async def _unpublish(self, local: LocalVideo | LocalAudio) -> None:
        if self._session is not None:
            await self._session.unpublish(local)
        else:
            await local.aclose()

    async def aclose(self) -> None:
        """Stop both captures and unpublish them (before leaving the room)."""
        for local in (self._detach_camera(), self._detach_microphone()):
            if local is not None:
                await self._unpublish(local)
        self._session = None
