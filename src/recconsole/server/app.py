"""The console's web server: one aiohttp application for webhooks and playback.

Built by :func:`init_app` and run inside the already running event loop with
``AppRunner`` + ``TCPSite`` (:func:`start_server`), in the window and headless.
"""

from __future__ import annotations

from aiohttp import web

from recconsole.server.playback import (
    ACCESS,
    CATALOG,
    SETTINGS,
    add_playback_routes,
)
from recconsole.server.playback_access import PlaybackAccess
from recconsole.server.webhooks import LISTENER, MAX_BODY, Listener, add_webhook_routes
from recconsole.settings import Settings
from recconsole.storage.catalog import RecordingsCatalog


def init_app(
    settings: Settings,
    catalog: RecordingsCatalog,
    listener: Listener | None = None,
    *,
    access: PlaybackAccess | None = None,
) -> web.Application:
    """The application with its routes: playback always, webhooks when a listener is given.

    ``access`` says who may use the playback routes (by default what PLAYBACK_AUTH
    asks of a listener on loopback).
    """
    app = web.Application(client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[CATALOG] = catalog
    app[ACCESS] = access or PlaybackAccess.for_listener(settings, "127.0.0.1")
    add_playback_routes(app)
    if listener is not None:
        app[LISTENER] = listener
        add_webhook_routes(app)
    return app


async def start_server(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve ``app`` on ``host:port`` from the running loop; ``await runner.cleanup()`` stops."""
    # After an early answer (408, 413) aiohttp reads on what the client still sends for
    # up to ``lingering_time`` (10 s by default): a slow sender would keep its socket.
    runner = web.AppRunner(app, access_log=None, lingering_time=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner
