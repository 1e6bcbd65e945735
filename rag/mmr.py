"""Maximal marginal relevance: pick hits that are relevant AND unlike the ones already picked.

    diverse = MMRRetriever(hybrid, embeddings, lambda_mult=0.7)
    diverse.retrieve("annual leave rules", k=4)       # four hits, near-duplicates pushed down

Carbonell and Goldstein, "The use of MMR, diversity-based reranking for reordering documents
and producing summaries", SIGIR 1998: next = argmax  lambda * sim(q, d) - (1 - lambda) * max sim(d, picked).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from rag.store import ScoredChunk


def mmr_order(query_vector: Sequence[float], vectors: Sequence[Sequence[float]], k: int,
              lambda_mult: float = 0.7) -> list[int]:
    """Indexes of `vectors` in MMR order (cosine similarity; vectors need not be normalised).

    >>> mmr_order([1, 0], [[1, 0], [0.99, 0.05], [0.6, 0.8]], k=2, lambda_mult=0.3)
    [0, 2]
    """
    import numpy as np

    if not len(vectors) or k <= 0:
        return []
    docs = np.asarray(vectors, dtype=float)
    docs = docs / np.maximum(np.linalg.norm(docs, axis=1, keepdims=True), 1e-12)
    query = np.asarray(query_vector, dtype=float)
    query = query / max(float(np.linalg.norm(query)), 1e-12)
    relevance = docs @ query
    picked: list[int] = []
    redundancy = np.zeros(len(docs))  # max similarity to anything picked so far
    while len(picked) < min(k, len(docs)):
        score = lambda_mult * relevance - (1 - lambda_mult) * redundancy
        score[picked] = -np.inf
        best = int(np.argmax(score))
        picked.append(best)
        redundancy = np.maximum(redundancy, docs @ docs[best])
    return picked


class MMRRetriever:
    """Asks `retriever` for `candidates` hits, returns k of them in MMR order (scores = the
    retriever's own, order = MMR's)."""

    def __init__(self, retriever, embeddings, lambda_mult: float = 0.7, candidates: int = 20):
        if not 0.0 <= lambda_mult <= 1.0:
            raise ValueError(f"lambda_mult={lambda_mult}: use a value from 0 (most diverse) to 1 (most relevant).")
        self.retriever, self.embeddings = retriever, embeddings
        self.lambda_mult, self.candidates = lambda_mult, candidates

    def retrieve(self, query: str, k: int = 10) -> list[ScoredChunk]:
        hits = self.retriever.retrieve(query, k=max(k, self.candidates))
        if len(hits) <= 1:
            return hits[:k]
        vectors = self.embeddings.embed_documents([h.text for h in hits])
        order = mmr_order(self.embeddings.embed_query(query), vectors, k, self.lambda_mult)
        return [replace(hits[i]) for i in order]
