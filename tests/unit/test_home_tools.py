"""Home tools generated from exposed entities, their argument validation, and the sentence matcher."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tools.home.hub_server import create_app
from tools.home.client import HomeAssistantClient, HomeHubError
from tools.home.commands import CommandMatcher
from tools.home.house import ServiceCallError, default_house
from tools.home.tools import HomeToolbox


TOKEN = "test-hub-token"


def InProcessHubClient(app, token=TOKEN):
    """The real client over FastAPI's in-process transport (no socket needed)."""
    return HomeAssistantClient("http://testserver", token, http=TestClient(app))


@pytest.fixture
def hub_app(tmp_path):
    return create_app(tmp_path / "house.sqlite", token=TOKEN)


@pytest.fixture
def box(hub_app):
    return HomeToolbox(InProcessHubClient(hub_app))


def test_one_tool_per_offered_service_with_enum_entities_and_ranges(box):
    tools = {t.name: t for t in box.tools()}
    assert {"get_state", "light_turn_on", "climate_set_temperature", "lock_unlock", "cover_set_cover_position",
            "climate_change_temperature", "light_change_brightness"} <= set(tools)
    schema = tools["light_turn_on"].args_schema.model_json_schema()
    assert schema["properties"]["entity_id"]["enum"] == ["light.bedroom", "light.kitchen", "light.living_room", "light.porch"]
    assert "Kitchen light" in tools["light_turn_on"].description
    temperature = tools["climate_set_temperature"].args_schema.model_json_schema()["properties"]["temperature"]
    assert (temperature["minimum"], temperature["maximum"]) == (7, 30)


def test_only_exposed_entities_become_tools(hub_app):
    box = HomeToolbox(InProcessHubClient(hub_app), exposed=["light.kitchen", "climate.thermostat"])
    names = {t.name for t in box.tools()}
    assert "lock_unlock" not in names and "cover_open_cover" not in names
    tools = {t.name: t for t in box.tools()}
    with pytest.raises(ValidationError):
        tools["light_turn_on"].invoke({"entity_id": "light.bedroom"})  # exists in the house, not exposed
    with pytest.raises(HomeHubError, match="Cannot expose unknown entities: light.attic"):
        HomeToolbox(InProcessHubClient(hub_app), exposed=["light.attic"])


def test_out_of_range_and_unknown_arguments_are_refused(box):
    tools = {t.name: t for t in box.tools()}
    with pytest.raises(ValidationError, match="less than or equal to 30"):
        tools["climate_set_temperature"].invoke({"entity_id": "climate.thermostat", "temperature": 45})
    with pytest.raises(ValidationError):
        tools["lock_unlock"].invoke({"entity_id": "lock.garden_shed"})
    with pytest.raises(ServiceCallError, match="not an exposed device"):
        box.call("light", "turn_on", {"entity_id": "light.attic"})
    assert box.get_state("climate.thermostat").startswith("Thermostat is heat (set to 20.0°C")


def test_warmer_raises_the_set_point_through_the_hub(box, hub_app):
    tools = {t.name: t for t in box.tools()}
    assert "set to 21.0°C" in tools["climate_change_temperature"].invoke({"entity_id": "climate.thermostat", "change": 1})
    state = TestClient(hub_app).get("/api/states/climate.thermostat", headers={"Authorization": f"Bearer {TOKEN}"})
    assert state.json()["attributes"]["temperature"] == 21.0
    with pytest.raises(ServiceCallError, match="out of range"):
        box.call("climate", "set_temperature", {"entity_id": "climate.thermostat", "temperature": 31})


def test_risky_actions_are_flagged(box):
    assert box.is_risky("lock_unlock", {"entity_id": "lock.front_door"})
    assert box.is_risky("alarm_control_panel_alarm_disarm", {"entity_id": "alarm_control_panel.home_alarm"})
    assert box.is_risky("cover_open_cover", {"entity_id": "cover.garage_door"})
    assert not box.is_risky("cover_open_cover", {"entity_id": "cover.bedroom_blinds"})
    assert not box.is_risky("lock_lock", {"entity_id": "lock.front_door"})


def test_wrong_token_names_the_fix(hub_app):
    with pytest.raises(HomeHubError, match="HEARTH_HUB_TOKEN"):
        HomeToolbox(InProcessHubClient(hub_app, token="nope"))


def test_unreachable_hub_names_the_fix():
    with pytest.raises(HomeHubError, match="python -m apps.home_hub"):
        HomeAssistantClient("http://127.0.0.1:9", "t", timeout_s=2).states()


@pytest.mark.parametrize("text, expected", [
    ("make it warmer in here", [("climate_change_temperature", {"entity_id": "climate.thermostat", "change": 1.0})]),
    ("it's too hot, cool it down by 2 degrees", [("climate_change_temperature", {"entity_id": "climate.thermostat", "change": -2.0})]),
    ("Turn off the kitchen light.", [("light_turn_off", {"entity_id": "light.kitchen"})]),
    ("set the thermostat to 22 degrees", [("climate_set_temperature", {"entity_id": "climate.thermostat", "temperature": 22.0})]),
    ("set the bedroom blinds to 30%", [("cover_set_cover_position", {"entity_id": "cover.bedroom_blinds", "position": 30})]),
    ("unlock the front door", [("lock_unlock", {"entity_id": "lock.front_door"})]),
    ("turn on the coffee maker and turn off the porch light",
     [("switch_turn_on", {"entity_id": "switch.coffee_maker"}), ("light_turn_off", {"entity_id": "light.porch"})]),
    ("what's the temperature outside", [("get_state", {"entity_id": "sensor.outdoor_temperature"})]),
])
def test_sentence_matcher_recognises_common_commands(text, expected):
    matcher = CommandMatcher({e.entity_id: e for e in default_house()})
    assert [(c["name"], c["args"]) for c in matcher.match(text)] == expected


@pytest.mark.parametrize("text", ["write me a poem", "turn on the light", "what is the capital of France"])
def test_sentence_matcher_leaves_unclear_requests_to_the_model(text):
    assert CommandMatcher({e.entity_id: e for e in default_house()}).match(text) is None
