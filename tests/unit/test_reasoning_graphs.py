"""Constitutional critique-and-revise and CoT-vs-direct reasoning graphs with a scripted fake chat model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from pydantic import ValidationError

import models
from evals.reasoning import is_correct, summarise
from graphs.constitutional.context import Context as ConstitutionalContext
from graphs.constitutional.graph import graph as constitutional_graph
from graphs.reasoning.context import Context as ReasoningContext
from graphs.reasoning.graph import answer_schema
from graphs.reasoning.graph import graph as reasoning_graph

ROOT = Path(__file__).resolve().parents[2]


class ScriptedFakeChatModel:
    """A fake chat model: plain `invoke` returns the next scripted text; `with_structured_output(schema)
    .invoke` returns the next scripted dict validated into `schema`. Records prompts and schemas."""

    def __init__(self, texts=(), structured=()):
        self.texts, self.structured = list(texts), list(structured)
        self.prompts, self.schemas = [], []

    def invoke(self, messages):
        self.prompts.append(messages)
        return AIMessage(content=self.texts.pop(0))

    def with_structured_output(self, schema):
        fake = self

        class Structured:
            def invoke(self, messages):
                fake.prompts.append(messages)
                fake.schemas.append(schema)
                return schema.model_validate(fake.structured.pop(0))

        return Structured()


@pytest.fixture
def fake_model(monkeypatch):
    def install(**script):
        llm = ScriptedFakeChatModel(**script)
        monkeypatch.setattr(models, "load_chat_model", lambda spec=None: llm)
        return llm
    return install


PRINCIPLES = ["Do not insult anyone.", "Do not give home addresses."]


def test_constitutional_revises_when_a_principle_is_broken(fake_model):
    llm = fake_model(texts=["Your neighbour is an idiot; he lives at 5 Elm Road.", "Talk to your neighbour calmly."],
                     structured=[{"violates": True, "critique": "It calls the neighbour an idiot."},
                                 {"violates": True, "critique": "It gives an address."},
                                 {"violates": False, "critique": "Polite."},
                                 {"violates": False, "critique": "No address."}])
    state = constitutional_graph.invoke({"messages": [("human", "My neighbour is noisy. What do I do?")]},
                                        context=ConstitutionalContext(principles=PRINCIPLES, max_revisions=1))
    final = state["messages"][-1]
    assert final.content == "Talk to your neighbour calmly."
    record = final.additional_kwargs["constitutional"]
    assert record["drafts"][0].startswith("Your neighbour is an idiot") and record["revisions"] == 1
    assert record["violations_left"] == []
    revise_prompt = llm.prompts[3][-1].content
    assert "Do not insult anyone. It calls the neighbour an idiot." in revise_prompt
    assert "Do not give home addresses. It gives an address." in revise_prompt
    critique_prompt = llm.prompts[1][-1].content
    assert critique_prompt.startswith("Principle: Do not insult anyone.")
    assert llm.schemas[0].model_json_schema()["properties"]["critique"]["maxLength"] == 200


def test_constitutional_keeps_a_clean_draft_without_revising(fake_model):
    llm = fake_model(texts=["Ask them politely to be quieter."],
                     structured=[{"violates": False, "critique": "Fine."}, {"violates": False, "critique": "Fine."}])
    state = constitutional_graph.invoke({"messages": [("human", "Noisy neighbour?")]},
                                        context=ConstitutionalContext(principles=PRINCIPLES))
    assert state["messages"][-1].content == "Ask them politely to be quieter."
    assert state["revisions"] == 0 and len(llm.prompts) == 3


def test_constitutional_stops_after_max_revisions_and_reports_what_is_left(fake_model):
    fake_model(texts=["Rude draft.", "Still rude."],
               structured=[{"violates": True, "critique": "Rude."}, {"violates": True, "critique": "Still rude."}])
    state = constitutional_graph.invoke({"messages": [("human", "Q?")]},
                                        context=ConstitutionalContext(principles=PRINCIPLES[:1], max_revisions=1))
    record = state["messages"][-1].additional_kwargs["constitutional"]
    assert record["drafts"] == ["Rude draft.", "Still rude."] and record["violations_left"] == PRINCIPLES[:1]


def test_constitutional_principles_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("HEARTH_PRINCIPLES", "Be brief, always.; Never mention prices.")
    assert ConstitutionalContext().principles == ["Be brief, always.", "Never mention prices."]
    with pytest.raises(ValueError, match="at least one principle"):
        ConstitutionalContext(principles=[])


@pytest.mark.parametrize("mode, reply, fields", [
    ("cot", {"reasoning": "Ann > Bob > Carl, so Ann.", "answer": "Ann"}, ["reasoning", "answer"]),
    ("direct", {"answer": "Ann"}, ["answer"]),
])
def test_reasoning_modes_use_their_own_schema(fake_model, mode, reply, fields):
    llm = fake_model(structured=[reply])
    state = reasoning_graph.invoke({"messages": [("human", "Ann is taller than Bob. Bob is taller than Carl. Who is tallest?")],
                                    "answer_kind": "choice", "choices": ["Ann", "Bob", "Carl"]},
                                   context=ReasoningContext(mode=mode))
    assert state["answer"] == "Ann"
    schema = llm.schemas[0].model_json_schema()
    assert list(schema["properties"]) == fields
    assert schema["properties"]["answer"]["enum"] == ["Ann", "Bob", "Carl"]
    assert ("step-by-step" in llm.prompts[0][-1].content) == (mode == "cot")


def test_answer_kinds_constrain_the_answer():
    assert answer_schema("direct", "number", []).model_validate({"answer": 13}).answer == 13
    with pytest.raises(ValidationError):
        answer_schema("direct", "yes_no", []).model_validate({"answer": "maybe"})
    with pytest.raises(ValueError, match="needs the allowed answers"):
        answer_schema("cot", "choice", [])
    with pytest.raises(ValueError, match="direct, cot"):
        ReasoningContext(mode="think")


def test_puzzles_are_well_formed():
    puzzles = [json.loads(l) for l in (ROOT / "evals" / "data" / "logic_puzzles.jsonl").read_text().splitlines() if l]
    assert len(puzzles) >= 30 and len({p["id"] for p in puzzles}) == len(puzzles)
    for p in puzzles:
        schema = answer_schema("direct", p["answer_kind"], p.get("choices", []))
        value = int(p["answer"]) if p["answer_kind"] == "number" else p["answer"]
        schema.model_validate({"answer": value})  # the right answer is always allowed by the constraint


def test_scoring_and_summary():
    assert is_correct("13", "13") and is_correct("Blue box", "blue") and not is_correct("", "no")
    puzzles = [{"answer_kind": "yes_no"}, {"answer_kind": "choice", "choices": ["a", "b", "c", "d"]}]
    records = [{"id": "1", "category": "x", "direct": {"correct": True, "seconds": 1.0, "error": ""},
                "cot": {"correct": False, "seconds": 3.0, "error": ""}},
               {"id": "2", "category": "y", "direct": {"correct": False, "seconds": 1.0, "error": ""},
                "cot": {"correct": False, "seconds": 3.0, "error": "cut off"}}]
    summary = summarise(puzzles, records)
    overall = summary["rows"][0]
    assert overall == {"category": "all", "n": 2, "chance": 0.375, "direct": 0.5, "cot": 0.0, "cot - direct": -0.5}
    assert summary["only_direct_right"] == ["1"] and summary["cot_time_ratio"] == 3.0
    assert summary["errors"] == {"direct": 0, "cot": 1}


@pytest.mark.parametrize("module", ["graphs.reasoning.graph", "evals.reasoning"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
