"""apps.doctor against the real stack: bundled model and embeddings, local Qdrant, SQLite."""

from __future__ import annotations

import json
import re
import select
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from apps.doctor import format_result
from graphs.stack_checks import check_network, run_checks
from models.netwatch import NetworkWatcher

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHECK_NAMES = ["python environment", "offline switches", "bundled weights", "chat model", "embeddings",
               "vector store", "checkpointer", "network"]

# Holds the local Qdrant folder's lock, like a running chat app would.
LOCKER = """
import sys, time
import qdrant_client
client = qdrant_client.QdrantClient(path=sys.argv[1])
print("opened", flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def locations(tmp_path_factory):
    base = tmp_path_factory.mktemp("doctor")
    return {"index_dir": str(base / "qdrant"), "checkpoints": f"sqlite:///{base / 'checkpoints.sqlite'}"}


def by_name(results):
    return {r.name: r for r in results}


def report(results) -> str:
    return "\n".join(format_result(r) for r in results)


def test_every_check_passes_with_the_defaults(locations):
    results = run_checks(**locations)
    assert [r.name for r in results] == CHECK_NAMES
    assert all(r.ok for r in results), report(results)
    checks = by_name(results)

    chat = checks["chat model"].detail
    rate = float(re.search(r"decode ([\d.]+) tokens/s", chat).group(1))
    assert rate > 0, chat
    assert re.search(r"\d+ thread", chat), chat
    assert "tool call get_weather(" in chat, chat

    assert "dimension 384" in checks["embeddings"].detail
    assert re.search(r"\d+ sentences/s", checks["embeddings"].detail)
    assert str(Path(locations["index_dir"]).resolve()) in checks["vector store"].detail
    assert "handbook" in checks["vector store"].detail
    assert "checkpoints.sqlite" in checks["checkpointer"].detail
    assert "nothing beyond loopback" in checks["network"].detail
    assert all(r.seconds >= 0 for r in results)


def test_a_missing_gguf_fails_only_the_model_check(locations):
    results = run_checks(model="gguf:/nonexistent.gguf", **locations)
    checks = by_name(results)
    chat = checks["chat model"]
    assert not chat.ok
    assert "/nonexistent.gguf" in chat.fix, chat
    others = [r for r in results if r.name != "chat model"]
    assert all(r.ok for r in others), report(results)


def test_a_locked_index_folder_is_reported_with_its_fix(tmp_path, locations):
    folder = tmp_path / "locked-index"
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(folder)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        ready, _, _ = select.select([locker.stdout], [], [], 120)
        assert ready and locker.stdout.readline().strip() == "opened", "the locking process did not start"
        results = run_checks(index_dir=str(folder), checkpoints=locations["checkpoints"])
    finally:
        locker.kill()
        locker.wait()
    store = by_name(results)["vector store"]
    assert not store.ok
    assert "locked" in store.detail
    assert "held open by another process" in store.fix and "--index-dir" in store.fix, store
    assert all(r.ok for r in results if r.name != "vector store"), report(results)


def test_cli_json(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "apps.doctor", "--json", "--index-dir", str(tmp_path / "qdrant"),
         "--checkpoints", f"sqlite:///{tmp_path / 'cp.sqlite'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    data = json.loads(proc.stdout)
    assert [d["name"] for d in data] == CHECK_NAMES
    for item in data:
        assert set(item) == {"name", "ok", "detail", "fix", "seconds"}
    assert all(d["ok"] for d in data), proc.stdout + proc.stderr[-3000:]
    assert proc.returncode == 0


def test_cli_exit_code_and_table_on_failure(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "apps.doctor", "--model", "gguf:/nonexistent.gguf",
         "--index-dir", str(tmp_path / "qdrant"), "--checkpoints", f"sqlite:///{tmp_path / 'cp.sqlite'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]
    assert "chat model" in proc.stdout and "fix:" in proc.stdout and "/nonexistent.gguf" in proc.stdout
    assert "7/8 checks passed" in proc.stdout


def test_the_auditor_reports_destinations_beyond_loopback():
    auditor = NetworkWatcher()  # not installed: the events are handed to it (the test guard would block real ones)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        auditor.start("embeddings")
        auditor.observe("socket.getaddrinfo", ("huggingface.co", 443, 0, 0, 0))
        auditor.observe("socket.connect", (sock, ("192.0.2.7", 443)))
        auditor.observe("socket.connect", (sock, ("127.0.0.1", 6333)))
        auditor.observe("socket.getaddrinfo", ("localhost", 6333, 0, 0, 0))
        auditor.stop()
        auditor.observe("socket.connect", (sock, ("192.0.2.8", 443)))  # after stop: not recorded
    result = check_network(auditor, set())
    assert not result.ok
    assert "huggingface.co" in result.detail and "192.0.2.7:443" in result.detail
    assert "192.0.2.8" not in result.detail
    assert "during embeddings" in result.detail
    assert "HF_HUB_OFFLINE=1" in result.fix
    assert auditor.loopback_events == 2

    # the same traffic to servers the user named (--model ...@http://gpu-box:8000/v1) is expected
    expected = check_network(auditor, {"huggingface.co"})
    assert expected.ok, expected
    assert "servers you named" in expected.detail
