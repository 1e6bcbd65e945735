"""Retrievers: anything with `retrieve(query, k) -> list[ScoredChunk]`, best first.

    bm25 = BM25Retriever.from_chunks(chunks)                       # lexical (bm25s)
    dense = VectorRetriever(KnowledgeBase("handbook"))             # Qdrant + embeddings
    hybrid = FusionRetriever([bm25, dense], mode="reciprocal_rank")
    hybrid.retrieve("How many days of annual leave?", k=10)

Fusion modes:
- `reciprocal_rank`: score = sum over lists of weight / (k + rank) (Cormack, Clarke and
  Buettcher, "Reciprocal Rank Fusion outperforms Condorcet and individual rank learning
  methods", SIGIR 2009; k = 60 there).
- `relative_score`: each list's scores min-max scaled to 0..1, then a weighted sum (the
  "relative score fusion" that Weaviate and LlamaIndex offer).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Literal, Protocol, Sequence

from rag.store import ScoredChunk

FusionMode = Literal["reciprocal_rank", "relative_score"]
RRF_K = 60


class Retriever(Protocol):
    def retrieve(self, query: str, k: int = 10) -> list[ScoredChunk]: ...


def chunk_key(chunk: ScoredChunk) -> tuple[str, int]:
    """What makes two hits the same chunk, whichever retriever found them."""
    return chunk.source, chunk.chunk_index


def _fuse(ranked: Sequence[Sequence[ScoredChunk]], weights: Sequence[float] | None,
          contributions) -> list[ScoredChunk]:
    """Sum weight x contribution per chunk over the lists; `contributions(hits)` gives one value per hit."""
    weights = weights or [1.0] * len(ranked)
    scores: dict[tuple[str, int], float] = {}
    first_seen: dict[tuple[str, int], ScoredChunk] = {}
    for hits, weight in zip(ranked, weights):
        for hit, value in zip(hits, contributions(hits)):
            key = chunk_key(hit)
            scores[key] = scores.get(key, 0.0) + weight * value
            first_seen.setdefault(key, hit)
    order = sorted(scores, key=lambda key: -scores[key])
    return [replace(first_seen[key], score=scores[key]) for key in order]


def reciprocal_rank_fusion(ranked: Sequence[Sequence[ScoredChunk]], weights: Sequence[float] | None = None,
                           k: int = RRF_K) -> list[ScoredChunk]:
    """Fuse ranked lists by reciprocal rank.

    >>> a = [ScoredChunk("x", "d1", 0, 9.0), ScoredChunk("y", "d2", 0, 8.0)]
    >>> b = [ScoredChunk("y", "d2", 0, 0.9), ScoredChunk("z", "d3", 0, 0.8)]
    >>> [c.source for c in reciprocal_rank_fusion([a, b])]
    ['d2', 'd1', 'd3']
    """
    return _fuse(ranked, weights, lambda hits: [1.0 / (k + rank) for rank in range(1, len(hits) + 1)])


def relative_score_fusion(ranked: Sequence[Sequence[ScoredChunk]], weights: Sequence[float] | None = None
                          ) -> list[ScoredChunk]:
    """Fuse by min-max-scaled scores; a list whose scores are all equal counts 1 for each hit.

    >>> a = [ScoredChunk("x", "d1", 0, 10.0), ScoredChunk("y", "d2", 0, 5.0)]
    >>> b = [ScoredChunk("y", "d2", 0, 0.9), ScoredChunk("x", "d1", 0, 0.1)]
    >>> [(c.source, round(c.score, 2)) for c in relative_score_fusion([a, b], weights=[0.3, 0.7])]
    [('d2', 0.7), ('d1', 0.3)]
    """
    def scaled(hits: Sequence[ScoredChunk]) -> list[float]:
        if not hits:
            return []
        low, high = min(h.score for h in hits), max(h.score for h in hits)
        return [(h.score - low) / (high - low) if high > low else 1.0 for h in hits]

    return _fuse(ranked, weights, scaled)


class FusionRetriever:
    """Runs several retrievers and fuses their lists (each asked for `candidates` hits)."""

    def __init__(self, retrievers: Sequence[Retriever], mode: FusionMode = "reciprocal_rank",
                 weights: Sequence[float] | None = None, candidates: int = 50, rrf_k: int = RRF_K):
        if mode not in ("reciprocal_rank", "relative_score"):
            raise ValueError(f"Unknown fusion mode {mode!r}: use 'reciprocal_rank' or 'relative_score'.")
        if weights is not None and len(weights) != len(retrievers):
            raise ValueError(f"{len(weights)} weights for {len(retrievers)} retrievers: give one weight per retriever.")
        self.retrievers, self.mode, self.weights = list(retrievers), mode, weights
        self.candidates, self.rrf_k = candidates, rrf_k

    def retrieve(self, query: str, k: int = 10) -> list[ScoredChunk]:
        ranked = [r.retrieve(query, k=max(k, self.candidates)) for r in self.retrievers]
        if self.mode == "reciprocal_rank":
            fused = reciprocal_rank_fusion(ranked, self.weights, self.rrf_k)
        else:
            fused = relative_score_fusion(ranked, self.weights)
        return fused[:k]


class BM25Retriever:
    """Okapi BM25 over chunk texts with bm25s (English stopwords, Snowball stemming)."""

    def __init__(self, chunks: Sequence[ScoredChunk], stemmer_language: str | None = "english"):
        import bm25s

        self.chunks = list(chunks)
        self._stemmer = None
        if stemmer_language:
            import Stemmer

            self._stemmer = Stemmer.Stemmer(stemmer_language)
        tokens = bm25s.tokenize([c.text for c in self.chunks], stopwords="en", stemmer=self._stemmer,
                                show_progress=False)
        self._index = bm25s.BM25()
        self._index.index(tokens, show_progress=False)

    @classmethod
    def from_texts(cls, texts: Iterable[tuple[str, str]], **kwargs) -> "BM25Retriever":
        """From (id, text) pairs: each text is one chunk whose source is its id."""
        return cls([ScoredChunk(text=text, source=doc_id, chunk_index=0, score=0.0) for doc_id, text in texts], **kwargs)

    def retrieve(self, query: str, k: int = 10) -> list[ScoredChunk]:
        import bm25s

        if not self.chunks or not query.strip():
            return []
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=self._stemmer, show_progress=False)
        if not tokens.ids or not tokens.ids[0]:
            return []
        ids, scores = self._index.retrieve(tokens, k=min(k, len(self.chunks)), show_progress=False)
        return [replace(self.chunks[int(i)], score=float(s)) for i, s in zip(ids[0], scores[0]) if s > 0]


class VectorRetriever:
    """Dense retrieval through a KnowledgeBase (embeddings + Qdrant)."""

    def __init__(self, knowledge_base):
        self.knowledge_base = knowledge_base

    def retrieve(self, query: str, k: int = 10) -> list[ScoredChunk]:
        return self.knowledge_base.search(query, k=k)
