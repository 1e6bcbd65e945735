"""A knowledge base: files in, cited chunks out. Load -> chunk -> embed -> Qdrant.

    kb = KnowledgeBase(collection="handbook")               # .hearth/qdrant, bundled MiniLM
    report = kb.ingest(["data/handbook"])                   # unchanged files are skipped
    kb.search("How many days of annual leave?", k=4)        # -> [ScoredChunk, ...] (dense)
    kb.search("annual leave", k=4, mode="hybrid", rerank="e5-small", filters={"title": "Annual leave"})

Search modes: `dense` (embeddings + Qdrant), `bm25` (lexical, bm25s over the collection's chunks)
and `hybrid` (both, fused by reciprocal rank); `rerank` reorders the top candidates (a spec for
`rag.rerank.load_reranker`, `fusion:FOLDER` for a learned fusion of the collection's own signals
(`rag.learned_fusion`), or any `Reranker`). The BM25 index is built on first use from the
chunks in Qdrant and rebuilt after an ingestion or when the collection's size changed (another
process ingested). With a local folder (or ":memory:") the dense search runs over the same vectors
held in a numpy matrix, which gives Qdrant local mode's exact results without its per-query
overhead (measured 100x faster at 1,400 chunks); a Qdrant server is always asked directly.

A local folder is shared by every process on the machine (chat app, `langgraph dev`, `apps.ask`,
search app): each reads a snapshot of the collection and reloads it when another process wrote
(`rag.store.SharedFolder`); writes hold the folder only for the moment they write.

Re-ingesting a file whose bytes did not change does nothing; an edited file replaces its
chunks; a file that cannot be read is reported in `report.errors` and the index keeps what it had.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping

from models.progress import ProgressCallback
from models.settings import PROJECT_ROOT, data_home
from rag.chunking import chunk_document
from rag.documents import DocumentError, iter_documents
from rag.store import QdrantStore, ScoredChunk

SAMPLE_HANDBOOK = PROJECT_ROOT / "data" / "handbook"
FUSION_PREFIX = "fusion:"  # rerank="fusion:FOLDER": a learned-fusion ranker over the collection's signals


def default_index_location() -> str:
    """$QDRANT_URL when a server is configured, else the local-mode folder."""
    return os.environ.get("QDRANT_URL") or str(data_home() / "qdrant")


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # indexed files no longer in an ingested folder
    errors: list[DocumentError] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        text = (f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                + (f"{len(self.removed)} removed, " if self.removed else "")
                + f"{self.chunks} chunks embedded in {self.seconds:.1f} s")
        if self.errors:
            text += f"; {len(self.errors)} skipped:\n" + "\n".join(f"  - {e}" for e in self.errors)
        return text


SearchMode = Literal["dense", "bm25", "hybrid"]
SEARCH_MODES = ("dense", "bm25", "hybrid")


class EmbeddingModelMismatchError(ValueError):
    """The collection's vectors were made by another embedding model than the one asked for."""


def embedding_model_identity(embeddings, spec: str) -> dict:
    """What made a collection's vectors: the spec, and for a model folder a fingerprint of its
    weights (a fine-tuned copy at the same path is a different model)."""
    folder = getattr(embeddings, "folder", None)
    if folder:
        from models.static_query import model_fingerprint

        return {"spec": spec, "fingerprint": model_fingerprint(folder)}
    return {"spec": spec, "fingerprint": f"{type(embeddings).__name__}:{getattr(embeddings, 'model', spec)}"}


class KnowledgeBase:
    """One collection of chunks and the embedding model that indexes it."""

    def __init__(self, collection: str = "handbook", location: str | None = None, embeddings: str = "local",
                 chunk_size: int = 800, chunk_overlap: int = 120, query_cache_size: int = 512):
        self.collection = collection
        self.location = location or default_index_location()
        self.embeddings_spec = embeddings
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.query_cache_size = query_cache_size  # 0 = embed every query (benchmarks)
        self._corpus = None  # _CorpusIndex: BM25 + vector matrix of the whole collection, built on first use
        self._query_vectors: dict[str, list[float]] = {}
        self._fusion_rerankers: dict = {}

    @cached_property
    def embeddings(self):
        from models import load_embeddings

        return load_embeddings(self.embeddings_spec)

    @cached_property
    def store(self) -> QdrantStore:
        from models.embeddings import embedding_dimension

        return QdrantStore.open(self.location, self.collection, embedding_dimension(self.embeddings))

    def embedding_model(self) -> dict | None:
        """The embedding model recorded on the collection (None for an empty or older index)."""
        return self.store.collection_metadata().get("embedding_model")

    def record_embedding_model(self) -> None:
        self.store.update_collection_metadata({"embedding_model": embedding_model_identity(self.embeddings,
                                                                                           self.embeddings_spec)})
        self._model_checked = True

    def check_embedding_model(self) -> None:
        """Refuse to search or add to a collection whose vectors another embedding model made."""
        if getattr(self, "_model_checked", False):
            return
        recorded = self.embedding_model()
        if recorded:
            current = embedding_model_identity(self.embeddings, self.embeddings_spec)
            if recorded.get("fingerprint") != current["fingerprint"]:
                raise EmbeddingModelMismatchError(
                    f"Collection {self.collection!r} was indexed with embeddings {recorded.get('spec')!r}, not "
                    f"{self.embeddings_spec!r}: its vectors do not match this model's query vectors. Use "
                    f"--embeddings {recorded.get('spec')}, or re-index it with the new model: python -m "
                    f"training.embedding_finetune reindex --collection {self.collection} --embeddings {self.embeddings_spec}")
        self._model_checked = True

    def count(self) -> int:
        """Chunks in the collection (a shared local folder: the snapshot's, refreshed when another process wrote)."""
        if self.store.folder is not None:
            return len(self._corpus_index().chunks)
        return self.store.count()

    def ingest(self, paths: Iterable[str | Path], progress: ProgressCallback | None = None,
               write_batch_chunks: int = 512) -> IngestReport:
        """Index files and folders incrementally: unchanged files (same content hash) are skipped,
        edited ones replace their chunks, and files deleted from an ingested folder are removed.

        Files are embedded without holding the index; their chunks are written in batches of about
        `write_batch_chunks`, each in one short write (a shared local folder is locked only then), so
        other processes keep answering, and two processes ingesting at once both keep their files."""
        paths = list(paths)
        report = IngestReport()
        started = time.perf_counter()
        items = list(iter_documents([Path(p) for p in paths]))
        indexed = self.store.source_hashes()
        self.check_embedding_model()
        pending: list[tuple[str, str, list, list]] = []

        def write_pending() -> None:
            with self.store.session(write=True):
                for source, content_hash, chunks, vectors in pending:
                    self.store.replace_source(source, content_hash, chunks, vectors)
            pending.clear()

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
            pending.append((source, content_hash, chunks, vectors))
            report.chunks += len(chunks)
            (report.updated if previous else report.added).append(source)
            if sum(len(p[2]) for p in pending) >= write_batch_chunks:
                write_pending()
        # A file that was indexed from a folder being ingested, and no longer exists, was deleted:
        # its chunks go too. (Files that failed to load keep their old chunks; a file another
        # process added meanwhile exists, so it stays.)
        folders = [Path(p).resolve() for p in paths if Path(p).is_dir()]
        present = {str(Path(i.source).resolve()) for i in items if i.source}
        gone = [source for source in indexed if source not in present and not Path(source).exists()
                and any(Path(source).is_relative_to(folder) for folder in folders)]
        if pending or gone:
            with self.store.session(write=True):
                write_pending()
                for source in gone:
                    self.store.delete_source(source)
                    report.removed.append(source)
        if report.added or report.updated or report.removed:
            self._corpus = None
        if report.chunks and not indexed and not self.embedding_model():
            self.record_embedding_model()
        if progress:
            progress(len(items), len(items), "")
        report.seconds = time.perf_counter() - started
        return report

    def search(self, query: str, k: int = 4, mode: SearchMode = "dense", rerank: Any = None,
               filters: Mapping[str, Any] | None = None, candidates: int = 50, feedback: bool = False
               ) -> list[ScoredChunk]:
        """The k best chunks for `query`. `mode`: dense | bm25 | hybrid; `feedback` (hybrid only):
        a second dense pass with pseudo-relevance feedback (`rag.query_expansion.FeedbackHybridRetriever`);
        `rerank`: None, a reranker spec ('e5-small', 'cross-encoder:FOLDER') or a Reranker;
        `filters`: payload field -> value or list of values; `candidates`: hits per list before
        fusion/reranking."""
        if not query.strip():
            return []
        return self.retriever(mode, rerank=rerank, filters=filters, candidates=candidates,
                              feedback=feedback).retrieve(query, k=k)

    def retriever(self, mode: SearchMode = "hybrid", rerank: Any = None, filters: Mapping[str, Any] | None = None,
                  candidates: int = 50, feedback: bool = False):
        """The `rag.retrievers.Retriever` behind `search(mode=..., rerank=..., filters=..., feedback=...)`."""
        from rag.retrievers import DenseRetriever, FusionRetriever

        if mode not in SEARCH_MODES:
            raise ValueError(f"Unknown search mode {mode!r}: use one of {', '.join(SEARCH_MODES)}.")
        if feedback and mode != "hybrid":
            raise ValueError(f"feedback=True works with mode='hybrid', not {mode!r}.")
        dense = DenseRetriever(self.embed_query, self.search_by_vector, filters)
        lexical = _LexicalSearch(self, filters)
        if mode == "dense":
            first_stage = dense
        elif mode == "bm25":
            first_stage = lexical
        elif feedback:
            from rag.query_expansion import FeedbackHybridRetriever

            first_stage = FeedbackHybridRetriever(self, filters=filters, candidates=candidates)
        else:
            first_stage = FusionRetriever([lexical, dense], mode="reciprocal_rank", candidates=candidates)
        if rerank is None:
            return first_stage
        from rag.rerank import RerankingRetriever, load_reranker

        if isinstance(rerank, str) and rerank.startswith(FUSION_PREFIX):
            reranker = self._fusion_reranker(rerank.removeprefix(FUSION_PREFIX))
        else:
            reranker = load_reranker(rerank) if isinstance(rerank, str) else rerank
        return RerankingRetriever(first_stage, reranker, candidates=candidates)

    def _fusion_reranker(self, folder: str):
        """A learned-fusion ranker over this collection's own signals (`rag.learned_fusion`), kept per folder."""
        from rag.learned_fusion import LearnedFusionReranker

        found = self._fusion_rerankers.get(folder)
        if found is None:
            found = self._fusion_rerankers[folder] = LearnedFusionReranker(self, folder)
        return found

    def search_by_vector(self, vector, k: int = 4, filters: Mapping[str, Any] | None = None) -> list[ScoredChunk]:
        if self.store.is_server:
            return self.store.search(vector, k=k, filters=filters)
        return self._corpus_index().search_by_vector(vector, k, filters)

    def embed_query(self, query: str) -> list[float]:
        """The query's vector; the last `query_cache_size` are kept (graphs and chat turns repeat them)."""
        cache = self._query_vectors
        if query in cache:
            return cache[query]
        self.check_embedding_model()
        vector = self.embeddings.embed_query(query)
        if self.query_cache_size > 0:
            if len(cache) >= self.query_cache_size:
                cache.pop(next(iter(cache)))
            cache[query] = vector
        return vector

    def bm25_index(self):
        """BM25 over every chunk of the collection, rebuilt when the collection changed."""
        return self._corpus_index().bm25

    def corpus_chunks(self) -> list[ScoredChunk]:
        """Every chunk of the collection (the in-memory snapshot searches run over; the same list
        object until the collection changes)."""
        return self._corpus_index().chunks

    def lexical_scores(self, query: str, chunks) -> list[float]:
        """The BM25 score of each of `chunks` for `query` (0 for a chunk not in the collection)."""
        from rag.retrievers import chunk_key

        corpus = self._corpus_index()
        scores = corpus.bm25.scores(query)
        if scores is None:
            return [0.0] * len(chunks)
        rows = [corpus.position.get(chunk_key(c)) for c in chunks]
        return [0.0 if row is None else float(scores[row]) for row in rows]

    def chunk_vectors(self, chunks) -> list:
        """The stored vectors of `chunks` (found by source and chunk index; None when not stored)."""
        return self._corpus_index().vectors_of(chunks)

    def _corpus_index(self) -> "_CorpusIndex":
        # The snapshot searches run over. A shared local folder says when any process wrote to it
        # (its generation); a server may change under us (count it); ":memory:" only through us.
        if self.store.folder is not None:
            if self._corpus is None or self._corpus.version != self.store.version():
                pairs, version = self.store.snapshot()
                self._corpus = _CorpusIndex(pairs, version)
            return self._corpus
        version = (self.store.writes, self.store.count() if self.store.is_server else None)
        if self._corpus is None or self._corpus.version != version:
            self._corpus = _CorpusIndex(self.store.iter_chunks_with_vectors(), version)
        return self._corpus


class _CorpusIndex:
    """Every chunk of a collection with its vector: BM25 over the texts and a normalised matrix."""

    def __init__(self, pairs: Iterable, version):
        import numpy as np

        from rag.retrievers import BM25Retriever, chunk_key

        pairs = list(pairs)
        self.version = version
        self.chunks = [c for c, _ in pairs]
        self.bm25 = BM25Retriever(self.chunks)
        self.position = {chunk_key(c): i for i, c in enumerate(self.chunks)}
        matrix = np.asarray([v for _, v in pairs], dtype=np.float32) if pairs else np.zeros((0, 1), np.float32)
        self.matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)

    def vectors_of(self, chunks) -> list:
        from rag.retrievers import chunk_key

        rows = [self.position.get(chunk_key(c)) for c in chunks]
        return [None if row is None else self.matrix[row] for row in rows]

    def search_by_vector(self, vector, k: int, filters) -> list[ScoredChunk]:
        """Cosine similarity over the whole matrix, as Qdrant's exact search scores it."""
        import numpy as np
        from dataclasses import replace

        from rag.retrievers import matches_filters

        if not self.chunks:
            return []
        query = np.asarray(vector, dtype=np.float32)
        scores = self.matrix @ (query / max(float(np.linalg.norm(query)), 1e-12))
        if filters:
            allowed = np.fromiter((matches_filters(c, filters) for c in self.chunks), dtype=bool, count=len(self.chunks))
            scores = np.where(allowed, scores, -np.inf)
        top = np.argpartition(-scores, min(k, len(scores)) - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [replace(self.chunks[i], score=float(scores[i])) for i in top if np.isfinite(scores[i])]


class _LexicalSearch:
    def __init__(self, kb: KnowledgeBase, filters):
        self.kb, self.filters = kb, filters

    def retrieve(self, query: str, k: int = 10) -> list[ScoredChunk]:
        return self.kb.bm25_index().retrieve(query, k=k, filters=self.filters)


def ensure_sample_handbook(kb: KnowledgeBase, progress: ProgressCallback | None = None) -> IngestReport | None:
    """Index the bundled handbook into `kb` when the collection is empty (first start of the demo)."""
    if kb.count() > 0:
        return None
    return kb.ingest([SAMPLE_HANDBOOK], progress=progress)
