"""The lab assistant end to end on the real embedded model (SmolLM2-135M), real BPE training,
real tiktoken cl100k_base, in a private HEARTH_HOME."""

from __future__ import annotations

import time

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from graphs.lab_assistant.context import Context
from graphs.lab_assistant.graph import builder

pytestmark = pytest.mark.slow

DEMO = "train a 2,000-token BPE on the legal opinions and compare it with GPT-4's tokenizer"


def test_demo_request_end_to_end_on_the_embedded_model():
    graph = builder.compile(checkpointer=InMemorySaver())
    context = Context(model="local", max_chars=50_000, poll_seconds=0.5, wait_seconds=50)
    started = time.monotonic()
    state = graph.invoke({"messages": [("human", DEMO)]}, {"configurable": {"thread_id": "demo"}}, context=context)
    assert time.monotonic() - started < 60
    bpe, comparison = state["results"]
    assert bpe["ok"] and bpe["result"]["vocab_size"] == 2000 and bpe["result"]["corpus"] == "legal"
    rows = {r["name"]: r for r in comparison["result"]["rows"]}
    assert set(rows) == {"ours-bpe", "cl100k_base"}
    assert all(r["round_trip_exact"] for r in rows.values())
    # a 2,000-token BPE packs fewer characters per token than GPT-4's 100k vocabulary, even on its own corpus
    assert 2.0 < rows["ours-bpe"]["chars_per_token"] < rows["cl100k_base"]["chars_per_token"]
    answer = state["messages"][-1].content
    assert f"Our BPE: {rows['ours-bpe']['chars_per_token']:.2f} chars/token vs GPT-4 (cl100k_base)" in answer


def test_embedded_model_fills_what_the_request_leaves_open():
    graph = builder.compile(checkpointer=InMemorySaver())
    state = graph.invoke({"messages": [("human", "please make me a 300-token BPE tokenizer")]},
                         {"configurable": {"thread_id": "open"}},
                         context=Context(model="local", max_chars=5_000, poll_seconds=0.2, wait_seconds=30))
    result = state["results"][0]
    # the grammar keeps the model's corpus inside the schema's enum; the parser's 300 is kept
    assert result["ok"] and result["args"]["vocab_size"] == 300
    assert result["args"]["corpus"] in {"legal", "alice", "xquad_en", "xquad_de", "pubmedqa"}
    assert "corpus chosen by the model" in state["messages"][-1].content
