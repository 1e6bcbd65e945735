"""Learned fusion: a linear ranker over the signals the hybrid pipeline already computes, with
weights learnt from labelled queries (`training.fusion_ranker`), used like any reranker.

    HEARTH_RERANKER=fusion:out/rankers/cranfield python -m apps.ask --mode rag_hybrid "..."
    kb.retriever("hybrid", feedback=True, rerank="fusion:out/rankers/cranfield", candidates=100)

Reciprocal-rank fusion gives BM25 and the dense model equal say and forgets their scores. Here every
first-stage candidate gets a feature vector (`FEATURES`): its BM25 score and dense cosine, the cosine
to two pseudo-relevance-feedback query vectors (the query plus 1x and 2x the mean of the top five
candidates), each raw, standardised within the candidate list and divided by the list's best; its
first-stage rank; its length; the share of the query's stemmed terms it holds; and, when the model
keeps its labelled queries, how strongly documents like it were judged for the most similar of
those queries (`neighbours`: the user's own judgements, reused for the queries that resemble
them). A logistic-regression weight per feature, learnt on labelled queries, turns the vector into
one score. Scoring 100 candidates is a few numpy products: no second model runs per query.

The model folder holds `fusion.json`: the feature names, standardisation, weights, the labelled
queries' vectors and judgements, and the ids of the queries it was trained on (cross-validation
checks that it never scores one of them).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from rag.store import ScoredChunk

MODEL_FILE = "fusion.json"
FEEDBACK_DOCS = 5
FEEDBACK_ALPHAS = (1.0, 2.0)
NEIGHBOURS = 5
SCORE_FEATURES = ("bm25", "dense", "feedback1", "feedback2")
FEATURES = tuple(f"{name}{suffix}" for name in SCORE_FEATURES for suffix in ("", "_z", "_of_best")) + (
    "rank_reciprocal", "rank_log", "length_log", "query_term_share")
NEIGHBOUR_FEATURES = ("neighbours", "neighbours_log")


def text_key(text: str) -> str:
    """The key a judged document is remembered by: a hash of its text, so judgements made on
    document ids (BEIR) and on texts (pairs JSONL) meet the same chunk.

    >>> text_key("wing flutter") == text_key("wing flutter"), len(text_key("x"))
    (True, 16)
    """
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class Neighbours:
    """Labelled queries a model remembers: unit vectors and {text_key: grade} judgements."""

    vectors: list[list[float]] = field(default_factory=list)
    judged: list[dict[str, int]] = field(default_factory=list)

    def scores(self, query_vector, keys: Sequence[str], top: int = NEIGHBOURS, skip: int | None = None) -> list[float]:
        """For each candidate key: sum over the `top` most similar labelled queries of
        similarity x grade (0 where none judged it). `skip` leaves one labelled query out (training
        on a query must not see its own judgements).

        >>> n = Neighbours([[1.0, 0.0], [0.0, 1.0]], [{"a": 2}, {"b": 1}])
        >>> n.scores([1.0, 0.0], ["a", "b", "c"], top=1)
        [2.0, 0.0, 0.0]
        """
        import numpy as np

        if not self.vectors:
            return [0.0] * len(keys)
        similarity = np.asarray(self.vectors, dtype=np.float32) @ np.asarray(query_vector, dtype=np.float32)
        if skip is not None:
            similarity[skip] = -np.inf
        order = [int(i) for i in np.argsort(-similarity)[:top] if np.isfinite(similarity[i])]
        return [sum(max(float(similarity[i]), 0.0) * self.judged[i].get(key, 0) for i in order) for key in keys]


class CandidateFeatures:
    """Feature rows for a query's first-stage candidates, from a KnowledgeBase's own indexes
    (`lexical_scores`, `bm25_index`, `chunk_vectors`, `embed_query`)."""

    def __init__(self, knowledge_base):
        self.knowledge_base = knowledge_base
        self._terms: dict[str, frozenset] = {}

    def query_vector(self, query: str):
        import numpy as np

        vector = np.asarray(self.knowledge_base.embed_query(query), dtype=np.float32)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def rows(self, query: str, chunks: Sequence[ScoredChunk], neighbours: Neighbours | None = None,
             skip: int | None = None):
        """(len(chunks), features) matrix, columns in FEATURES (+ NEIGHBOUR_FEATURES with `neighbours`)."""
        import numpy as np

        from rag.query_expansion import feedback_vector

        width = len(FEATURES) + (len(NEIGHBOUR_FEATURES) if neighbours is not None else 0)
        if not chunks:
            return np.zeros((0, width), dtype=np.float32)
        kb = self.knowledge_base
        question = self.query_vector(query)
        vectors = kb.chunk_vectors(chunks)
        matrix = np.asarray([v if v is not None else np.zeros(len(question)) for v in vectors], dtype=np.float32)
        columns: list = []
        lexical = np.asarray(kb.lexical_scores(query, chunks), dtype=np.float32)
        dense = matrix @ question
        feedback = [matrix @ feedback_vector(question, matrix[:FEEDBACK_DOCS], alpha).astype(np.float32)
                    for alpha in FEEDBACK_ALPHAS]
        for values in (lexical, dense, *feedback):
            columns += [values, (values - values.mean()) / (values.std() + 1e-9), values / (abs(values.max()) + 1e-9)]
        ranks = np.arange(len(chunks), dtype=np.float32)
        columns += [1.0 / (ranks + 1.0), -np.log1p(ranks),
                    np.log1p(np.asarray([len(c.text.split()) for c in chunks], dtype=np.float32)),
                    self._term_share(query, chunks)]
        if neighbours is not None:
            found = np.asarray(neighbours.scores(question, [text_key(c.text) for c in chunks], skip=skip),
                               dtype=np.float32)
            columns += [found, np.log1p(found)]
        return np.stack(columns, axis=1)

    def _term_share(self, query: str, chunks: Sequence[ScoredChunk]):
        import numpy as np

        asked = self._stems(query)
        if not asked:
            return np.zeros(len(chunks), dtype=np.float32)
        return np.asarray([len(asked & self._stems(c.text)) / len(asked) for c in chunks], dtype=np.float32)

    def _stems(self, text: str) -> frozenset:
        """The words of `text` as the collection's BM25 index counts them (cached per text)."""
        found = self._terms.get(text)
        if found is None:
            found = frozenset(self.knowledge_base.bm25_index().terms(text))
            if len(self._terms) > 100_000:
                self._terms.clear()
            self._terms[text] = found
        return found


@dataclass
class FusionModel:
    """Standardisation and logistic-regression weights over `features`, and the labelled queries kept."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float = 0.0
    neighbours: Neighbours | None = None
    record: dict = field(default_factory=dict)

    def score(self, rows) -> list[float]:
        import numpy as np

        standardised = (np.asarray(rows, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return (standardised @ np.asarray(self.weights) + self.bias).tolist()

    def save(self, folder: str | Path, record: dict | None = None) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        payload = {"features": self.features, "mean": self.mean, "scale": self.scale, "weights": self.weights,
                   "bias": self.bias, **(record if record is not None else self.record)}
        if self.neighbours is not None:
            payload["neighbours"] = {"vectors": [[round(float(x), 5) for x in v] for v in self.neighbours.vectors],
                                     "judged": self.neighbours.judged}
        (folder / MODEL_FILE).write_text(json.dumps(payload, indent=1))
        return folder / MODEL_FILE


def load_fusion_model(folder: str | Path) -> FusionModel:
    """The model in `folder`/fusion.json, with a clear error for anything else."""
    path = Path(folder) / MODEL_FILE
    if not path.is_file():
        raise ValueError(f"{folder} holds no {MODEL_FILE}: train a fusion ranker with "
                         "`python -m training.fusion_ranker --data DATA --out FOLDER` and pass that folder.")
    try:
        payload = json.loads(path.read_text())
        expected = list(FEATURES) + (list(NEIGHBOUR_FEATURES) if "neighbours" in payload else [])
        if payload["features"] != expected or len(payload["weights"]) != len(expected):
            raise ValueError(f"features {payload['features']} are not this version's {expected}")
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a fusion model this version can read ({exc}); retrain it with "
                         "`python -m training.fusion_ranker`.") from None
    neighbours = payload.get("neighbours")
    record = {k: v for k, v in payload.items() if k not in ("features", "mean", "scale", "weights", "bias", "neighbours")}
    return FusionModel(payload["features"], payload["mean"], payload["scale"], payload["weights"], payload["bias"],
                       Neighbours(neighbours["vectors"], neighbours["judged"]) if neighbours else None, record)


class LearnedFusionReranker:
    """Reorders a KnowledgeBase's first-stage candidates by a `FusionModel` (a `rag.rerank.Reranker`).

    >>> from rag.knowledge_base import KnowledgeBase  # doctest: +SKIP
    >>> kb.retriever("hybrid", feedback=True, rerank=LearnedFusionReranker(kb, "out/rankers/cranfield"))  # doctest: +SKIP
    """

    def __init__(self, knowledge_base, folder: str | Path):
        self.model = load_fusion_model(folder)
        self.folder = str(folder)
        self.features = CandidateFeatures(knowledge_base)

    def rerank(self, query: str, chunks: Sequence[ScoredChunk], k: int) -> list[ScoredChunk]:
        from dataclasses import replace

        if not chunks:
            return []
        scores = self.model.score(self.features.rows(query, chunks, self.model.neighbours))
        ranked = sorted(zip(chunks, scores), key=lambda pair: -pair[1])
        return [replace(chunk, score=_sigmoid(score)) for chunk, score in ranked[:k]]


def _sigmoid(x: float) -> float:
    """1 / (1 + e^-x) without overflow for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)
