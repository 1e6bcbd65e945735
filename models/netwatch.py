"""One network watcher: every socket destination beyond loopback, seen through Python's audit hooks.

    watcher = NetworkWatcher()
    watcher.install()                       # once per process: audit hooks cannot be removed
    watcher.start("embeddings")             # record what happens from now on, under this label
    ...                                     # load a model, open an index
    watcher.stop(); watcher.outbound        # [Contact(during='embeddings', event='connect', ...)]

    NetworkWatcher(block_log="net.log").install()   # refuse every attempt, and log it (tests/netguard)

`apps.doctor` records (its network check lists what was contacted and the switch that stops
it); the test suite blocks, in its own process and, through `tests/netguard/sitecustomize.py`,
in every Python subprocess. The watcher sees everything that goes through Python's socket module
(requests, httpx, urllib, asyncio, qdrant-client, the Hugging Face hub); connections made inside
C or Rust code (libpq for PostgreSQL, for one) and by non-Python subprocesses are invisible to it.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import traceback
from typing import NamedTuple

from models.runtime import is_loopback

WATCHED_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
                            "socket.gethostbyname", "socket.gethostbyaddr"})
# Blocking refuses only connecting, sending and resolving: looking up this machine's own name
# (gethostbyname(gethostname())) is common in libraries and reaches nothing.
BLOCKED_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo"})


class OutboundNetworkBlocked(ConnectionRefusedError):
    """Raised where a blocked process tried to reach beyond loopback."""


class Contact(NamedTuple):
    """One socket event beyond loopback: what was running, the event, the host, `host:port`, and
    the name this thread resolved last (a connection to an address counts as that name's)."""

    during: str
    event: str
    host: str
    destination: str
    via: str


def destination_of(event: str, args: tuple) -> tuple[str, str] | None:
    """(host, shown) for a socket audit event; None for unix sockets and sends on a connected socket.

    >>> destination_of("socket.getaddrinfo", ("huggingface.co", 443, 0, 0, 0))
    ('huggingface.co', 'huggingface.co')
    """
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args[0], args[1] if len(args) > 1 else None
        if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6) or not address:
            return None
        if not isinstance(address, tuple):
            return None
        host = address[0]
        if len(address) < 2:
            return host, str(host)
        return host, (f"[{host}]:{address[1]}" if ":" in str(host) else f"{host}:{address[1]}")
    host = args[0] if args else None
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode(errors="replace")
    return host, str(host)


class NetworkWatcher:
    """Records (between `start` and `stop`) or blocks (with `block_log`) socket traffic beyond loopback."""

    def __init__(self, block_log: str | None = None) -> None:
        self.block_log = block_log
        self.active = False
        self.current = ""
        self.loopback_events = 0
        self.outbound: list[Contact] = []
        self._resolved = threading.local()
        self._installed = False
        self._lock = threading.Lock()

    def install(self) -> NetworkWatcher:
        with self._lock:
            if not self._installed:
                sys.addaudithook(self.observe)
                self._installed = True
        return self

    def start(self, during: str = "") -> None:
        self.loopback_events = 0
        self.outbound = []
        self.current = during
        self.active = True

    def stop(self) -> None:
        self.active = False
        self.current = ""

    def observe(self, event: str, args: tuple) -> None:
        """The audit hook (also callable by hand): called for every audit event in the process, so it
        stays cheap and raises only to block."""
        if event not in WATCHED_EVENTS or not (self.active or self.block_log):
            return
        try:
            destination = destination_of(event, args)
        except Exception:  # noqa: BLE001 - a hook that raises breaks the audited call
            return
        if destination is None:
            return
        host, shown = destination
        if event.startswith("socket.get"):
            self._resolved.name = str(host).lower()
        if is_loopback(host):
            if self.active:
                self.loopback_events += 1
            return
        if self.active:
            self.outbound.append(Contact(self.current, event.removeprefix("socket."), str(host).lower(), shown,
                                         getattr(self._resolved, "name", "")))
        if self.block_log and event in BLOCKED_EVENTS:
            self._refuse(event.removeprefix("socket."), shown)

    def _refuse(self, what: str, target: str) -> None:
        stack = "".join(traceback.format_stack(limit=10)[:-3])
        with open(self.block_log, "a", encoding="utf-8") as fh:
            fh.write(f"pid {os.getpid()} {what} {target!r}\n{stack}\n---\n")
        raise OutboundNetworkBlocked(f"outbound network blocked: {what} {target!r}")
