"""ReAct agent logic with a scripted fake chat model over the home hub simulator (in process)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

import graphs.react_agent.graph as agent
import models
from tools.home.hub_server import create_app
from graphs.react_agent.context import Context
from tools.calculator import calculator
from tools.home.client import HomeAssistantClient
from tools.home.commands import CommandMatcher, describe_call
from tools.home.tools import HomeToolbox
from tools.registry import Toolset

TOKEN = "test-hub-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class ScriptedFakeChatModel:
    """Replies with the scripted messages in order; records which tools it was offered."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.offered = []
        self.prompts = []

    def bind_tools(self, tools, **kwargs):
        self.offered.append([t.name for t in tools])
        return self

    def invoke(self, messages):
        self.prompts.append(messages)
        return self.replies.pop(0)


def call(name, **args):
    return {"name": name, "args": args, "id": f"call_{name}_{len(args)}"}


@pytest.fixture
def hub(tmp_path):
    return TestClient(create_app(tmp_path / "house.sqlite", token=TOKEN))


@pytest.fixture
def home(hub, monkeypatch):
    box = HomeToolbox(HomeAssistantClient("http://testserver", TOKEN, http=hub))
    toolset = Toolset("home", box.tools(), notes=box.describe(), is_risky=box.is_risky,
                      match_command=CommandMatcher(box.entities).match,
                      describe_call=lambda n, a: describe_call(n, a, box.entities))
    monkeypatch.setattr(agent, "toolset_for", lambda context: toolset)
    return toolset


def scripted(monkeypatch, replies):
    llm = ScriptedFakeChatModel(replies)
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: llm)
    return llm


def run(graph, text, thread="t", **context):
    return graph.invoke({"messages": [("human", text)]}, {"configurable": {"thread_id": thread}},
                        context=Context(toolset="home", tool_shortlist=0, tool_routing_threshold=0, **context))


def thermostat(hub):
    return hub.get("/api/states/climate.thermostat", headers=AUTH).json()["attributes"]["temperature"]


def test_recognised_command_runs_without_the_model(home, hub, monkeypatch):
    llm = scripted(monkeypatch, [])
    out = run(agent.builder.compile(checkpointer=InMemorySaver()), "make it warmer in here")
    assert thermostat(hub) == 21.0
    assert out["messages"][-1].content == "Raised the thermostat from 20 °C to 21 °C (the room is at 19.5 °C)."
    assert llm.prompts == []


def test_a_tool_call_fine_tune_plans_alone_the_matcher_and_shortlist_step_aside(home, hub, monkeypatch, tmp_path):
    """HEARTH_TOOL_ASSIST=auto: a GGUF whose export record says it was fine-tuned on tool calls gets
    the request itself, with every tool, though the sentence matcher knows the command (scripted
    fake model, named as such; the file is never loaded)."""
    export = tmp_path / "run" / "export"
    export.mkdir(parents=True)
    (export / "export.json").write_text(json.dumps({"task": "tool_calls"}))
    tuned = f"gguf:{export / 'run-Q8_0.gguf'}"
    llm = scripted(monkeypatch, [AIMessage(content="", tool_calls=[call("climate_change_temperature", entity_id="climate.thermostat", change=1)]),
                                 AIMessage(content="Warmer by one degree.")])
    graph = agent.builder.compile(checkpointer=InMemorySaver())
    out = graph.invoke({"messages": [("human", "make it warmer in here")]}, {"configurable": {"thread_id": "ft"}},
                       context=Context(toolset="home", model=tuned))
    assert thermostat(hub) == 21.0 and out["messages"][-1].content == "Warmer by one degree."
    assert len(llm.offered[0]) == len(home.tools)  # no shortlist, no routed tool
    assert Context(model=tuned).assisted() is False and Context(model=tuned, tool_assist="on").assisted() is True
    assert Context(model="local").assisted() is True and Context(model="local", tool_assist="off").assisted() is False
    with pytest.raises(ValueError, match="auto, on, off"):
        Context(tool_assist="maybe").assisted()


def test_model_tool_call_runs_and_model_answers_from_the_result(home, hub, monkeypatch):
    llm = scripted(monkeypatch, [AIMessage(content="", tool_calls=[call("climate_set_temperature", entity_id="climate.thermostat", temperature=23)]),
                                 AIMessage(content="The thermostat is now at 23°C.")])
    out = run(agent.builder.compile(checkpointer=InMemorySaver()), "I'd like 23 degrees please", local_commands=False)
    assert thermostat(hub) == 23.0
    assert out["messages"][-1].content == "The thermostat is now at 23°C."
    assert "Raised the thermostat from 20 °C to 23 °C" in llm.prompts[1][-1].content  # the result went back to the model


def test_parallel_calls_all_run(home, hub, monkeypatch):
    scripted(monkeypatch, [AIMessage(content="", tool_calls=[call("light_turn_off", entity_id="light.kitchen"),
                                                             call("switch_turn_on", entity_id="switch.coffee_maker")]),
                           AIMessage(content="Done.")])
    out = run(agent.builder.compile(checkpointer=InMemorySaver()), "kitchen off, coffee on", local_commands=False)
    tool_results = [m for m in out["messages"] if m.type == "tool"]
    assert [m.status for m in tool_results] == ["success", "success"]
    assert hub.get("/api/states/switch.coffee_maker", headers=AUTH).json()["state"] == "on"


def test_tool_error_goes_back_to_the_model_which_fixes_the_call(home, hub, monkeypatch):
    llm = scripted(monkeypatch, [AIMessage(content="", tool_calls=[call("climate_set_temperature", entity_id="climate.thermostat", temperature=45)]),
                                 AIMessage(content="", tool_calls=[call("climate_set_temperature", entity_id="climate.thermostat", temperature=30)]),
                                 AIMessage(content="Set to the maximum, 30°C.")])
    out = run(agent.builder.compile(checkpointer=InMemorySaver()), "make it 45 degrees", local_commands=False)
    errors = [m for m in out["messages"] if m.type == "tool" and m.status == "error"]
    assert len(errors) == 1 and "less than or equal to 30" in errors[0].content
    assert thermostat(hub) == 30.0
    assert out["messages"][-1].content == "Set to the maximum, 30°C."


def test_repeated_failures_end_with_an_explanation_not_an_exception(home, hub, monkeypatch):
    scripted(monkeypatch, [AIMessage(content="", tool_calls=[call("light_turn_on", entity_id="light.attic")]) for _ in range(3)])
    out = run(agent.builder.compile(checkpointer=InMemorySaver()), "attic light on", local_commands=False, max_tool_errors=2)
    assert out["messages"][-1].content.startswith("I could not complete that:")


def test_recursion_limit_gives_a_graceful_answer(home, monkeypatch):
    loop = [AIMessage(content="", tool_calls=[call("get_state", entity_id=f"light.{n}")]) for n in
            ("kitchen", "porch", "bedroom", "living_room", "kitchen", "porch")]
    scripted(monkeypatch, loop)
    graph = agent.builder.compile(checkpointer=InMemorySaver())
    out = graph.invoke({"messages": [("human", "check the lights")]}, {"configurable": {"thread_id": "r"}, "recursion_limit": 6},
                       context=Context(toolset="home", tool_shortlist=0, tool_routing_threshold=0, local_commands=False))
    assert out["messages"][-1].content.startswith("I stopped after")


@pytest.mark.parametrize("answer, locked_after", [("yes", "unlocked"), ("no", "locked")])
def test_risky_action_waits_for_confirmation(home, hub, monkeypatch, answer, locked_after):
    scripted(monkeypatch, [])
    graph = agent.builder.compile(checkpointer=InMemorySaver())
    first = run(graph, "unlock the front door", thread=answer)
    assert first["__interrupt__"][0].value["question"] == "Do you want me to unlock Front door? (yes/no)"
    assert hub.get("/api/states/lock.front_door", headers=AUTH).json()["state"] == "locked"  # nothing yet
    final = graph.invoke(Command(resume=answer), {"configurable": {"thread_id": answer}},
                         context=Context(toolset="home", tool_shortlist=0, tool_routing_threshold=0))
    assert hub.get("/api/states/lock.front_door", headers=AUTH).json()["state"] == locked_after
    reply = final["messages"][-1].content
    assert (reply == "Unlocked the front door.") == (answer == "yes") and ("unlocked" in reply.lower()) == (answer == "yes")


def test_model_answers_directly_when_no_tool_fits(monkeypatch):
    llm = scripted(monkeypatch, [AIMessage(content="2 + 2 = 4")])
    monkeypatch.setattr(agent, "toolset_for", lambda context: Toolset("basic", [calculator]))
    out = agent.graph.invoke({"messages": [("human", "what is 2+2")]}, context=Context(toolset="basic", tool_shortlist=0, tool_routing_threshold=0))
    assert out["messages"][-1].content == "2 + 2 = 4" and llm.offered == [["calculator"]]
