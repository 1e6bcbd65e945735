"""A knowledge base: files in, cited chunks out. Load -> chunk -> embed -> Qdrant.

    kb = KnowledgeBase(collection="handbook")               # .hearth/qdrant, bundled MiniLM
    report = kb.ingest(["data/handbook"])                   # unchanged files are skipped
    kb.search("How many days of annual leave?", k=4)        # -> [ScoredChunk, ...]

Re-ingesting a file whose bytes did not change does nothing; an edited file replaces its
chunks; a file that cannot be read is reported in `report.errors` and the index keeps what it had.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable

from rag.chunking import chunk_document
from rag.documents import DocumentError, iter_documents
from rag.store import QdrantStore, ScoredChunk

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_HANDBOOK = PROJECT_ROOT / "data" / "handbook"


def data_home() -> Path:
    """Where indexes and checkpoints live: $HEARTH_HOME, else .hearth/ in the project."""
    return Path(os.environ.get("HEARTH_HOME") or PROJECT_ROOT / ".hearth")


def default_index_location() -> str:
    """$QDRANT_URL when a server is configured, else the local-mode folder."""
    return os.environ.get("QDRANT_URL") or str(data_home() / "qdrant")


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[DocumentError] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        text = (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                f"{self.chunks} chunks embedded in {self.seconds:.1f} s")
        if self.errors:
            text += f"; {len(self.errors)} skipped:\n" + "\n".join(f"  - {e}" for e in self.errors)
        return text


ProgressCallback = Callable[[int, int, str], None]  # (files done, files total, current file)


class KnowledgeBase:
    """One collection of chunks and the embedding model that indexes it."""

    def __init__(self, collection: str = "handbook", location: str | None = None, embeddings: str = "local",
                 chunk_size: int = 800, chunk_overlap: int = 120):
        self.collection = collection
        self.location = location or default_index_location()
        self.embeddings_spec = embeddings
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap

    @cached_property
    def embeddings(self):
        from models import load_embeddings

        return load_embeddings(self.embeddings_spec)

    @cached_property
    def store(self) -> QdrantStore:
        from models.embeddings import embedding_dimension

        return QdrantStore.open(self.location, self.collection, embedding_dimension(self.embeddings))

    def count(self) -> int:
        return self.store.count()

    def ingest(self, paths: Iterable[str | Path], progress: ProgressCallback | None = None) -> IngestReport:
        report = IngestReport()
        started = time.perf_counter()
        items = list(iter_documents([Path(p) for p in paths]))
        indexed = self.store.source_hashes()
        for done, item in enumerate(items, start=1):
            if isinstance(item, DocumentError):
                report.errors.append(item)
                if progress:
                    progress(done, len(items), str(item).split(":")[0])
                continue
            source = str(Path(item.source).resolve())
            if progress:
                progress(done - 1, len(items), Path(source).name)
            content_hash = item.metadata["sha256"]
            previous = indexed.get(source)
            if previous == content_hash:
                report.unchanged.append(source)
                continue
            chunks = chunk_document(item, chunk_size=self.chunk_size, chunk_overlap=self.chunk_overlap)
            vectors = self.embeddings.embed_documents([c.text for c in chunks])
            self.store.replace_source(source, content_hash, chunks, vectors)
            report.chunks += len(chunks)
            (report.updated if previous else report.added).append(source)
        if progress:
            progress(len(items), len(items), "")
        report.seconds = time.perf_counter() - started
        return report

    def search(self, query: str, k: int = 4) -> list[ScoredChunk]:
        if not query.strip():
            return []
        return self.store.search(self.embeddings.embed_query(query), k=k)


def ensure_sample_handbook(kb: KnowledgeBase, progress: ProgressCallback | None = None) -> IngestReport | None:
    """Index the bundled handbook into `kb` when the collection is empty (first start of the demo)."""
    if kb.count() > 0:
        return None
    return kb.ingest([SAMPLE_HANDBOOK], progress=progress)
