"""What the analyst team shares: the request, each analyst's findings, and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages


@dataclass(kw_only=True)
class InputState:
    """A request such as "Daily report for ACME and CLDX on 2026-11-27"."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)


@dataclass(kw_only=True)
class State(InputState):
    day: str = ""
    tickers: list[str] = field(default_factory=list)
    headlines: dict[str, list[str]] = field(default_factory=dict)  # ticker -> titles
    sentiment: dict[str, dict] = field(default_factory=dict)       # ticker -> {"mean": float, "scored": [[score, title]]}
    prices: dict[str, dict] = field(default_factory=dict)          # ticker -> statistics
    chart_path: str = ""
    report: str = ""
    done: list[str] = field(default_factory=list)                  # workers that have reported
    routing: list[dict] = field(default_factory=list)              # the supervisor's decisions, for inspection
