"""What the text-to-SQL graph carries between nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages


@dataclass(kw_only=True)
class InputState:
    """What a caller passes: a `question`, or a conversation whose last human message is one."""

    question: str = ""
    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)


@dataclass(kw_only=True)
class State(InputState):
    """Inside the graph. `attempts` lists every candidate tried: {attempt, source, sql, ok,
    error_kind, error, rows, repairs}; `result` is {columns, rows, truncated}; `chart` is
    {kind: bar|line, x, y} when the result is numeric by category or time (apps render it)."""

    dialect: str = ""
    tables: list[str] = field(default_factory=list)
    schema_ddl: str = ""
    value_hints: str = ""
    linked_tables: dict[str, list[str]] = field(default_factory=dict)
    linked_values: list[dict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # what the question names that the database lacks
    examples: list[dict] = field(default_factory=list)
    documentation: list[str] = field(default_factory=list)
    reference_date: str = ""  # 'today' for 'last quarter', 'this year', ...
    periods: list[dict] = field(default_factory=list)  # the question's date ranges {start, end, text, position}
    generated: str = ""
    feedback: str = ""
    attempt: int = 0
    attempts: list[dict] = field(default_factory=list)
    sql: str = ""
    result: dict | None = None
    answer: str = ""
    chart: dict | None = None
    timings: dict = field(default_factory=dict)
