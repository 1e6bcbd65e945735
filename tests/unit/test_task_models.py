"""Task models: a fine-tuned model set for one task serves that task's graph only."""

import pytest

from graphs.rag.context import Context as RagContext
from graphs.rag_hybrid.context import Context as HybridContext
from graphs.react_agent.context import Context as AgentContext
from graphs.text2sql.context import Context as SqlContext
from models.settings import configured_model


def test_each_graph_takes_its_task_model_and_falls_back_to_the_general_one(monkeypatch):
    monkeypatch.setenv("HEARTH_MODEL", "ollama:general")
    monkeypatch.setenv("HEARTH_SQL_MODEL", "registry:hearth-sql@production")
    monkeypatch.delenv("HEARTH_TOOLS_MODEL", raising=False)
    monkeypatch.setenv("HEARTH_RAG_MODEL", "gguf:/models/grounded.gguf")
    assert SqlContext().model == "registry:hearth-sql@production"
    assert AgentContext().model == "ollama:general"
    assert RagContext().model == "gguf:/models/grounded.gguf"
    assert HybridContext().model == "gguf:/models/grounded.gguf"  # the RAG variants inherit it


def test_an_explicit_model_wins_over_the_task_setting(monkeypatch):
    monkeypatch.setenv("HEARTH_SQL_MODEL", "registry:hearth-sql@production")
    assert SqlContext(model="local").model == "local"


def test_an_unknown_task_is_an_error_naming_the_known_ones():
    with pytest.raises(ValueError, match="sql, tools, rag"):
        configured_model("sq1")
