"""Toolsets: the tools an agent gets, chosen by name.

    from tools.registry import load_toolset
    toolset = load_toolset("basic")                      # calculator, weather, knowledge search, SQL question
    toolset = load_toolset("market")                     # headlines, sentiment, price statistics
    toolset = load_toolset("home", hub_url="http://127.0.0.1:8123", exposed=["light.kitchen"])
    toolset.tools, toolset.notes, toolset.is_risky("lock_unlock", {"entity_id": "lock.front_door"})

A toolset may also carry a sentence matcher (`match_command(text) -> list[tool call] | None`) for
commands it recognises without a model, and says which calls are risky (they wait for the
user's confirmation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Toolset:
    name: str
    tools: list
    notes: str = ""  # added to the agent's system prompt
    is_risky: Callable[[str, dict], bool] = field(default=lambda name, args: False)
    match_command: Callable[[str], list[dict] | None] | None = None
    describe_call: Callable[[str, dict], str] = field(default=lambda name, args: f"call {name} with {args}")

    def by_name(self) -> dict:
        return {t.name: t for t in self.tools}


def basic_toolset(collection: str = "handbook", **_) -> Toolset:
    from tools.calculator import calculator, match_arithmetic
    from tools.knowledge import knowledge_search_tool
    from tools.sql_tool import SQL_TOOLS
    from tools.weather import get_weather

    return Toolset("basic", [calculator, get_weather, knowledge_search_tool(collection), *SQL_TOOLS],
                   notes="Use calculator for arithmetic, get_weather for weather, search_knowledge for company policies, "
                         "ask_database for questions about sales, orders, customers and products.",
                   match_command=match_arithmetic)


def market_toolset(**_) -> Toolset:
    from tools.market import market_tools

    return Toolset("market", market_tools(), notes="Sample market data: tickers ACME, BRGT, CLDX, DYNA, ECOV.")


def home_toolset(hub_url: str = "", token: str = "", exposed: list[str] | None = None, **_) -> Toolset:
    from tools.home.client import HomeAssistantClient
    from tools.home.commands import CommandMatcher, describe_call
    from tools.home.tools import HomeToolbox

    box = HomeToolbox(HomeAssistantClient(hub_url, token), exposed)
    matcher = CommandMatcher(box.entities)
    return Toolset("home", box.tools(), notes="Devices in the house:\n" + box.describe(), is_risky=box.is_risky,
                   match_command=matcher.match, describe_call=lambda name, args: describe_call(name, args, box.entities))


TOOLSETS: dict[str, Callable[..., Toolset]] = {"basic": basic_toolset, "home": home_toolset, "market": market_toolset}


def load_toolset(name: str, **settings) -> Toolset:
    try:
        factory = TOOLSETS[name]
    except KeyError:
        raise ValueError(f"Unknown toolset {name!r}. Choose one of: {', '.join(TOOLSETS)}.") from None
    return factory(**settings)
