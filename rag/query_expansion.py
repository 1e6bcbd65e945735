"""Query expansion: let the chat model rewrite the question before retrieval (optional; it costs
one model call per question).

    multi = MultiQueryRetriever(hybrid, "local", n=3)     # 3 rewrites + the question, RRF-fused
    hyde = HyDERetriever(kb, "local")                      # embed a model-written answer passage
    feedback = FeedbackHybridRetriever(kb)                 # hybrid, then a Rocchio-expanded dense pass

- Multi-query: the model writes `n` alternative phrasings (grammar-constrained JSON, so even the
  135M model returns a valid list); each is retrieved and the lists are fused by reciprocal rank.
- Pseudo-relevance feedback (no model call; Rocchio, 1971, in embedding space): the top hits of
  a first hybrid pass are assumed relevant, their mean vector is added to the question's, and
  the dense list of a second pass is fused with BM25 again. +0.02 nDCG@10 on Cranfield dev.
- HyDE (Gao, Ma, Lin and Callan, "Precise zero-shot dense retrieval without relevance labels",
  ACL 2023): embed a hypothetical answer instead of the question, here averaged with the
  question's own vector so a poor passage from a small model cannot lose the question.
"""

from __future__ import annotations

from typing import Sequence

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from rag.retrievers import Retriever, reciprocal_rank_fusion
from rag.store import ScoredChunk

MULTI_QUERY_PROMPT = (
    "Write {n} different short search queries that would find documents answering the question. "
    "Use other words than the question where you can."
)
HYDE_PROMPT = "Write one short factual passage, two sentences at most, that answers the question."


class SearchQueries(BaseModel):
    queries: list[str] = Field(description="Alternative search queries for the question")


class HypotheticalPassage(BaseModel):
    passage: str = Field(description="A short passage that answers the question")


def _chat_model(model):
    if isinstance(model, str):
        from models import load_chat_model

        return load_chat_model(model)
    return model


def generate_queries(question: str, model, n: int = 3) -> list[str]:
    """Up to `n` rewrites of `question` (distinct, non-empty, not the question itself)."""
    reply = _chat_model(model).with_structured_output(SearchQueries).invoke([
        SystemMessage(content=MULTI_QUERY_PROMPT.format(n=n)), HumanMessage(content=question)])
    seen, queries = {question.strip().lower()}, []
    for query in reply.queries if reply else []:
        text = query.strip()
        if text and text.lower() not in seen:
            seen.add(text.lower())
            queries.append(text)
    return queries[:n]


def generate_hypothetical_passage(question: str, model) -> str:
    reply = _chat_model(model).with_structured_output(HypotheticalPassage).invoke([
        SystemMessage(content=HYDE_PROMPT), HumanMessage(content=question)])
    return (reply.passage if reply else "").strip()


class MultiQueryRetriever:
    """Retrieves for the question and each model-written rewrite, fuses by reciprocal rank
    (the question's own list weighted `question_weight`)."""

    def __init__(self, retriever: Retriever, model, n: int = 3, question_weight: float = 2.0, candidates: int = 50):
        self.retriever, self.model, self.n = retriever, model, n
        self.question_weight, self.candidates = question_weight, candidates

    def retrieve(self, query: str, k: int = 10) -> list[ScoredChunk]:
        if not query.strip():
            return []
        queries = [query, *generate_queries(query, self.model, self.n)]
        ranked = [self.retriever.retrieve(q, k=max(k, self.candidates)) for q in queries]
        return reciprocal_rank_fusion(ranked, [self.question_weight] + [1.0] * (len(queries) - 1))[:k]


class HyDERetriever:
    """Dense search with the mean of the question's vector and a hypothetical answer's vector.

    `knowledge_base` needs `.embeddings` and `.search_by_vector(vector, k)` (a KnowledgeBase has both)."""

    def __init__(self, knowledge_base, model, question_weight: float = 0.5):
        self.knowledge_base, self.model, self.question_weight = knowledge_base, model, question_weight

    def query_vector(self, query: str) -> list[float]:
        embeddings = self.knowledge_base.embeddings
        passage = generate_hypothetical_passage(query, self.model)
        question = embeddings.embed_query(query)
        if not passage:
            return question
        answer = embeddings.embed_documents([passage])[0]
        return _mean([question, answer], [self.question_weight, 1 - self.question_weight])

    def retrieve(self, query: str, k: int = 10) -> list[ScoredChunk]:
        if not query.strip():
            return []
        return self.knowledge_base.search_by_vector(self.query_vector(query), k=k)


def _mean(vectors: Sequence[Sequence[float]], weights: Sequence[float]) -> list[float]:
    return [sum(w * v[i] for v, w in zip(vectors, weights)) for i in range(len(vectors[0]))]


def feedback_vector(question, top_vectors, alpha: float):
    """The query vector plus `alpha` x the mean of the top hits' vectors, at unit length (Rocchio).

    >>> [round(float(x), 3) for x in feedback_vector([1.0, 0.0], [[0.0, 1.0], [0.0, 1.0]], alpha=1.0)]
    [0.707, 0.707]
    """
    import numpy as np

    expanded = np.asarray(question, dtype=float) + alpha * np.mean(np.asarray(top_vectors, dtype=float), axis=0)
    return expanded / max(float(np.linalg.norm(expanded)), 1e-12)


class FeedbackHybridRetriever:
    """Hybrid retrieval with one round of dense pseudo-relevance feedback.

    1. BM25 and dense lists (`candidates` each), fused by reciprocal rank;
    2. query vector + `alpha` x mean vector of the top `feedback_docs` fused hits, normalised;
    3. a second dense list for that vector, fused with the BM25 list by reciprocal rank.

    `knowledge_base` needs `embed_query`, `search_by_vector(vector, k, filters)`, `bm25_index()`
    and `chunk_vectors(chunks)` (a KnowledgeBase has them). One query embedding per call."""

    def __init__(self, knowledge_base, feedback_docs: int = 5, alpha: float = 1.0, candidates: int = 100,
                 filters=None):
        self.knowledge_base, self.feedback_docs, self.alpha = knowledge_base, feedback_docs, alpha
        self.candidates, self.filters = candidates, filters

    def retrieve(self, query: str, k: int = 10) -> list[ScoredChunk]:
        import numpy as np

        if not query.strip():
            return []
        kb, n = self.knowledge_base, max(k, self.candidates)
        lexical = kb.bm25_index().retrieve(query, k=n, filters=self.filters)
        question = np.asarray(kb.embed_query(query), dtype=float)
        first = reciprocal_rank_fusion([lexical, kb.search_by_vector(question.tolist(), k=n, filters=self.filters)])
        found = [v for v in kb.chunk_vectors(first[:self.feedback_docs]) if v is not None]
        if not found:
            return first[:k]
        second = kb.search_by_vector(feedback_vector(question, found, self.alpha).tolist(), k=n, filters=self.filters)
        return reciprocal_rank_fusion([lexical, second])[:k]
