"""What the graph-RAG graph carries between nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages


@dataclass(kw_only=True)
class InputState:
    """What a caller passes: the conversation so far (usually one new human message)."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)


@dataclass(kw_only=True)
class State(InputState):
    """Inside the graph: the question, the live schema, the graph names the question mentions,
    the query chosen (a named traversal or validated model-written Cypher) with its parameters,
    the rows it returned, and the documents the answer cites."""

    question: str = ""
    schema: str = ""
    linked: dict[str, list[str]] = field(default_factory=dict)
    traversal: str = ""  # a name in cypher.TRAVERSALS, or "generated" for model-written Cypher
    chosen_by: str = ""  # "rules" | "model"
    cypher: str = ""
    params: dict = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)
    refusal: str = ""
    citations: list[dict] = field(default_factory=list)
    answerability: dict = field(default_factory=dict)  # {"answerable": False, "missing": [...]} when a name is unknown
