"""Agentic RAG graph logic: planning, the `Send` fan-out, merging the branches and citing the
deduplicated union of sources, with a scripted fake chat model and an in-memory fake knowledge base."""

from __future__ import annotations

import doctest
import re

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.runnables import RunnableLambda
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Send

import graphs.rag_agentic.graph as agentic
import models
from graphs.rag_agentic.context import Context
from graphs.rag_agentic.state import State
from rag.demo import trip_themes
from rag.store import ScoredChunk
from rag_fakes import FakeKnowledgeBase


class ScriptedFakeChatModel(FakeListChatModel):
    """Scripted replies: `responses` for free text, `structured` (dicts, or exceptions to raise)
    for `with_structured_output`; remembers every prompt."""

    structured: list = []
    seen: list = []

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        self.seen.append(messages)
        return super()._call(messages, stop, run_manager, **kwargs)

    def with_structured_output(self, schema, **kwargs):
        def reply(messages):
            self.seen.append(messages)
            item = self.structured.pop(0)
            if isinstance(item, Exception):
                raise item
            return schema(**item)

        return RunnableLambda(reply)


def chunk(name, text, index=0):
    return ScoredChunk(text=text, source=f"/travel/{name}", chunk_index=index, score=0.5, title=name)


GUIDES = [
    chunk("alfama.md", "Alfama is the old neighbourhood of Lisbon below the castle, with a viewpoint over the rooftops."),
    chunk("castle.md", "The castle has the best view of the city; a ticket costs €15."),
    chunk("belem.md", "The historic monuments of Belém, the monastery and the tower, are worth half a day."),
    chunk("bairro-alto.md", "Bairro Alto is the neighbourhood for bars and nightlife in the evening."),
    chunk("sintra.md", "Sintra is a palace town, an easy day trip by train from Rossio."),
    chunk("cascais.md", "Cascais is a seaside town with beaches, a day trip by train from Cais do Sodré."),
    chunk("food.md", "Try the local custard pastries and dishes of salted cod."),
    chunk("transport.md", "A ticket on the tram or metro costs €1.85 with a travel card."),
]


@pytest.fixture
def fake_parts(monkeypatch):
    kb = FakeKnowledgeBase(list(GUIDES))
    llm = ScriptedFakeChatModel(responses=["unused"], structured=[], seen=[])
    monkeypatch.setattr(agentic, "knowledge_base_for", lambda context: kb)
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: llm)
    return kb, llm


def run(question, checkpointer=None, config=None, **settings):
    graph = agentic.builder.compile(checkpointer=checkpointer)
    return graph.invoke({"messages": [("human", question)]}, config, context=Context(**settings))


def test_router_sends_one_branch_per_sub_question():
    state = State(sub_questions=["Which castle?", "Which food?", "Which tram?"])
    sends = agentic.route_sub_questions(state)
    assert all(isinstance(s, Send) and s.node == "retrieve_for_sub_question" for s in sends)
    assert [s.arg for s in sends] == [{"index": 0, "sub_question": "Which castle?"},
                                      {"index": 1, "sub_question": "Which food?"},
                                      {"index": 2, "sub_question": "Which tram?"}]
    assert agentic.route_sub_questions(State()) == "answer_without_sources"


def test_trip_plan_fans_out_and_merges_every_branch(fake_parts):
    kb, llm = fake_parts
    state = run("Plan a 3-day trip to Lisbon", model="local")
    assert state["planned_by"] == "template" and not llm.seen  # no model call on the small model
    assert len(state["sub_questions"]) == 8 and sorted(kb.queries) == sorted(state["sub_questions"])
    assert sorted(f["index"] for f in state["findings"]) == list(range(8))
    answer = state["messages"][-1].additional_kwargs["answer_text"]
    headings = re.findall(r"^\*\*(.+)\*\*$", answer, flags=re.MULTILINE)
    assert headings[:3] == ["Day 1: the old town and the castle", "Day 2: monuments and an evening out", "Day 3: a day trip"]
    assert headings[3:] == ["Food to try", "Getting around"]
    assert answer.startswith("A 3-day plan for Lisbon")
    assert "day trip by train" in answer.split("**Day 3")[1].split("**Food")[0]


def test_citations_are_numbered_over_the_deduplicated_union(fake_parts):
    kb, llm = fake_parts
    state = run("Plan a 3-day trip to Lisbon", model="local")
    citations = state["citations"]
    keys = [(c["source"], c["chunk_index"]) for c in citations]
    assert len(keys) == len(set(keys)) == len(state["retrieved"])
    assert [c["number"] for c in citations] == list(range(1, len(citations) + 1))
    assert any(len(c["sub_questions"]) > 1 for c in citations)  # found by several branches, numbered once
    message = state["messages"][-1]
    cited_in_text = {int(n) for n in re.findall(r"\[(\d+)\]", message.additional_kwargs["answer_text"])}
    assert cited_in_text == {c["number"] for c in citations if c["cited"]}
    assert min(cited_in_text) == 1 and max(cited_in_text) == len(cited_in_text)  # cited sources come first
    footer = message.content.split("Sources:\n")[1].splitlines()
    assert footer == [f"[{c['number']}] {c['label']}" for c in citations if c["cited"]]
    # every bullet cites the chunk its sentence came from
    by_number = {c["number"]: c["text"] for c in citations}
    for sentence, number in re.findall(r"^- (.+) \[(\d+)\]$", message.additional_kwargs["answer_text"], flags=re.MULTILINE):
        assert sentence in by_number[int(number)]


def test_model_sub_questions_are_checked_and_capped(fake_parts):
    kb, llm = fake_parts
    llm.structured = [{"questions": ["Which castle has the best view?", "which castle has the best view?", "Yes.",
                                     "Castle view", "Where do I buy a tram ticket?", "What about the weather on Mars?"]}]
    llm.responses = ["The castle [1] and a tram ticket [2]."]
    state = run("Which castle has the best view, and where do I buy a tram ticket?", model="ollama:fake",
                max_sub_questions=2)
    assert state["planned_by"] == "model"
    assert state["sub_questions"] == ["Which castle has the best view?", "Where do I buy a tram ticket?"]
    assert sorted(kb.queries) == sorted(state["sub_questions"])
    assert state["messages"][-1].additional_kwargs["written_by"] == "model"


def test_unusable_model_plan_falls_back_to_splitting_the_question(fake_parts):
    kb, llm = fake_parts
    llm.structured = [ValueError("cut-off JSON")]
    state = run("How much is a tram ticket and when does the castle open?", model="local", synthesis="template")
    assert state["planned_by"] == "split"
    assert state["sub_questions"] == ["How much is a tram ticket?", "when does the castle open?"]
    answer = state["messages"][-1].additional_kwargs["answer_text"]
    assert "**How much is a tram ticket?**" in answer and "[1]" in answer


def test_model_synthesis_without_citations_or_days_falls_back_to_the_template(fake_parts):
    kb, llm = fake_parts
    llm.responses = ["Day 1: see the castle [2]. Day 2: Belém [3]."]  # cites, but Day 3 is missing
    state = run("Plan a 3-day trip to Lisbon", model="ollama:fake", planner="template")
    message = state["messages"][-1]
    assert message.additional_kwargs["written_by"] == "template"
    assert "**Day 3: a day trip**" in message.content


def test_model_synthesis_that_cites_every_day_is_kept(fake_parts):
    kb, llm = fake_parts
    llm.responses = ["Day 1: Alfama [1]. Day 2: Belém [3]. Day 3: Sintra [5]."]
    state = run("Plan a 3-day trip to Lisbon", model="ollama:fake", planner="template")
    message = state["messages"][-1]
    assert message.additional_kwargs["written_by"] == "model"
    assert message.content.endswith("Sources:\n" + "\n".join(
        f"[{c['number']}] {c['label']}" for c in state["citations"] if c["number"] in (1, 3, 5)))


def test_each_turn_starts_with_fresh_findings(fake_parts):
    kb, llm = fake_parts
    saver, config = InMemorySaver(), {"configurable": {"thread_id": "trip"}}
    run("Plan a 3-day trip to Lisbon", saver, config, model="local")
    state = run("Plan a 1-day trip to Lisbon", saver, config, model="local", max_sub_questions=2)
    assert len(state["findings"]) == len(state["sub_questions"]) == 2
    assert len(state["messages"]) == 4


def test_plan_is_capped_by_max_sub_questions_keeping_one_question_per_day():
    questions, parts = agentic.template_trip_plan("Plan a 5-day trip to Lisbon", limit=5)
    assert parts == [f"Day {d}: {theme}" for d, (theme, _) in enumerate(trip_themes(), start=1)]
    questions, parts = agentic.template_trip_plan("Plan a 10-day trip to Lisbon", limit=20)
    assert len({p for p in parts if p.startswith("Day")}) == len(trip_themes())


def test_empty_knowledge_base_explains_how_to_ingest(monkeypatch):
    monkeypatch.setattr(agentic, "knowledge_base_for", lambda context: FakeKnowledgeBase([]))
    state = run("Plan a 3-day trip to Lisbon", collection="empty")
    assert "is empty" in state["messages"][-1].content


def test_context_defaults_to_the_travel_guides_and_reads_the_environment(monkeypatch):
    assert Context().collection == "travel"
    assert Context(model="local").synthesis_mode() == "template"
    assert Context(model="ollama:qwen2.5").planner_mode(is_plan=True) == "model"
    monkeypatch.setenv("HEARTH_MAX_SUB_QUESTIONS", "3")
    assert Context().max_sub_questions == 3


@pytest.mark.parametrize("settings, named", [({"planner": "llm"}, "planner='llm'"),
                                             ({"synthesis": "gpt"}, "synthesis='gpt'"),
                                             ({"max_sub_questions": 0}, "max_sub_questions=0")])
def test_bad_settings_name_the_choices(settings, named):
    with pytest.raises(ValueError, match=re.escape(named)):
        Context(**settings)


def test_docstring_examples():
    import graphs.rag_agentic.state as state_module

    for module in (agentic, state_module):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0
