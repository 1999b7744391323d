"""A stand-in for CPython's fix of gh-109564 (asyncio.Server.close() racing an accept),
which Python 3.11 does not have; installed for the whole test run.

A connection accepted just before its server closes is handed to a task whose first
step, one loop iteration later, builds its transport; by then ``Server.close()`` has
set the server's sockets to None, ``Server._attach()`` fails an assertion, the task
swallows the error (it is reported in debug mode only) and the accepted socket is left
to the garbage collector, which warns about it in whichever test it happens to run.
LiveKit posting a webhook to a console's listener as the window shuts does exactly
this. Here such a connection is closed at once instead, as the fix proposed upstream
does; nothing else changes.
"""

from __future__ import annotations

import socket
from asyncio import selector_events
from typing import Any

_accept_connection2 = selector_events.BaseSelectorEventLoop._accept_connection2
_SERVER_ARG = 4  # protocol_factory, conn, extra, sslcontext, server, ...


async def _attach_or_close(self: selector_events.BaseSelectorEventLoop, *args: Any,
                           **kwargs: Any) -> None:
    server = kwargs.get("server", args[_SERVER_ARG] if len(args) > _SERVER_ARG else None)
    conn: socket.socket = args[1]
    if server is not None and server._sockets is None:  # closed since the accept
        conn.close()
        return
    await _accept_connection2(self, *args, **kwargs)


def install() -> None:
    selector_events.BaseSelectorEventLoop._accept_connection2 = _attach_or_close  # type: ignore[method-assign]
