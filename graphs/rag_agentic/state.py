"""What the agentic RAG graph carries between nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, TypedDict

from graphs.rag.state import InputState
from rag.store import ScoredChunk

__all__ = ["InputState", "State", "SubQuestionTask", "add_findings"]


class SubQuestionTask(TypedDict):
    """What one parallel retrieval branch gets through `Send`."""

    index: int
    sub_question: str


def add_findings(current: list[dict], update: list[dict]) -> list[dict]:
    """Reducer of `State.findings`: each retrieval branch appends its finding; an empty list
    (sent by the planner at the start of a turn) clears the previous turn's findings.

    >>> add_findings(add_findings([{"index": 9}], []), [{"index": 0}])
    [{'index': 0}]
    """
    return current + update if update else []


@dataclass(kw_only=True)
class State(InputState):
    """Inside the graph. `sub_questions[i]` is answered in the part titled `parts[i]` ("Day 1:
    the historic centre", or the sub-question itself); `findings` holds one entry per branch,
    {"index", "sub_question", "chunks", "evidence"}, in the order the branches finished;
    `citations` numbers the union of the retrieved chunks (deduplicated), 1-based, as cited."""

    question: str = ""
    is_plan: bool = False
    planned_by: str = ""
    sub_questions: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    findings: Annotated[list[dict], add_findings] = field(default_factory=list)
    retrieved: list[ScoredChunk] = field(default_factory=list)
    citations: list[dict] = field(default_factory=list)
    answerability: dict = field(default_factory=dict)  # rag.answerability.Assessment.as_dict() of the request
