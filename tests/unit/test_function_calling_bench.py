"""The function-calling benchmark's BFCL-style checker and its data loading."""

from __future__ import annotations

import pytest

from models.settings import shared_data
from evals.function_calling import (ast_check, load_category, load_home_commands, run_home, schema_valid,
                                    to_json_schema, tool_name, value_matches)

BFCL = shared_data() / "bfcl"
FUNCTIONS = [{"name": "spotify.play", "description": "Play songs",
              "parameters": {"type": "dict", "properties": {"artist": {"type": "string"}, "duration": {"type": "integer"},
                                                            "volume": {"type": "float"}},
                             "required": ["artist", "duration"]}}]
ANSWER = [{"spotify.play": {"artist": ["Taylor Swift"], "duration": [20], "volume": ["", 0.5]}},
          {"spotify.play": {"artist": ["Maroon 5"], "duration": [15], "volume": [""]}}]


def call(**args):
    return {"name": "spotify_play", "args": args}


def test_bfcl_types_become_json_schema():
    schema = to_json_schema(FUNCTIONS[0]["parameters"])
    assert schema["type"] == "object" and schema["properties"]["volume"]["type"] == "number"
    assert to_json_schema({"type": "tuple", "items": {"type": "float"}}) == {"type": "array", "items": {"type": "number"}}
    assert tool_name("math.gcd") == "math_gcd"


def test_parallel_calls_match_in_any_order_and_optional_arguments_may_be_left_out():
    assert ast_check([call(artist="maroon 5", duration=15), call(artist="Taylor Swift", duration=20)], ANSWER, FUNCTIONS) == (True, "match")


@pytest.mark.parametrize("calls, reason", [
    ([call(artist="Taylor Swift", duration=20)], "1 call(s) instead of 2"),
    ([call(artist="Taylor Swift", duration=21), call(artist="Maroon 5", duration=15)], "duration=21"),
    ([call(artist="Taylor Swift"), call(artist="Maroon 5", duration=15)], "missing required argument duration"),
    ([call(artist="Taylor Swift", duration=20, speed=2), call(artist="Maroon 5", duration=15)], "unknown argument"),
    ([{"name": "youtube_play", "args": {}}, call(artist="Maroon 5", duration=15)], "instead of spotify.play"),
    ([], "no call"),
])
def test_wrong_calls_are_rejected_with_the_reason(calls, reason):
    correct, why = ast_check(calls, ANSWER, FUNCTIONS)
    assert not correct and reason in why


def test_irrelevance_is_correct_only_without_a_call():
    assert ast_check([], None, FUNCTIONS) == (True, "no call")
    assert not ast_check([call(artist="x", duration=1)], None, FUNCTIONS)[0]


def test_value_matching_follows_bfcl():
    assert value_matches("New York, NY", ["new york ny"]) and value_matches(3, [3.0]) and not value_matches(True, [1])
    assert value_matches([1, 2], [[1.0, 2.0]]) and not value_matches([1], [[1, 2]])


def test_schema_validity():
    assert schema_valid([call(artist="a", duration=3)], FUNCTIONS)
    assert not schema_valid([call(artist="a", duration="three")], FUNCTIONS)
    assert not schema_valid([{"name": "nope", "args": {}}], FUNCTIONS)


@pytest.mark.skipif(not BFCL.is_dir(), reason="../shared/data/bfcl is not beside the repository")
def test_bfcl_categories_load_with_answers():
    simple = load_category(BFCL, "simple_python", 3)
    assert len(simple) == 3 and simple[0]["answer"] and simple[0]["functions"]
    assert load_category(BFCL, "irrelevance", 2)[0]["answer"] is None


def test_home_command_set_is_scored_with_the_matcher():
    commands = load_home_commands()
    assert len(commands) >= 100 and {c["category"] for c in commands} >= {"climate", "locks", "multi", "irrelevant"}
    records = run_home("unused", None, ["matcher"])
    by_id = {r["id"]: r for r in records}
    warmer = next(c for c in commands if c["text"] == "make it warmer in here")
    assert by_id[warmer["id"]]["correct"]
    assert all(r["correct"] for r in records if r["category"] == "irrelevant")  # never acts on small talk
    assert all(r["schema_valid"] for r in records if r["called"])


def test_one_validity_rule_for_both_benchmarks():
    import doctest

    import evals.tool_call_checks
    from evals.tool_call_checks import check_calls

    result = doctest.testmod(evals.tool_call_checks)
    assert result.attempted > 0 and result.failed == 0
    schemas = {"spotify_play": to_json_schema(FUNCTIONS[0]["parameters"])}
    assert check_calls([call(artist="a", duration="three")], schemas).startswith("bad args for spotify_play")
    assert schema_valid([call(artist="a", duration="three")], FUNCTIONS) is False


@pytest.mark.parametrize("name, shared_with_first_set", [("home_commands_fresh.jsonl", 10), ("home_commands_fresh3.jsonl", 6),
                                                          ("home_commands_fresh4.jsonl", 4), ("home_commands_fresh5.jsonl", 8)])
def test_blind_home_set_is_valid_for_the_house_and_scored_by_the_matcher_without_a_model(name, shared_with_first_set):
    """evals/data/home_commands_fresh*.jsonl: 80 commands each in users' words, written without the
    code (the third after the tool data's second revision). Every expected call is one the house
    accepts; the no-model row runs on it."""
    import collections

    from evals.finetune import home_model_only
    from evals.function_calling import HOME_COMMANDS, home_toolbox, load_home_commands

    fresh = HOME_COMMANDS.parent / name
    items = load_home_commands(fresh)
    assert len(items) == 80 and set(collections.Counter(i["category"] for i in items).values()) == {8}
    schemas = {t.name: t.args_schema for t in home_toolbox().tools()}
    for item in items:
        for call in item["calls"]:  # every accepted value passes the tool's own schema (devices, ranges)
            for arg, values in call["args"].items():
                for value in values if isinstance(values, list) else [values]:
                    schemas[call["name"]].model_validate({**{k: (v[0] if isinstance(v, list) else v)
                                                             for k, v in call["args"].items()}, arg: value})
    old = {i["text"].lower() for i in load_home_commands()}
    assert len(old & {i["text"].lower() for i in items}) == shared_with_first_set  # short commands both writers chose
    result = home_model_only("local", None, "matcher", fresh)  # "matcher": no model is loaded
    assert result["n"] == 80 and result["no_call_items"] == 8 and set(result["items"]) == {i["id"] for i in items}
    assert 0 < result["accuracy"] < 1


def test_the_agent_row_shows_the_model_what_the_agents_plan_step_would(monkeypatch, tmp_path):
    """`agent` = matcher, shortlist, and the routed tool forced, as graphs/react_agent plans by default.
    A recording fake chat model (named as such) stands in for the model; routing uses the real MiniLM."""
    import json

    import models
    from langchain_core.messages import AIMessage

    from evals.function_calling import home_toolbox
    from graphs.react_agent.graph import offered_tools

    class RecordingFakeModel:
        def __init__(self):
            self.bound = []

        def bind_tools(self, tools, tool_choice=None, **kwargs):
            self.bound.append(([t.name for t in tools], tool_choice))
            return self

        def invoke(self, messages):
            return AIMessage(content="", tool_calls=[])

    fake = RecordingFakeModel()
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: fake)
    from tools.home.commands import CommandMatcher

    matcher = CommandMatcher(home_toolbox().entities)
    requests = [t for t in ("the bedroom feels like a cave", "bathroom too steamy, do something",
                            "could the lounge be a touch cosier", "kill the noise in the living room")
                if matcher.match(t) is None]  # the model's turn: what the matcher leaves
    assert requests
    commands = tmp_path / "commands.jsonl"
    commands.write_text("".join(json.dumps({"id": i, "text": t, "category": "lights", "calls": []}) + "\n"
                                for i, t in enumerate(requests)))
    records = run_home("fake", None, ["agent"], commands)
    tools = home_toolbox().tools()
    expected = []
    for text in requests:
        offered, routed = offered_tools(tools, text, 4, 0.25, 0.1, "local")
        expected.append(([routed.name], routed.name) if routed else ([t.name for t in offered], "auto"))
    assert fake.bound == expected and len(records) == len(requests)
