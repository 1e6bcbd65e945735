"""Ingestion and retrieval with the real bundled MiniLM and real Qdrant local mode."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rag.knowledge_base import SAMPLE_HANDBOOK, KnowledgeBase
from rag.store import QdrantStore, VectorStoreError, VectorStoreLockedError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def handbook_kb(tmp_path_factory):
    kb = KnowledgeBase(collection="handbook", location=str(tmp_path_factory.mktemp("qdrant")))
    report = kb.ingest([SAMPLE_HANDBOOK])
    assert len(report.added) == 12 and not report.errors
    return kb


def test_retrieval_finds_the_leave_policy(handbook_kb):
    hits = handbook_kb.search("How many days of annual leave do I get?", k=4)
    assert Path(hits[0].source).name == "annual-leave.md"
    assert any("25 days" in h.text for h in hits)
    assert hits[0].score >= hits[-1].score


def test_reingesting_unchanged_files_changes_nothing(handbook_kb):
    before = handbook_kb.count()
    report = handbook_kb.ingest([SAMPLE_HANDBOOK])
    assert len(report.unchanged) == 12 and report.chunks == 0
    assert handbook_kb.count() == before


def test_edited_file_replaces_its_chunks_and_bad_files_lose_nothing(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    doc = folder / "policy.md"
    doc.write_text("# Pets\n\nDogs are welcome in the office on Fridays.\n")
    kb = KnowledgeBase(collection="edits", location=str(tmp_path / "qdrant"))
    kb.ingest([folder])
    doc.write_text("# Pets\n\nCats are welcome in the office on Tuesdays.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (folder / "empty.txt").write_text("")
    report = kb.ingest([folder])
    assert [Path(s).name for s in report.updated] == ["policy.md"]
    assert sorted(Path(e.source).name for e in report.errors) == ["broken.pdf", "empty.txt"]
    texts = [h.text for h in kb.search("pets in the office", k=5)]
    assert any("Tuesdays" in t for t in texts) and not any("Fridays" in t for t in texts)
    assert kb.count() == 1


def test_index_locked_by_another_process_names_the_fix(tmp_path):
    folder = tmp_path / "locked"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from qdrant_client import QdrantClient
        client = QdrantClient(path={str(folder)!r})
        print("open", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(VectorStoreLockedError, match="another process"):
            QdrantStore.open(str(folder), "x", dimension=384)
    finally:
        holder.kill()
        holder.wait()


def test_embedding_dimension_mismatch_is_explained(handbook_kb):
    with pytest.raises(VectorStoreError, match="384-dimensional"):
        QdrantStore.open(handbook_kb.location, "handbook", dimension=768)
