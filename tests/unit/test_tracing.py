"""Graph runs, nodes and model calls become OpenTelemetry spans (models/tracing.py).

A scripted fake chat model (LangChain's GenericFakeChatModel) stands in for a real one: these
tests check the span tree, not answers. The HEARTH_TRACING switch is checked in a subprocess,
because OpenTelemetry allows one tracer provider per process.

    .venv/bin/python -m pytest tests/unit/test_tracing.py -q
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.tracing import TracingConfigError, parse_tracing

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r'''
import sys
from typing import TypedDict
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import StateGraph, START, END
import models  # HEARTH_TRACING in the environment switches tracing on here

class State(TypedDict):
    question: str
    answer: str

def answer(state: State) -> dict:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="Twenty-five days.")]))
    return {"answer": model.invoke([HumanMessage(content=state["question"])]).content}

builder = StateGraph(State)
builder.add_node(answer)
builder.add_edge(START, "answer")
builder.add_edge("answer", END)
graph = builder.compile(name="leave_graph")
out = graph.invoke({"question": "How many days of leave? My email is ana@example.com"},
                   config={"metadata": {"request_id": "req-42", "variant": "B"}})
print(out["answer"])
'''


def run_traced(tmp_path, **env):
    spans = tmp_path / "spans.jsonl"
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HEARTH_TRACING": f"jsonl:{spans}", **env})
    assert done.returncode == 0, done.stderr
    assert "Twenty-five days." in done.stdout
    return [json.loads(line) for line in spans.read_text().splitlines()]


def test_a_graph_run_is_one_trace_with_node_and_model_spans(tmp_path):
    spans = run_traced(tmp_path)
    by_kind = {}
    for span in spans:
        by_kind.setdefault(span["attributes"]["hearth.kind"], []).append(span)
    (root,) = by_kind["graph"]
    assert root["name"] == "leave_graph" and root["parent_id"] is None
    assert any(s["name"] == "answer" for s in by_kind["node"])
    (llm,) = by_kind["llm"]
    assert len({s["trace_id"] for s in spans}) == 1, "every span of the run belongs to one trace"
    ids = {s["span_id"]: s for s in spans}
    parent = ids[llm["parent_id"]]
    while parent["parent_id"]:
        parent = ids[parent["parent_id"]]
    assert parent is root
    for span in spans:  # the request id and the A/B variant follow the run into every span
        assert span["attributes"]["hearth.request_id"] == "req-42"
        assert span["attributes"]["hearth.variant"] == "B"


def test_prompts_and_answers_stay_out_unless_switched_on(tmp_path):
    quiet = json.dumps(run_traced(tmp_path / "quiet"))
    assert "ana@example.com" not in quiet and "Twenty-five" not in quiet
    loud = json.dumps(run_traced(tmp_path / "loud", HEARTH_TRACE_CONTENT="on"))
    assert "ana@example.com" in loud and "Twenty-five days." in loud


def test_bad_setting_names_the_fix():
    with pytest.raises(TracingConfigError, match="jsonl:/path/spans.jsonl"):
        parse_tracing("zipkin")
    with pytest.raises(TracingConfigError, match="collector URL"):
        parse_tracing("otlp")
    assert parse_tracing("off") == ("off", "") and parse_tracing("") == ("off", "")
