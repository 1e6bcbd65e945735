"""What the constitutional graph carries between nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages


@dataclass(kw_only=True)
class InputState:
    """What a caller passes: the conversation so far (the last human message is the question)."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)


@dataclass(kw_only=True)
class State(InputState):
    """Inside the graph: the question, the current draft, one critique per principle for the
    latest round ({"principle", "violates", "critique"}), every draft so far, and the rounds done."""

    question: str = ""
    draft: str = ""
    critiques: list[dict] = field(default_factory=list)
    drafts: list[str] = field(default_factory=list)
    revisions: int = 0
