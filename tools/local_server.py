"""Start one of the project's own HTTP services (an ASGI app) on loopback inside this process.

    from tools.local_server import serve_in_thread
    url = serve_in_thread(create_app(), port=0)      # "http://127.0.0.1:<free port>"

Used to bring up the fixture services the tools talk to (weather, the home hub simulator)
when the user has not pointed the tools at a running one.
"""

from __future__ import annotations

import socket
import threading
import time


class ServerStartError(RuntimeError):
    pass


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_in_thread(app, port: int = 0, name: str = "local-service", timeout_s: float = 15.0) -> str:
    """Serve `app` on 127.0.0.1 from a daemon thread; returns its base URL once it accepts connections."""
    import uvicorn

    port = port or free_loopback_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ServerStartError(f"{name} could not start on 127.0.0.1:{port} (port in use?). Pick another port.")
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}"
