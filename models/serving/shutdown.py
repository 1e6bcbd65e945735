"""Stopping the server without cutting answers off mid-byte.

    from models.serving.shutdown import serve
    serve(create_app("local", "local"), host="127.0.0.1", port=8008, grace_s=10)

On SIGTERM (or the first Ctrl-C) uvicorn stops accepting connections and waits for the ones in
flight. Streams still running `grace_s` seconds later (HEARTH_SERVE_SHUTDOWN_GRACE_S, default 10)
are ended by the server itself: their model is stopped and the client gets a last event in
OpenAI's error shape (`code: server_shutting_down`) instead of a connection reset; streams that
finish within the grace period end normally (`finish_reason`, `[DONE]`). uvicorn's own cut-off
(which would cancel the tasks and log an error) is set a few seconds later as a backstop.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 10.0


def grace_from_env() -> float:
    value = os.environ.get("HEARTH_SERVE_SHUTDOWN_GRACE_S", "")
    try:
        return float(value) if value.strip() else DEFAULT_GRACE_S
    except ValueError:
        raise ValueError(f"HEARTH_SERVE_SHUTDOWN_GRACE_S={value!r} is not a number of seconds; "
                         "set it to e.g. 10, or unset it.") from None


class OpenStreams:
    """The streams a server is sending right now, so a shutdown can end them properly."""

    def __init__(self) -> None:
        self._streams: set[Any] = set()
        self.closing = False

    def __len__(self) -> int:
        return len(self._streams)

    def add(self, stream: Any) -> None:
        self._streams.add(stream)

    def discard(self, stream: Any) -> None:
        self._streams.discard(stream)

    def end_all(self) -> int:
        """Stop every open stream's model and have its response end with the shutdown event
        (call on the event loop). Returns how many were open."""
        self.closing = True
        streams = list(self._streams)
        for stream in streams:
            stream.interrupt()
        return len(streams)


def serve(app: Any, host: str, port: int, *, grace_s: float | None = None, log_level: str = "warning") -> None:
    """Run `app` with uvicorn until SIGTERM/SIGINT, then shut down as the module docstring says.
    `app.state.gateway.streams` (an OpenStreams) is what gets ended after the grace period."""
    import uvicorn

    grace = grace_from_env() if grace_s is None else grace_s
    streams: OpenStreams | None = getattr(getattr(app.state, "gateway", None), "streams", None)

    class GracefulServer(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            first = not self.should_exit
            super().handle_exit(sig, frame)
            if streams is None or not first and not self.force_exit:
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            delay = 0.0 if self.force_exit else grace

            def end_streams() -> None:
                if len(streams):
                    log.warning("shutdown: ending %d open stream(s) after %.0f s", len(streams), delay)
                streams.end_all()

            loop.call_soon_threadsafe(loop.call_later, delay, end_streams)

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=grace + 5)
    try:
        GracefulServer(config).run()
    except KeyboardInterrupt:   # uvicorn re-raises the Ctrl-C it handled once it has shut down, as uvicorn.run expects
        pass
