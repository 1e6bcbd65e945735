"""What the lab-assistant graph carries between nodes (and, with a checkpointer, between turns)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages
from langgraph.managed import RemainingSteps


@dataclass(kw_only=True)
class InputState:
    """What a caller passes: the conversation so far (usually one new human message)."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)


@dataclass(kw_only=True)
class State(InputState):
    """Inside the graph.

    `plan` holds the steps of the current request as dicts {tool, args, missing, uses, source}
    (`source` says who settled the arguments: parser, model or defaults); `results` one entry per
    finished step {tool, args, ok, result | error}; `step` the index of the next step to run;
    `waiting_job` the background job the next step depends on."""

    request: str = ""
    plan: list[dict] = field(default_factory=list)
    step: int = 0
    results: list[dict] = field(default_factory=list)
    waiting_job: str = ""
    waited_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)      # what the model settled, or why nothing could run
    remaining_steps: RemainingSteps = 25
