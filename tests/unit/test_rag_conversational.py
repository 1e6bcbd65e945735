"""Conversational RAG graph logic: follow-up rewriting, the K-turn window and memory, with a
scripted fake chat model and an in-memory fake knowledge base."""

from __future__ import annotations

import doctest

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.runnables import RunnableLambda
from langgraph.checkpoint.memory import InMemorySaver

import graphs.rag_conversational.graph as conversational
import models
from graphs.rag_conversational.context import Context
from rag.store import ScoredChunk
from rag_fakes import FakeKnowledgeBase


class ScriptedFakeChatModel(FakeListChatModel):
    """Scripted replies: `responses` for free text, `structured` (dicts, or exceptions to raise)
    for `with_structured_output`; remembers every prompt, tagged with how it was asked."""

    structured: list = []
    seen: list = []

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        self.seen.append(("text", messages))
        return super()._call(messages, stop, run_manager, **kwargs)

    def with_structured_output(self, schema, **kwargs):
        def reply(messages):
            self.seen.append(("structured", messages))
            item = self.structured.pop(0)
            if isinstance(item, Exception):
                raise item
            return schema(**item)

        return RunnableLambda(reply)

    def prompts(self, kind):
        return [m for k, m in self.seen if k == kind]


def chunk(name, text, index=0):
    return ScoredChunk(text=text, source=f"/travel/{name}", chunk_index=index, score=0.5, title=name)


CHUNKS = [
    chunk("tram-28.md", "Tram 28 is a vintage yellow tram through Alfama and Chiado."),
    chunk("tram-28.md", "A single ticket on tram 28 will cost €3.20 from the driver.", 1),
    chunk("belem.md", "Belém Tower is a fortress in the river; entry costs €8."),
    chunk("sao-jorge-castle.md", "São Jorge Castle opens at 9:00 and a ticket costs €15."),
]


@pytest.fixture
def fake_parts(monkeypatch):
    kb = FakeKnowledgeBase(list(CHUNKS))
    llm = ScriptedFakeChatModel(responses=["An answer [1]."] * 6, structured=[], seen=[])
    monkeypatch.setattr(conversational, "knowledge_base_for", lambda context: kb)
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: llm)
    return kb, llm


def ask(graph, thread, question, **settings):
    return graph.invoke({"messages": [("human", question)]}, {"configurable": {"thread_id": thread}},
                        context=Context(evidence_sentences=0, **settings))


def test_a_standalone_question_is_searched_as_asked_without_a_rewrite_call(fake_parts):
    kb, llm = fake_parts
    graph = conversational.builder.compile(checkpointer=InMemorySaver())
    state = ask(graph, "t", "What is tram 28?")
    assert kb.queries == ["What is tram 28?"]
    assert state["rewritten_by"] == "unchanged" and not llm.prompts("structured")
    assert state["messages"][-1].additional_kwargs["standalone_question"] == "What is tram 28?"


def test_follow_up_is_rewritten_by_the_model_when_the_rewrite_keeps_its_meaning(fake_parts):
    kb, llm = fake_parts
    graph = conversational.builder.compile(checkpointer=InMemorySaver())
    ask(graph, "t", "What is tram 28?")
    llm.structured = [{"question": "How much does a ride on tram 28 cost?"}]
    state = ask(graph, "t", "and how much does it cost?")
    assert kb.queries[-1] == "How much does a ride on tram 28 cost?"
    assert state["rewritten_by"] == "model" and state["asked"] == "and how much does it cost?"
    assert [c["source"] for c in state["citations"]][0] == "/travel/tram-28.md"
    rewrite_prompt = llm.prompts("structured")[0][-1].content
    assert "User: What is tram 28?\nAssistant: An answer [1]." in rewrite_prompt
    assert rewrite_prompt.endswith("Last question: and how much does it cost?\nStandalone question:")
    # the answering step sees the standalone question, and memory kept both turns
    assert llm.prompts("text")[-1][-1].content.endswith("Question: How much does a ride on tram 28 cost?\nAnswer:")
    assert len(state["messages"]) == 4


@pytest.mark.parametrize("model_reply", [{"question": "What is tram 28?"},        # lost "cost"
                                         {"question": "How much does it cost?"},  # lost the topic
                                         ValueError("cut-off JSON")])
def test_a_poor_rewrite_falls_back_to_the_earlier_topic_keywords(fake_parts, model_reply):
    kb, llm = fake_parts
    graph = conversational.builder.compile(checkpointer=InMemorySaver())
    ask(graph, "t", "What is tram 28?")
    llm.structured = [model_reply]
    state = ask(graph, "t", "and how much does it cost?")
    assert kb.queries[-1] == "About tram 28: and how much does it cost?"
    assert state["rewritten_by"] == "keywords"
    assert state["citations"][0]["text"].startswith("A single ticket on tram 28 will cost")


def test_only_the_last_k_turns_are_seen_and_the_topic_comes_from_them(fake_parts):
    kb, llm = fake_parts
    graph = conversational.builder.compile(checkpointer=InMemorySaver())
    ask(graph, "t", "What is tram 28?", history_turns=1)
    ask(graph, "t", "Where is Belém Tower?", history_turns=1)
    llm.structured = [{"question": "What is tram 28?"}]
    state = ask(graph, "t", "how much does it cost?", history_turns=1, model="ollama:fake")
    assert kb.queries[-1] == "About Belém Tower: how much does it cost?"
    conversation = llm.prompts("structured")[0][-1].content
    assert "Where is Belém Tower?" in conversation and "tram 28" not in conversation
    answer_prompt = [m.content for m in llm.prompts("text")[-1]]
    assert answer_prompt[1:3] == ["Where is Belém Tower?", "An answer [1]."] and len(answer_prompt) == 4
    assert state["citations"][0]["source"] == "/travel/belem.md"


@pytest.mark.parametrize("settings, shown", [({"model": "local"}, 0), ({"model": "local", "answer_history_turns": 2}, 2),
                                             ({"model": "ollama:fake"}, 3)])
def test_the_answering_model_sees_the_earlier_turns_except_on_the_small_model(fake_parts, settings, shown):
    kb, llm = fake_parts
    graph = conversational.builder.compile(checkpointer=InMemorySaver())
    for question in ["What is tram 28?", "Where is Belém Tower?", "When does São Jorge Castle open?"]:
        ask(graph, "t", question, **settings)
    llm.structured = [{"question": "How much does a ticket for São Jorge Castle cost?"}]
    ask(graph, "t", "how much does it cost?", **settings)
    answer_prompt = llm.prompts("text")[-1]
    assert len(answer_prompt) == 2 + 2 * shown  # system, the earlier pairs, the question with its sources
    assert answer_prompt[-1].content.endswith("Question: How much does a ticket for São Jorge Castle cost?\nAnswer:")


def test_a_follow_up_of_a_follow_up_builds_on_the_standalone_question(fake_parts):
    kb, llm = fake_parts
    graph = conversational.builder.compile(checkpointer=InMemorySaver())
    ask(graph, "t", "When does São Jorge Castle open?", rewrite_with="keywords")
    ask(graph, "t", "and what does it cost?", rewrite_with="keywords")
    ask(graph, "t", "is it cheaper for students?", rewrite_with="keywords")
    assert kb.queries[1] == "About São Jorge Castle open: and what does it cost?"
    assert kb.queries[2].startswith("About São Jorge Castle")
    assert not llm.prompts("structured")


def test_follow_up_without_a_checkpointer_uses_the_messages_passed_in(fake_parts):
    kb, llm = fake_parts
    state = conversational.graph.invoke(
        {"messages": [("human", "What is tram 28?"), ("ai", "A vintage tram [1]."), ("human", "And the price?")]},
        context=Context(rewrite_with="keywords", evidence_sentences=0))
    assert kb.queries == ["About tram 28: And the price?"]
    assert state["messages"][-1].additional_kwargs["rewritten_by"] == "keywords"


def test_empty_knowledge_base_explains_how_to_ingest(monkeypatch):
    monkeypatch.setattr(conversational, "knowledge_base_for", lambda context: FakeKnowledgeBase([]))
    state = conversational.graph.invoke({"messages": [("human", "What is tram 28?")]}, context=Context(collection="empty"))
    assert "is empty" in state["messages"][-1].content


@pytest.mark.parametrize("question, expected", [
    ("and how much does it cost?", True), ("What about Belém?", True), ("How much?", True),
    ("Is it open on Mondays?", True), ("What is tram 28?", False),
    ("When does São Jorge Castle open on Sundays?", False),
])
def test_follow_up_detection(question, expected):
    assert conversational.is_follow_up(question) is expected


def test_context_reads_the_environment(monkeypatch):
    monkeypatch.setenv("HEARTH_HISTORY_TURNS", "5")
    monkeypatch.setenv("HEARTH_REWRITE_WITH", "keywords")
    assert (Context().history_turns, Context().rewrite_with) == (5, "keywords")


def test_unknown_rewrite_setting_names_the_choices():
    with pytest.raises(ValueError, match="'modle' is not one of model, keywords"):
        Context(rewrite_with="modle")


def test_docstring_examples():
    result = doctest.testmod(conversational)
    assert result.attempted > 0 and result.failed == 0
