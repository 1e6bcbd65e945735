"""Excessive agency (OWASP LLM06): every toolset declares which tools change the world; the tools
each graph's model can reach are listed in SECURITY.md and enumerated here; a risky call waits
for the user's confirmation in every graph that can make it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from tools.registry import Toolset, load_toolset

pytestmark = pytest.mark.security
ROOT = Path(__file__).resolve().parents[2]
HUB_TOKEN = "agency-test-token"


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory):
    from tools.local_server import serve_in_thread

    from tools.home.hub_server import create_app

    return serve_in_thread(create_app(tmp_path_factory.mktemp("hub") / "house.sqlite", token=HUB_TOKEN))


@pytest.fixture(scope="module")
def reachable(hub_url) -> dict[str, Toolset]:
    """What each graph's model can call, built the way the graphs build it."""
    from training.lab_tools import LAB_CHANGES_WORLD, LAB_TOOLS
    from tools.market import market_tools

    home = load_toolset("home", hub_url=hub_url, token=HUB_TOKEN)
    return {
        "react_agent, toolset basic": load_toolset("basic"),
        "react_agent, toolset home": home,
        "react_agent, toolset market": load_toolset("market"),
        "lab_assistant": Toolset("lab", LAB_TOOLS, changes_world=LAB_CHANGES_WORLD),
        "AutoGen market team": Toolset("market-team", market_tools()),
    }


def risky_tools(toolset: Toolset) -> set[str]:
    return {t.name for t in toolset.tools if (t.metadata or {}).get("risky")}


def documented() -> dict[str, tuple[set[str], set[str], set[str]]]:
    """SECURITY.md's table: graph -> (reads only, changes the world, risky)."""
    text = (ROOT / "SECURITY.md").read_text()
    section = text.split("## Tools each graph can reach", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("graph", "") or set(cells[0]) <= {"-"}:
            continue
        rows[cells[0].replace("`", "")] = tuple(set(re.findall(r"`([a-z_]+)`", c)) for c in cells[1:])
    return rows


def test_security_md_lists_exactly_the_tools_each_graph_can_reach(reachable):
    table = documented()
    assert set(table) == set(reachable)
    for graph, toolset in reachable.items():
        names = {t.name for t in toolset.tools}
        reads, changes, risky = table[graph]
        assert reads == names - toolset.changes_world, graph
        assert changes == set(toolset.changes_world), graph
        assert risky == risky_tools(toolset), graph


def test_declarations_are_consistent(reachable):
    for graph, toolset in reachable.items():
        names = {t.name for t in toolset.tools}
        assert toolset.changes_world <= names, graph
        assert risky_tools(toolset) <= toolset.changes_world, graph   # a risky tool is never "read only"
    home = reachable["react_agent, toolset home"]
    assert {"lock_unlock", "alarm_control_panel_alarm_disarm", "cover_open_cover"} <= risky_tools(home)
    assert "get_state" not in home.changes_world


def test_only_graphs_with_a_confirmation_step_reach_risky_tools(reachable):
    from graphs.react_agent.graph import graph as react_agent

    for name, toolset in reachable.items():
        if risky_tools(toolset):
            assert name.startswith("react_agent") and "confirm" in react_agent.nodes, name


@pytest.mark.parametrize("call, entity", [("lock_unlock", "lock.front_door"),
                                          ("alarm_control_panel_alarm_disarm", "alarm_control_panel.home_alarm"),
                                          ("cover_open_cover", "cover.garage_door")])
def test_react_agent_routes_every_risky_home_call_to_confirmation(reachable, monkeypatch, call, entity):
    import graphs.react_agent.graph as react
    from graphs.react_agent.context import Context
    from graphs.react_agent.state import State

    home = reachable["react_agent, toolset home"]
    monkeypatch.setattr(react, "toolset_for", lambda context: home)
    proposed = AIMessage(content="", tool_calls=[{"name": call, "args": {"entity_id": entity, "code": "1234"},
                                                  "id": "call_1"}])
    assert react.route_after_plan(State(messages=[proposed]), Runtime(context=Context(toolset="home"))) == "confirm"
    safe = AIMessage(content="", tool_calls=[{"name": "light_turn_on", "args": {"entity_id": "light.kitchen"}, "id": "c"}])
    assert react.route_after_plan(State(messages=[safe]), Runtime(context=Context(toolset="home"))) == "act"
