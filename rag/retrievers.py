"""Retrievers: anything with `retrieve(query, k) -> list[ScoredChunk]`, best first.

    bm25 = BM25Retriever(chunks)                                   # lexical (bm25s)
    dense = DenseRetriever(kb.embed_query, kb.search_by_vector)    # embeddings + vectors (kb = KnowledgeBase)
    hybrid = FusionRetriever([bm25, dense], mode="reciprocal_rank")
    hybrid.retrieve("How many days of annual leave?", k=10)

Fusion modes:
- `reciprocal_rank`: score = sum over lists of weight / (k + rank) (Cormack, Clarke and
  Buettcher, "Reciprocal Rank Fusion outperforms Condorcet and individual rank learning
  methods", SIGIR 2009; k = 60 there).
- `relative_score`: each list's scores min-max scaled to 0..1, then a weighted sum (the
  "relative score fusion" that Weaviate and LlamaIndex offer).

Metadata filters are a dict of payload field -> value (or list of accepted values), e.g.
`{"source": "/kb/leave.md"}` or `{"section": ["HR", "IT"]}`; `matches_filters` applies them to a
chunk in Python, `QdrantStore.search(..., filters=...)` inside Qdrant.
Reranking, MMR and query expansion wrap any retriever: `rag.rerank`, `rag.mmr`, `rag.query_expansion`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable, Literal, Mapping, Protocol, Sequence

from rag.store import ScoredChunk

FusionMode = Literal["reciprocal_rank", "relative_score"]
BM25Backend = Literal["bm25s", "rank_bm25"]
RRF_K = 60
Filters = Mapping[str, Any]


class Retriever(Protocol):
    def retrieve(self, query: str, k: int = 10) -> list[ScoredChunk]: ...


def chunk_key(chunk: ScoredChunk) -> tuple[str, int]:
    """What makes two hits the same chunk, whichever retriever found them."""
    return chunk.source, chunk.chunk_index


def chunk_field(chunk: ScoredChunk, name: str) -> Any:
    """A chunk's value for a filter field: its own attributes first, then its metadata."""
    if name in ("source", "title", "chunk_index", "text"):
        return getattr(chunk, name)
    return chunk.metadata.get(name)


def matches_filters(chunk: ScoredChunk, filters: Filters | None) -> bool:
    """True when every field matches: equal to the value, or one of the values in a list.

    >>> c = ScoredChunk("t", "/kb/leave.md", 0, 1.0, metadata={"section": "HR"})
    >>> matches_filters(c, {"section": ["HR", "IT"]}), matches_filters(c, {"source": "/kb/it.md"})
    (True, False)
    """
    for name, wanted in (filters or {}).items():
        value = chunk_field(chunk, name)
        if isinstance(wanted, (list, tuple, set, frozenset)):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


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
    """Okapi BM25 over chunk texts: English stopwords, Snowball stemming, Lucene's scoring.

    `backend="bm25s"` (default: sparse matrices, fast) or `"rank_bm25"` (the classic package
    users know; same tokens, slower). `filters` on `retrieve` keeps only matching chunks.

    >>> bm25 = BM25Retriever.from_texts([("a", "wing flutter"), ("b", "heat transfer")])
    >>> [c.source for c in bm25.retrieve("flutter of a wing", k=2)]
    ['a']
    """

    def __init__(self, chunks: Sequence[ScoredChunk], stemmer_language: str | None = "english",
                 backend: BM25Backend = "bm25s", k1: float = 1.2, b: float = 0.75):
        if backend not in ("bm25s", "rank_bm25"):
            raise ValueError(f"Unknown BM25 backend {backend!r}: use 'bm25s' or 'rank_bm25'.")
        self.chunks = list(chunks)
        self.backend, self.k1, self.b = backend, k1, b
        self._stemmer = None
        if stemmer_language:
            import Stemmer

            self._stemmer = Stemmer.Stemmer(stemmer_language)
        self._index = None
        if not self.chunks:  # an empty collection: nothing to index, retrieve() returns []
            return
        documents = self._tokenize([c.text for c in self.chunks])
        if backend == "bm25s":
            import bm25s

            self._index = bm25s.BM25(k1=k1, b=b)
            self._index.index(documents, show_progress=False)
        else:
            from rank_bm25 import BM25Okapi

            # rank_bm25 cannot index an empty corpus; retrieve() returns [] for it anyway
            self._index = BM25Okapi(documents, k1=k1, b=b) if any(documents) else None

    def _tokenize(self, texts: list[str], return_ids: bool | None = None):
        """English stopwords dropped, stemmed: token ids for the bm25s backend, words otherwise (or as asked)."""
        import bm25s

        ids = self.backend == "bm25s" if return_ids is None else return_ids
        return bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False, return_ids=ids)

    def terms(self, text: str) -> list[str]:
        """The words of `text` as this index counts them: English stopwords dropped, stemmed.

        >>> BM25Retriever.from_texts([("a", "wing")]).terms("The wings of a plane")
        ['wing', 'plane']
        """
        tokens = self._tokenize([text], return_ids=False)
        return list(tokens[0]) if tokens else []

    @classmethod
    def from_texts(cls, texts: Iterable[tuple[str, str]], **kwargs) -> "BM25Retriever":
        """From (id, text) pairs: each text is one chunk whose source is its id."""
        return cls([ScoredChunk(text=text, source=doc_id, chunk_index=0, score=0.0) for doc_id, text in texts], **kwargs)

    def scores(self, query: str):
        """BM25 score of every chunk for `query` (numpy array, chunk order), or None when the
        query has no indexable word."""
        import numpy as np

        if self._index is None or not query.strip():
            return None
        if self.backend == "bm25s":
            tokens = self._tokenize([query])
            vocabulary = {index: word for word, index in tokens.vocab.items()}
            words = [vocabulary[i] for i in tokens.ids[0]] if tokens.ids else []
            if not words:
                return None
            return np.asarray(self._index.get_scores(words))
        words = self._tokenize([query])[0]
        if not words:
            return None
        return np.asarray(self._index.get_scores(words))

    def retrieve(self, query: str, k: int = 10, filters: Filters | None = None) -> list[ScoredChunk]:
        import numpy as np

        scores = self.scores(query)
        if scores is None:
            return []
        order = np.argsort(-scores, kind="stable")
        found = []
        for i in order:
            if scores[i] <= 0 or len(found) == k:
                break
            chunk = self.chunks[int(i)]
            if matches_filters(chunk, filters):
                found.append(replace(chunk, score=float(scores[i])))
        return found


class DenseRetriever:
    """Dense retrieval, the one implementation every caller uses: embed the query, then the nearest
    stored vectors. `embed_query(text) -> vector` and `search_by_vector(vector, k=, filters=)` come
    from the index: a KnowledgeBase's own (`kb.embed_query`, `kb.search_by_vector`), or its Qdrant
    store's search (`kb.store.search`) to ask Qdrant itself.

    >>> table = {"wing": [1.0, 0.0]}
    >>> search = lambda v, k, filters=None: [ScoredChunk("lift", "d1", 0, v[0])][:k]
    >>> [c.source for c in DenseRetriever(table.get, search).retrieve("wing", k=1)]
    ['d1']
    """

    def __init__(self, embed_query, search_by_vector, filters: Filters | None = None):
        self.embed_query, self.search_by_vector, self.filters = embed_query, search_by_vector, filters

    def retrieve(self, query: str, k: int = 10) -> list[ScoredChunk]:
        if not query.strip():
            return []
        return self.search_by_vector(self.embed_query(query), k=k, filters=self.filters)
