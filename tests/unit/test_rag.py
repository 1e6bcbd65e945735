"""RAG graph logic with a scripted fake chat model and an in-memory fake knowledge base."""

from __future__ import annotations

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langgraph.checkpoint.memory import InMemorySaver

import graphs.rag.graph as rag_chat
import models
from graphs.checkpointing import CheckpointerError, open_checkpointer
from graphs.rag.context import Context
from rag.store import ScoredChunk


class FakeKnowledgeBase:
    def __init__(self, chunks):
        self.chunks = chunks
        self.queries = []
        self.embeddings = DeterministicFakeEmbedding(size=16)

    def count(self):
        return len(self.chunks)

    def search(self, query, k=4):
        self.queries.append(query)
        return self.chunks[:k]


class RecordingFakeChatModel(FakeListChatModel):
    """Scripted replies; remembers the prompts it was given."""

    seen: list = []

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        self.seen.append(messages)
        return super()._call(messages, stop, run_manager, **kwargs)


CHUNKS = [
    ScoredChunk(text="Full-time employees get 25 days of paid annual leave.", source="/kb/annual-leave.md",
                chunk_index=0, score=0.71, title="Annual leave"),
    ScoredChunk(text="Up to 5 days carry over until 31 March.", source="/kb/annual-leave.md",
                chunk_index=1, score=0.55, title="Annual leave"),
]


@pytest.fixture
def fake_parts(monkeypatch):
    kb = FakeKnowledgeBase(list(CHUNKS))
    llm = RecordingFakeChatModel(responses=["You get 25 days [1].", "Up to 5 days [2]."], seen=[])
    monkeypatch.setattr(rag_chat, "knowledge_base_for", lambda context: kb)
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: llm)
    return kb, llm


def test_answer_cites_numbered_sources(fake_parts):
    kb, llm = fake_parts
    graph = rag_chat.graph
    state = graph.invoke({"messages": [("human", "How many days of annual leave?")]},
                         context=Context(evidence_sentences=0))
    answer = state["messages"][-1]
    assert answer.additional_kwargs["answer_text"] == "You get 25 days [1]."
    assert "Sources:\n[1] annual-leave.md (chunk 0)" in answer.content
    assert [c["cited"] for c in state["citations"]] == [True, False]
    prompt = llm.seen[0][-1].content
    assert "[1] Annual leave\nFull-time employees get 25 days" in prompt
    assert prompt.endswith("Question: How many days of annual leave?\nAnswer:")


def test_small_model_sees_evidence_sentences_with_their_chunk_numbers(fake_parts):
    kb, llm = fake_parts
    state = rag_chat.graph.invoke({"messages": [("human", "Carry over?")]},
                                                 context=Context(model="local", evidence_sentences=-1))
    prompt = llm.seen[0][-1].content
    lines = [l for l in prompt.splitlines() if l.startswith("[")]
    assert len(lines) == 2
    assert set(lines) == {"[1] Full-time employees get 25 days of paid annual leave.",
                          "[2] Up to 5 days carry over until 31 March."}
    assert all(c["evidence"] for c in state["citations"])
    assert Context(model="ollama:qwen2.5").evidence_limit() == 0
    assert Context(model="gguf:/models/grounded-Q8_0.gguf").evidence_limit() == 2  # a fine-tune of the bundled model


def test_uncited_answer_lists_the_sources_consulted(fake_parts, monkeypatch):
    kb, llm = fake_parts
    llm.responses = ["Twenty-five."]
    state = rag_chat.graph.invoke({"messages": [("human", "Leave?")]}, context=Context())
    assert "Sources consulted:\n[1]" in state["messages"][-1].content


def test_memory_across_turns_with_a_checkpointer(fake_parts):
    kb, llm = fake_parts
    graph = rag_chat.builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}}
    graph.invoke({"messages": [("human", "How many days of annual leave?")]}, config, context=Context())
    state = graph.invoke({"messages": [("human", "Can I carry any over?")]}, config, context=Context())
    assert len(state["messages"]) == 4
    second_prompt = [m.content for m in llm.seen[1]]
    # history shows the earlier turn, with the answer's text but not its source list
    assert second_prompt[1:3] == ["How many days of annual leave?", "You get 25 days [1]."]
    assert second_prompt[3].endswith("Question: Can I carry any over?\nAnswer:")


def test_question_before_any_ingestion_explains_what_to_do(monkeypatch):
    monkeypatch.setattr(rag_chat, "knowledge_base_for", lambda context: FakeKnowledgeBase([]))
    state = rag_chat.graph.invoke({"messages": [("human", "Leave?")]}, context=Context(collection="empty"))
    text = state["messages"][-1].content
    assert "is empty" in text and "apps.ask --ingest" in text


def test_context_falls_back_to_environment(monkeypatch):
    monkeypatch.setenv("HEARTH_MODEL", "ollama:qwen2.5")
    monkeypatch.setenv("HEARTH_TOP_K", "7")
    context = Context()
    assert (context.model, context.top_k) == ("ollama:qwen2.5", 7)
    assert Context(model="local").model == "local"


def test_sqlite_checkpointer_persists_between_opens(tmp_path, fake_parts):
    url = f"sqlite:///{tmp_path / 'memory.sqlite'}"
    config = {"configurable": {"thread_id": "persist"}}
    with open_checkpointer(url) as saver:
        rag_chat.builder.compile(checkpointer=saver).invoke({"messages": [("human", "Q1")]}, config, context=Context())
    with open_checkpointer(url) as saver:
        state = rag_chat.builder.compile(checkpointer=saver).get_state(config)
    assert state.values["messages"][0].content == "Q1"


def test_unknown_checkpointer_url_names_the_choices():
    with pytest.raises(CheckpointerError, match="sqlite:///PATH"):
        with open_checkpointer("redis://x"):
            pass
