"""Block every outbound connection except loopback, and record each attempt.

The test suite installs this in its own process and, through `sitecustomize`, in every Python
subprocess it starts (servers, Streamlit, `langgraph dev`). It is `models.netwatch`'s watcher (the
one `apps.doctor` records with) in blocking mode: an attempt raises `OutboundNetworkBlocked` where
it happens and is appended to a log file, so an attempt that the caller swallows (telemetry
usually does) still fails the test that caused it.
"""

from __future__ import annotations

import socket

from models.netwatch import NetworkWatcher, OutboundNetworkBlocked

__all__ = ["install", "OutboundNetworkBlocked"]


def install(log_path: str) -> None:
    if getattr(socket, "_hearth_guarded", False):
        return
    NetworkWatcher(block_log=log_path).install()
    socket._hearth_guarded = True
