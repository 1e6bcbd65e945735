"""Start the project's own servers as subprocesses on free loopback ports, for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(command: list[str], ready_url: str, *, env: dict | None = None, timeout: float = 120.0, log: Path,
            headers: dict | None = None):
    """Run `command` until the block ends; wait until `ready_url` answers 200 first (sent with `headers`)."""
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{command[:3]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
                try:
                    if httpx.get(ready_url, timeout=2, headers=headers).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{ready_url} not ready after {timeout} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
            yield proc
        finally:
            if proc.poll() is None:  # the block may have stopped it itself (a shutdown test)
                os.killpg(proc.pid, 15)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]
