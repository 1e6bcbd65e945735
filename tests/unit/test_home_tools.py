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


def InProcessHubClient(app, token="hearth-dev-token"):
    """The real client over FastAPI's in-process transport (no socket needed)."""
    return HomeAssistantClient("http://testserver", token, http=TestClient(app))


@pytest.fixture
def hub_app(tmp_path):
    return create_app(tmp_path / "house.sqlite")


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
    assert tools["climate_change_temperature"].invoke({"entity_id": "climate.thermostat", "change": 1}) == (
        "Raised the thermostat from 20 °C to 21 °C (the room is at 19.5 °C).")
    state = TestClient(hub_app).get("/api/states/climate.thermostat", headers={"Authorization": "Bearer hearth-dev-token"})
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


def hub_state(hub_app, entity_id):
    return TestClient(hub_app).get(f"/api/states/{entity_id}", headers={"Authorization": "Bearer hearth-dev-token"}).json()


# phrasing -> (entity, attribute or "state", value on the hub afterwards, the reply)
RELATIVE_REQUESTS = [
    ("make it warmer in here", "climate.thermostat", "temperature", 21.0,
     "Raised the thermostat from 20 °C to 21 °C (the room is at 19.5 °C)."),
    ("it's a bit chilly", "climate.thermostat", "temperature", 21.0, "Raised the thermostat from 20 °C to 21 °C"),
    ("make it a lot warmer", "climate.thermostat", "temperature", 22.0, "Raised the thermostat from 20 °C to 22 °C"),
    ("I'm too hot", "climate.thermostat", "temperature", 19.0, "Lowered the thermostat from 20 °C to 19 °C"),
    ("cool it down by 3 degrees", "climate.thermostat", "temperature", 17.0, "Lowered the thermostat from 20 °C to 17 °C"),
    ("turn the heating up", "climate.thermostat", "temperature", 21.0, "Raised the thermostat"),
    ("dim it a bit", "light.kitchen", "brightness_pct", 70, "Dimmed the kitchen light from 80% to 70%."),
    ("the kitchen is too bright", "light.kitchen", "brightness_pct", 60, "Dimmed the kitchen light from 80% to 60%."),
    ("make the kitchen light brighter", "light.kitchen", "brightness_pct", 100, "Brightened the kitchen light from 80% to 100%."),
    ("brighten the bedroom light a little", "light.bedroom", "brightness_pct", 10, "Turned on the bedroom light at 10%."),
    ("too loud", "media_player.living_room_speaker", "volume_level", 0.5,
     "Turned the living room speaker down from 60% to 50% volume."),
    ("it's way too loud", "media_player.living_room_speaker", "volume_level", 0.4, "down from 60% to 40% volume"),
    ("turn the music up a bit", "media_player.living_room_speaker", "volume_level", 0.65, "up from 60% to 65% volume"),
    ("I can't hear the music", "media_player.living_room_speaker", "volume_level", 0.7, "up from 60% to 70% volume"),
    ("turn off the kitchen light", "light.kitchen", "state", "off", "Turned off the kitchen light."),
    ("lock the back door", "lock.back_door", "state", "locked", "The back door was already locked; nothing changed."),
]


@pytest.mark.parametrize("text, entity_id, key, value, reply", RELATIVE_REQUESTS, ids=[r[0] for r in RELATIVE_REQUESTS])
def test_relative_requests_change_the_hub_and_say_what_changed(hub_app, box, text, entity_id, key, value, reply):
    tools = {t.name: t for t in box.tools()}
    calls = CommandMatcher(box.entities).match(text)
    assert calls and all(c["args"]["entity_id"] == entity_id for c in calls)
    answer = " ".join(tools[c["name"]].invoke(c["args"]) for c in calls)
    state = hub_state(hub_app, entity_id)
    assert (state["state"] if key == "state" else state["attributes"][key]) == value
    assert reply in answer


def test_relative_changes_stop_at_the_limits_and_say_so(hub_app, box):
    box.call("climate", "set_temperature", {"entity_id": "climate.thermostat", "temperature": 30})
    assert box.change_temperature("climate.thermostat", 1) == "The thermostat is already at 30 °C, its maximum; nothing changed."
    assert box.change_brightness("light.porch", -20) == "The porch light is already off; nothing changed."
    assert hub_state(hub_app, "climate.thermostat")["attributes"]["temperature"] == 30.0
