"""What the ReAct agent carries between steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages
from langgraph.managed import IsLastStep


@dataclass(kw_only=True)
class InputState:
    """What a caller passes: the conversation so far (usually one new human message)."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)


@dataclass(kw_only=True)
class State(InputState):
    """Inside the graph: `is_last_step` turns true one step before the recursion limit, so the
    agent answers with what it has instead of raising; `tool_errors` counts failed calls in a row."""

    is_last_step: IsLastStep = field(default=False)
    tool_errors: int = 0
