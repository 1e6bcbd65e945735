"""The hybrid RAG graph with a scripted fake chat model and a fake knowledge base that records
how it was searched (the real search: tests/integration/test_rag_hybrid_live.py)."""

from __future__ import annotations

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import FakeListChatModel

import graphs.rag_hybrid.graph as hybrid_graph
import models
from graphs.rag_hybrid.context import Context
from rag.store import ScoredChunk

CHUNKS = [
    ScoredChunk(text="Full-time employees get 25 days of paid annual leave.", source="/kb/annual-leave.md",
                chunk_index=0, score=0.03, title="Annual leave"),
    ScoredChunk(text="Up to 5 days carry over until 31 March.", source="/kb/annual-leave.md",
                chunk_index=1, score=0.02, title="Annual leave"),
]


class RecordingKnowledgeBase:
    def __init__(self, chunks):
        self.chunks, self.searches = chunks, []
        self.embeddings = DeterministicFakeEmbedding(size=16)

    def count(self):
        return len(self.chunks)

    def search(self, query, k=4, **how):
        self.searches.append((query, k, how))
        return self.chunks[:k]


@pytest.fixture
def fake_parts(monkeypatch):
    kb = RecordingKnowledgeBase(list(CHUNKS))
    llm = FakeListChatModel(responses=["You get 25 days [1]."])  # scripted fake chat model
    monkeypatch.setattr(hybrid_graph, "knowledge_base_for", lambda context: kb)
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: llm)
    return kb, llm


def test_hybrid_graph_searches_as_configured_and_cites(fake_parts):
    kb, _ = fake_parts
    context = Context(evidence_sentences=0, top_k=2, search_mode="hybrid", feedback=True, reranker="e5-small",
                      candidates=30)
    state = hybrid_graph.builder.compile().invoke(
        {"messages": [("human", "How many days of annual leave?")]}, context=context)
    assert kb.searches == [("How many days of annual leave?", 2,
                            {"mode": "hybrid", "feedback": True, "rerank": "e5-small", "candidates": 30})]
    answer = state["messages"][-1]
    assert "You get 25 days [1]." in answer.content and "[1] annual-leave.md (chunk 0)" in answer.content
    assert [c["cited"] for c in state["citations"]] == [True, False]
    assert state["retrieval"]["mode"] == "hybrid" and state["retrieval"]["reranker"] == "e5-small"


def test_no_reranker_and_an_empty_index_answer_without_the_model(fake_parts, monkeypatch):
    kb, _ = fake_parts
    kb.chunks = []
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: pytest.fail("no model call expected"))
    state = hybrid_graph.graph.invoke({"messages": [("human", "Anything?")]},
                                      context=Context(reranker="", collection="empty"))
    assert kb.searches[0][2]["rerank"] is None
    assert "knowledge base 'empty' is empty" in state["messages"][-1].content


def test_context_reads_the_environment(monkeypatch):
    monkeypatch.setenv("HEARTH_SEARCH_MODE", "bm25")
    monkeypatch.setenv("HEARTH_RERANKER", "")
    monkeypatch.setenv("HEARTH_CANDIDATES", "20")
    monkeypatch.setenv("HEARTH_FEEDBACK", "0")
    context = Context()
    assert (context.search_mode, context.reranker, context.candidates, context.feedback) == ("bm25", "", 20, False)


def test_feedback_is_only_asked_for_in_hybrid_mode(fake_parts):
    kb, _ = fake_parts
    hybrid_graph.graph.invoke({"messages": [("human", "Leave?")]},
                              context=Context(search_mode="bm25", feedback=True, evidence_sentences=0))
    assert kb.searches[0][2]["mode"] == "bm25" and kb.searches[0][2]["feedback"] is False


@pytest.mark.parametrize("value, expected", [("off", False), ("0", False), ("false", False), ("no", False), ("OFF ", False),
                                             ("", False), ("on", True), ("1", True), ("yes", True), ("true", True)])
def test_feedback_switch_reads_off_words_as_off(monkeypatch, value, expected):
    monkeypatch.setenv("HEARTH_FEEDBACK", value)
    assert Context().feedback is expected


def test_feedback_is_on_when_the_variable_is_unset(monkeypatch):
    monkeypatch.delenv("HEARTH_FEEDBACK", raising=False)
    assert Context().feedback is True
