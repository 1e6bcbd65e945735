"""Hybrid search on real Qdrant (memory mode), and the rag_hybrid graph answering a handbook
question with the real bundled embeddings and chat model."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from evals.handbook_qa import matches
from rag.knowledge_base import KnowledgeBase, ensure_sample_handbook
from rag.store import ScoredChunk


def test_hybrid_search_with_filters_on_a_memory_collection():
    kb = KnowledgeBase(collection="unit-hybrid", location=":memory:")
    kb.__dict__["embeddings"] = DeterministicFakeEmbedding(size=8)  # a fake embedding model, no weights load
    texts = {"leave.md": "Employees get 25 days of paid annual leave.", "it.md": "Laptops use full-disk encryption.",
             "travel.md": "Book trains for trips under four hours."}
    chunks = [ScoredChunk(text=t, source=s, chunk_index=0, score=0, metadata={"team": s.split(".")[0]})
              for s, t in texts.items()]
    kb.store.upsert_chunks(chunks, kb.embeddings.embed_documents([c.text for c in chunks]))
    assert kb.search("annual leave days", k=1, mode="bm25")[0].source == "leave.md"
    assert kb.search("annual leave days", k=3, mode="hybrid")[0].source == "leave.md"
    assert [c.source for c in kb.search("annual leave", k=3, mode="hybrid", filters={"team": "it"})] == ["it.md"]
    assert [c.source for c in kb.search("trains", k=3, mode="dense", filters={"source": ["travel.md"]})] == ["travel.md"]
    assert kb.search("annual leave days", k=3, mode="hybrid", feedback=True)[0].source == "leave.md"
    assert kb.chunk_vectors([chunks[0]])[0] is not None
    with pytest.raises(ValueError, match="dense, bm25, hybrid"):
        kb.search("x", mode="sparse")
    with pytest.raises(ValueError, match="mode='hybrid'"):
        kb.search("x", mode="bm25", feedback=True)
    # the lexical index follows the collection
    extra = ScoredChunk(text="Annual leave requests go through the HR portal.", source="portal.md", chunk_index=0, score=0)
    kb.store.upsert_chunks([extra], kb.embeddings.embed_documents([extra.text]))
    assert "portal.md" in {c.source for c in kb.search("HR portal", k=2, mode="bm25")}


@pytest.mark.slow
def test_rag_hybrid_answers_a_handbook_question_with_citations(tmp_path):
    from graphs.rag_hybrid.context import Context
    from graphs.rag_hybrid.graph import builder

    context = Context(model="local?max_tokens=48&temperature=0", collection="handbook-hybrid",
                      index_location=str(tmp_path / "qdrant"))
    kb = KnowledgeBase(collection=context.collection, location=context.index_location)
    assert ensure_sample_handbook(kb) is not None and kb.count() > 0
    hits = kb.search("How many days of annual leave do I get?", k=4, mode="hybrid", feedback=True, candidates=100)
    assert Path(hits[0].source).name == "annual-leave.md" and any("25 days" in h.text for h in hits)

    state = builder.compile().invoke({"messages": [("human", "How many days of annual leave do I get?")]},
                                     context=context)
    answer = state["messages"][-1]
    assert matches("25", answer.additional_kwargs["answer_text"]), answer.content  # the fact, as a whole number
    how = state["retrieval"]
    assert (how["mode"], how["feedback"], how["reranker"]) == ("hybrid", True, None)
    cited = [c for c in state["citations"] if c["cited"]]
    assert cited and all(c["label"].startswith("annual-leave.md") for c in cited)
    assert "Sources:" in answer.content and "annual-leave.md" in answer.content


@pytest.mark.slow
def test_rag_hybrid_says_the_handbook_does_not_cover_jury_duty(tmp_path):
    from graphs.rag_hybrid.context import Context
    from graphs.rag_hybrid.graph import builder

    context = Context(model="local?max_tokens=48&temperature=0", collection="handbook", index_location=str(tmp_path / "q"))
    ensure_sample_handbook(KnowledgeBase(collection="handbook", location=context.index_location))
    state = builder.compile().invoke({"messages": [("human", "How many days of paid leave do I get for jury duty?")]},
                                     context=context)
    answer = state["messages"][-1]
    assert answer.additional_kwargs["abstained"] and state["citations"] == []
    assert "staff handbook" in answer.content
