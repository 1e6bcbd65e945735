"""One local index, several processes (issue: the chat app and `langgraph dev` could not run at once):
two real processes ingest into the same Qdrant folder while a third keeps answering from it, with
the real MiniLM embeddings. Nothing may be lost, no search may fail, and the reader must see the
new documents without restarting.

    python -m pytest tests/integration/test_shared_index.py -q -s      # -s prints the measured figures
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent("""
    import sys, time
    from rag.knowledge_base import KnowledgeBase
    kb = KnowledgeBase(collection="shared", location=sys.argv[1])
    kb.embeddings.embed_query("warm up")
    print("ready", flush=True)
    sys.stdin.readline()  # the test says go
    started = time.perf_counter()
    report = kb.ingest([sys.argv[2]], write_batch_chunks=3)
    print("done", len(report.added), round(time.perf_counter() - started, 2), flush=True)
""")

READER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from rag.knowledge_base import KnowledgeBase
    kb = KnowledgeBase(collection="shared", location=sys.argv[1])
    stop = Path(sys.argv[2])
    kb.search("warm up", k=1)
    print("ready", flush=True)
    counts, latencies, answers, errors = [], [], [], []
    while True:
        last = stop.exists()
        try:
            started = time.perf_counter()
            hits = kb.search("What is the harbour pass code?", k=1)
            latencies.append(time.perf_counter() - started)
            answers.append(bool(hits) and "HARBOUR-4471" in hits[0].text)
            counts.append(kb.count())
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        if last:
            break
        time.sleep(0.05)
    print(json.dumps({"counts": counts, "latencies": latencies, "answers": answers, "errors": errors,
                      "opened": kb.store.folder.opened}), flush=True)
""")


def write_docs(folder: Path, prefix: str, n: int) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"{prefix}-{i:02d}.md").write_text(
            f"# {prefix} note {i}\n\nThe {prefix} note number {i} records the code word {prefix.upper()}-{i * 37 % 1000}.\n")


def start(script: str, *args: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline().strip()
    assert line == "ready", process.stderr.read()
    return process


def test_two_processes_ingest_while_a_third_answers(tmp_path):
    from rag.knowledge_base import KnowledgeBase

    index = tmp_path / "qdrant"
    base = tmp_path / "base"
    base.mkdir()
    (base / "harbour.md").write_text("# Harbour\n\nThe harbour pass code is HARBOUR-4471; show it at the gate.\n")
    first = KnowledgeBase(collection="shared", location=str(index))
    first.ingest([base])
    assert first.count() == 1
    del first  # this test process holds nothing open: the index is free for the others

    write_docs(tmp_path / "alpha", "alpha", 24)
    write_docs(tmp_path / "beta", "beta", 16)
    stop = tmp_path / "stop"
    reader = start(READER, str(index), str(stop))
    writers = [start(WRITER, str(index), str(tmp_path / name)) for name in ("alpha", "beta")]
    started = time.perf_counter()
    for writer in writers:  # both ingest at the same time
        writer.stdin.write("go\n")
        writer.stdin.flush()
    results = [writer.communicate(timeout=600) for writer in writers]
    ingest_seconds = time.perf_counter() - started
    stop.touch()
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    for writer, (wout, werr) in zip(writers, results):
        assert writer.returncode == 0, werr
    assert [line.split()[:2] for line, _ in results] == [["done", "24"], ["done", "16"]]
    seen = json.loads(out.strip().splitlines()[-1])

    assert seen["errors"] == []
    assert all(seen["answers"]) and len(seen["answers"]) >= 5  # answered throughout the ingest
    assert seen["counts"] == sorted(seen["counts"]) and seen["counts"][-1] == 41  # saw the new files, without a restart
    after = KnowledgeBase(collection="shared", location=str(index))
    sources = {Path(c.source).name for c in after.corpus_chunks()}
    assert len(sources) == 41 and {f"alpha-{i:02d}.md" for i in range(24)} <= sources  # nothing lost
    assert "BETA-" + str(15 * 37 % 1000) in after.search("beta note number 15 code word", k=1)[0].text
    latencies = sorted(seen["latencies"])
    print(f"\ningest of 24 + 16 files in two processes: {ingest_seconds:.1f} s; reader: {len(latencies)} searches, "
          f"p50 {1000 * latencies[len(latencies) // 2]:.1f} ms, max {1000 * latencies[-1]:.0f} ms, "
          f"folder opened {seen['opened']} times (snapshot reloads)")
