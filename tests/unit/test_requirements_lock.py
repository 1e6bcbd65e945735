"""The lock pins every package to one version and one set of sha256 hashes (supply chain).

    .venv/bin/python -m pytest tests/unit/test_requirements_lock.py -q
"""
import re
from pathlib import Path

import pytest

LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"


def _entries(text: str) -> dict[str, list[str]]:
    """Group a pip-compile style lock into {"name==version": [hash, ...]}."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not line.startswith(" "):
            current = stripped.rstrip(" \\")
            entries[current] = []
        elif current and stripped.startswith("--hash="):
            entries[current].append(stripped.rstrip(" \\").removeprefix("--hash="))
    return entries


@pytest.mark.security
def test_every_locked_package_is_pinned_and_hashed():
    entries = _entries(LOCK.read_text())
    assert len(entries) > 100, "the lock looks truncated"
    unpinned = [name for name in entries if not re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[^ ;]+( ;.*)?", name)]
    assert not unpinned, f"not pinned with ==: {unpinned[:5]}; regenerate with ./dev lock"
    unhashed = [name for name, hashes in entries.items() if not hashes]
    assert not unhashed, f"no --hash for {unhashed[:5]}; regenerate with ./dev lock"
    for name, hashes in entries.items():
        for value in hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", value), f"{name}: {value} is not a sha256 digest"


def test_parser_reads_a_hashed_entry():
    text = "six==1.16.0 \\\n    --hash=sha256:" + "a" * 64 + "\n"
    assert _entries(text) == {"six==1.16.0": ["sha256:" + "a" * 64]}
