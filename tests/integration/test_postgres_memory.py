"""Multi-turn memory in a real PostgreSQL server (./dev test starts one and sets TEST_POSTGRES_URL)."""

from __future__ import annotations

import os
import uuid

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import FakeListChatModel

import graphs.rag.graph as rag_graph
import models
from graphs.checkpointing import CheckpointerError, open_checkpointer
from graphs.rag.context import Context
from rag.store import ScoredChunk

pytestmark = pytest.mark.slow

URL = os.environ.get("TEST_POSTGRES_URL")
needs_postgres = pytest.mark.skipif(not URL, reason="TEST_POSTGRES_URL is not set: run the suite with ./dev test")


class OneChunkKnowledgeBase:
    embeddings = DeterministicFakeEmbedding(size=8)

    def count(self):
        return 1

    def search(self, query, k=4):
        return [ScoredChunk(text="25 days of annual leave.", source="/kb/leave.md", chunk_index=0, score=0.9)]


@needs_postgres
def test_conversation_survives_reopening_the_postgres_checkpointer(monkeypatch):
    monkeypatch.setattr(rag_graph, "knowledge_base_for", lambda context: OneChunkKnowledgeBase())
    # scripted fake chat model: this test is about the checkpointer, not the answer
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: FakeListChatModel(responses=["25 days [1].", "Yes [1]."]))
    config = {"configurable": {"thread_id": f"pg-{uuid.uuid4().hex}"}}
    with open_checkpointer(URL) as saver:
        rag_graph.builder.compile(checkpointer=saver).invoke({"messages": [("human", "Leave?")]}, config, context=Context())
    with open_checkpointer(URL) as saver:
        graph = rag_graph.builder.compile(checkpointer=saver)
        state = graph.invoke({"messages": [("human", "Really?")]}, config, context=Context())
    assert [m.type for m in state["messages"]] == ["human", "ai", "human", "ai"]
    assert state["messages"][0].content == "Leave?"


def test_unreachable_postgres_is_a_clear_error():
    with pytest.raises(CheckpointerError, match="Could not connect to PostgreSQL at postgresql://u:\\*\\*\\*@127.0.0.1:1/db"):
        with open_checkpointer("postgresql://u:secret@127.0.0.1:1/db?connect_timeout=2"):
            pass
