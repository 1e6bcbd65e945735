"""The agentic and conversational RAG graphs on the real bundled models (SmolLM2-135M, MiniLM)
and real Qdrant local mode over the Lisbon guides in data/travel/guides.

    python -m pytest tests/integration/test_rag_variants_live.py -q -s     # -s prints the transcripts
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from graphs.rag_agentic.context import Context as AgenticContext
from graphs.rag_agentic.graph import builder as agentic_builder
from graphs.rag_conversational.context import Context as ConversationalContext
from graphs.rag_conversational.graph import builder as conversational_builder
from rag.demo import TRAVEL_GUIDES, ensure_demo_corpus
from rag.knowledge_base import KnowledgeBase

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def travel_index(tmp_path_factory):
    location = str(tmp_path_factory.mktemp("qdrant"))
    report = ensure_demo_corpus(KnowledgeBase(collection="travel", location=location))
    assert len(report.added) == len(list(TRAVEL_GUIDES.glob("*.md"))) and not report.errors
    return location


def test_lisbon_demo_plans_three_days_citing_the_guides(travel_index):
    state = agentic_builder.compile().invoke({"messages": [("human", "Plan a 3-day trip to Lisbon")]},
                                           context=AgenticContext(model="local", index_location=travel_index))
    message = state["messages"][-1]
    print("\n" + message.content)
    answer = message.additional_kwargs["answer_text"]
    days = re.split(r"^\*\*Day \d: .*\*\*$", answer, flags=re.MULTILINE)
    assert len(days) == 4, "expected Day 1, Day 2 and Day 3 sections"
    cited = {c["number"]: c for c in state["citations"] if c["cited"]}
    for day in days[1:]:
        items = re.findall(r"^- (.+) \[(\d+)\]$", day.split("\n\n**")[0], flags=re.MULTILINE)
        assert items, "every day has cited items"
        for sentence, number in items:
            assert sentence in cited[int(number)]["text"]  # the cited chunk says it
    day_trip = days[3].split("\n\n**")[0]
    day_trip_sources = {Path(cited[int(n)]["source"]).name for n in re.findall(r"\[(\d+)\]", day_trip)}
    assert day_trip_sources & {"sintra-day-trip.md", "cascais-day-trip.md"}  # retrieval found a day-trip guide
    assert all(Path(c["source"]).parent == TRAVEL_GUIDES for c in cited.values())
    assert len(cited) >= 6 and len({Path(c["source"]).name for c in cited.values()}) >= 5


@pytest.mark.xfail(reason="measured 2026-12-02: the bundled 135M model's plan does not cite and cover every day, so "
                          "the template answers; this is the model gap the fine-tuning issue (14) is to close",
                   strict=False)
def test_lisbon_plan_on_the_model_path_is_written_by_the_model_and_grounded(travel_index):
    """synthesis="model": the 135M model writes the plan from the numbered sources; it is kept only
    when it cites and covers every day, else the template answers (and this test fails, by design)."""
    state = agentic_builder.compile().invoke(
        {"messages": [("human", "Plan a 2-day trip to Lisbon")]},
        context=AgenticContext(model="local?max_tokens=400&temperature=0", index_location=travel_index, synthesis="model"))
    message = state["messages"][-1]
    print("\n" + message.content)
    assert message.additional_kwargs["written_by"] == "model"
    answer = message.additional_kwargs["answer_text"]
    assert "Day 1" in answer and "Day 2" in answer
    cited = {c["number"]: c for c in state["citations"] if c["cited"]}
    assert cited and all(Path(c["source"]).parent == TRAVEL_GUIDES for c in cited.values())
    for number in {int(n) for n in re.findall(r"\[(\d+)\]", answer)}:
        assert number in cited  # every marker points at a retrieved guide


def test_porto_plan_is_refused_over_the_lisbon_guides(travel_index):
    state = agentic_builder.compile().invoke({"messages": [("human", "Plan a 2-day trip to Porto focused on food")]},
                                             context=AgenticContext(model="local", index_location=travel_index))
    message = state["messages"][-1]
    text = message.additional_kwargs["answer_text"]
    assert message.additional_kwargs["abstained"] and state["citations"] == []
    assert "nothing on Porto" in text and "Lisbon only" in text and "Day 1" not in text


def test_follow_up_is_rewritten_and_answered_from_the_tram_guide(travel_index):
    graph = conversational_builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "lisbon"}}
    context = ConversationalContext(model="local", collection="travel", index_location=travel_index)
    transcript = []
    for question in ["What is tram 28?", "And how much does it cost?"]:
        state = graph.invoke({"messages": [("human", question)]}, config, context=context)
        transcript.append(f"> {question}\n  searched: {state['question']} ({state['rewritten_by']})\n"
                          f"{state['messages'][-1].content}")
    print("\n" + "\n\n".join(transcript))
    assert state["rewritten_by"] in ("model", "keywords")
    assert "28" in state["question"] and "cost" in state["question"].lower()
    assert Path(state["retrieved"][0].source).name == "tram-28.md"
    top_evidence = [c for c in state["citations"] if c["evidence"]]
    assert any("€" in c["evidence"] and Path(c["source"]).name == "tram-28.md" for c in top_evidence)
    assert len(state["messages"]) == 4 and state["messages"][-1].additional_kwargs["answer_text"].strip()
