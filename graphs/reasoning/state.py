"""What the reasoning graph carries between nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages


@dataclass(kw_only=True)
class InputState:
    """What a caller passes: the question as the last human message, and optionally the kind of
    answer expected (`yes_no`, `number`, `choice` with `choices`, or free `text`), which becomes
    the type of the constrained `answer` field."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    answer_kind: str = "text"
    choices: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class State(InputState):
    """Inside the graph: the question, the model's reasoning (cot mode) and its answer as text."""

    question: str = ""
    reasoning: str = ""
    answer: str = ""
    error: str = ""
