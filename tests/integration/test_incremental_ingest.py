"""Incremental ingestion with the real bundled MiniLM and real Qdrant local mode: unchanged files
are not embedded again, edited files replace their chunks, deleted files leave the index, bad
files are reported while the good ones go in, and progress is reported file by file."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.knowledge_base import KnowledgeBase

pytestmark = pytest.mark.slow


class CountingEmbeddings:
    """The real embedding model, counting what it is asked to embed."""

    def __init__(self, real):
        self.real = real
        self.document_calls = 0
        self.texts = 0

    def embed_documents(self, texts):
        self.document_calls += 1
        self.texts += len(texts)
        return self.real.embed_documents(texts)

    def embed_query(self, text):
        return self.real.embed_query(text)

    @property
    def dimension(self):
        return self.real.dimension


def counting_kb(tmp_path: Path, collection: str) -> tuple[KnowledgeBase, CountingEmbeddings]:
    kb = KnowledgeBase(collection=collection, location=str(tmp_path / "qdrant"))
    counter = CountingEmbeddings(kb.embeddings)
    kb.__dict__["embeddings"] = counter  # replaces the cached property's value
    return kb, counter


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "pets.md").write_text("# Pets\n\nDogs are welcome in the office on Fridays.\n")
    (folder / "parking.md").write_text("# Parking\n\nThe garage opens at 07:00; bikes go in the courtyard.\n")
    (folder / "lunch.txt").write_text("Lunch is served from 12:00 to 13:30 in the canteen.\n")
    return folder


def sources(kb: KnowledgeBase) -> set[str]:
    return {Path(s).name for s in kb.store.source_hashes()}


def test_reingest_embeds_nothing_and_edits_replace_their_chunks(tmp_path, docs):
    kb, counter = counting_kb(tmp_path, "incremental")
    first = kb.ingest([docs])
    assert len(first.added) == 3 and counter.document_calls == 3 and kb.count() == 3

    again = kb.ingest([docs])
    assert len(again.unchanged) == 3 and again.chunks == 0
    assert counter.document_calls == 3  # no file was embedded a second time
    assert kb.count() == 3

    (docs / "pets.md").write_text("# Pets\n\nCats are welcome in the office on Tuesdays.\n")
    edited = kb.ingest([docs])
    assert [Path(s).name for s in edited.updated] == ["pets.md"] and len(edited.unchanged) == 2
    assert counter.document_calls == 4 and counter.texts == 4  # only the edited file's one chunk
    texts = [h.text for h in kb.search("which pets are allowed in the office", k=3)]
    assert any("Tuesdays" in t for t in texts) and not any("Fridays" in t for t in texts)
    assert kb.count() == 3


def test_deleted_file_leaves_the_index_on_reingest(tmp_path, docs):
    kb, _ = counting_kb(tmp_path, "deletions")
    kb.ingest([docs])
    (docs / "parking.md").unlink()
    report = kb.ingest([docs])
    assert [Path(r).name for r in report.removed] == ["parking.md"] and "1 removed" in report.summary()
    assert sources(kb) == {"pets.md", "lunch.txt"}
    assert not any("garage" in h.text for h in kb.search("when does the garage open", k=3))


def test_bad_files_are_reported_and_good_ones_still_go_in(tmp_path, docs):
    kb, counter = counting_kb(tmp_path, "bad-input")
    kb.ingest([docs])
    before = kb.count()
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n%%garbage")
    (docs / "empty.md").write_text("   \n")
    (docs / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    with open(docs / "huge.txt", "wb") as f:
        f.truncate(21 * 1024 * 1024)  # sparse: over the 20 MiB limit without writing it
    (docs / "menu.txt").write_bytes("Caf\xe9 menu: cr\xe8me br\xfbl\xe9e on Fridays.\n".encode("cp1252"))

    report = kb.ingest([docs])

    errors = {Path(e.source).name: str(e) for e in report.errors}
    assert set(errors) == {"broken.pdf", "empty.md", "photo.txt", "huge.txt"}
    assert "re-export" in errors["broken.pdf"] and "is empty" in errors["empty.md"]
    assert "looks binary" in errors["photo.txt"] and "max_bytes=" in errors["huge.txt"]
    assert [Path(s).name for s in report.added] == ["menu.txt"]  # Windows-1252 text is read, not refused
    assert kb.count() == before + 1 and sources(kb) == {"pets.md", "parking.md", "lunch.txt", "menu.txt"}
    assert "crème brûlée" in kb.search("dessert on Fridays", k=1)[0].text


def test_progress_reports_every_file_in_order(tmp_path, docs):
    kb, _ = counting_kb(tmp_path, "progress")
    calls = []
    kb.ingest([docs], progress=lambda done, total, name: calls.append((done, total)))
    assert calls[-1] == (3, 3)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and {t for _, t in calls} == {3}
