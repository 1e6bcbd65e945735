"""What the RAG graph carries between nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages

from rag.store import ScoredChunk


@dataclass(kw_only=True)
class InputState:
    """What a caller passes: the conversation so far (usually one new human message)."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)


@dataclass(kw_only=True)
class State(InputState):
    """Inside the graph: the question being answered, the chunks found for it, and the
    numbered sources the answer cites (1-based, in the order shown to the model), and whether the
    sources cover the question (`answerability`)."""

    question: str = ""
    retrieved: list[ScoredChunk] = field(default_factory=list)
    citations: list[dict] = field(default_factory=list)
    answerability: dict = field(default_factory=dict)  # rag.answerability.Assessment.as_dict() of this turn
