"""Block every outbound connection except loopback, and record each attempt.

The test suite installs this in its own process and, through `sitecustomize`, in every Python
subprocess it starts (servers, Streamlit, `langgraph dev`). A blocked attempt raises
`OutboundNetworkBlocked` where it happens and is appended to a log file, so an attempt that
the caller swallows (telemetry usually does) still fails the test that caused it.
"""

from __future__ import annotations

import os
import socket
import traceback

from models.runtime import is_loopback


class OutboundNetworkBlocked(ConnectionRefusedError):
    pass


def install(log_path: str) -> None:
    if getattr(socket, "_hearth_guarded", False):
        return

    def record(what: str, target) -> None:
        stack = "".join(traceback.format_stack(limit=8)[:-2])
        with open(log_path, "a", encoding="utf-8") as fh:
            fh.write(f"pid {os.getpid()} {what} {target!r}\n{stack}\n---\n")
        raise OutboundNetworkBlocked(f"outbound network blocked in tests: {what} {target!r}")

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo, real_sendto = socket.getaddrinfo, socket.socket.sendto

    def _check(sock, address, what):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address[0]):
            record(what, address)

    def connect(self, address):
        _check(self, address, "connect")
        return real_connect(self, address)

    def connect_ex(self, address):
        _check(self, address, "connect")
        return real_connect_ex(self, address)

    def sendto(self, data, *args):
        address = args[-1]
        _check(self, address, "sendto")
        return real_sendto(self, data, *args)

    def getaddrinfo(host, *args, **kwargs):
        if not is_loopback(host):
            record("resolve", host)
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.socket.sendto = sendto
    socket.getaddrinfo = getaddrinfo
    socket._hearth_guarded = True
