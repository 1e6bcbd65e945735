"""Test-wide setup: offline runtime, outbound network blocked (loopback allowed) in this process
and in every Python subprocess, and a private data home per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NETGUARD = ROOT / "tests" / "netguard"
sys.path.insert(0, str(NETGUARD))

import guard  # noqa: E402

_LOG = Path(os.environ.setdefault("HEARTH_NETGUARD_LOG", str(ROOT / ".hearth" / "netguard.log")))
_LOG.parent.mkdir(parents=True, exist_ok=True)
_LOG.write_text("")
os.environ["PYTHONPATH"] = os.pathsep.join([str(NETGUARD), str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
guard.install(str(_LOG))

import models  # noqa: E402,F401  (sets the offline switches before anything else loads)


@pytest.fixture(scope="session", autouse=True)
def private_data_home(tmp_path_factory):
    """Indexes and checkpoints of the test session live in a temporary folder."""
    home = tmp_path_factory.mktemp("hearth-home")
    old = os.environ.get("HEARTH_HOME")
    os.environ["HEARTH_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("HEARTH_HOME", None)
    else:
        os.environ["HEARTH_HOME"] = old


@pytest.fixture(autouse=True)
def no_outbound_network():
    """Fail the test during which any process tried to reach beyond loopback."""
    start = _LOG.stat().st_size
    yield
    with open(_LOG, encoding="utf-8") as fh:
        fh.seek(start)
        attempts = fh.read()
    if attempts.strip():
        pytest.fail("Outbound network attempted (only loopback is allowed):\n" + attempts[:4000])
