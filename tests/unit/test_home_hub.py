"""The home hub simulator's Home Assistant REST subset: auth, states, services, validation, persistence."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tools.home.hub_server import create_app

AUTH = {"Authorization": "Bearer hearth-dev-token"}


@pytest.fixture
def hub(tmp_path):
    return TestClient(create_app(tmp_path / "house.sqlite"))


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "hearth-dev-token"},
                                     {"Authorization": "Basic aGVhcnRoLWRldi10b2tlbg=="}])
def test_every_endpoint_needs_the_bearer_token(hub, headers):
    for method, path in [("GET", "/api/"), ("GET", "/api/states"), ("GET", "/api/states/light.kitchen"),
                         ("POST", "/api/services/light/turn_off")]:
        response = hub.request(method, path, headers=headers, json={"entity_id": "light.kitchen"})
        assert response.status_code == 401, (method, path)
    assert hub.get("/api/states/light.kitchen", headers=AUTH).json()["state"] == "on"  # nothing changed


def test_states_list_the_default_house(hub):
    states = {s["entity_id"]: s for s in hub.get("/api/states", headers=AUTH).json()}
    assert {"light.kitchen", "climate.thermostat", "lock.front_door", "cover.garage_door",
            "alarm_control_panel.home_alarm", "sensor.outdoor_temperature"} <= set(states)
    assert states["climate.thermostat"]["attributes"]["temperature"] == 20.0
    assert hub.get("/api/states/light.nowhere", headers=AUTH).status_code == 404


def test_service_call_changes_state_and_returns_what_changed(hub):
    changed = hub.post("/api/services/climate/set_temperature", headers=AUTH,
                       json={"entity_id": "climate.thermostat", "temperature": 22.5}).json()
    assert [s["entity_id"] for s in changed] == ["climate.thermostat"]
    assert hub.get("/api/states/climate.thermostat", headers=AUTH).json()["attributes"]["temperature"] == 22.5
    assert hub.post("/api/services/light/turn_on", headers=AUTH,
                    json={"entity_id": "light.bedroom", "brightness_pct": 30}).json()[0]["state"] == "on"


@pytest.mark.parametrize("path, body, fragment", [
    ("/api/services/climate/set_temperature", {"entity_id": "climate.thermostat", "temperature": 99}, "out of range"),
    ("/api/services/climate/set_temperature", {"entity_id": "climate.thermostat"}, "needs temperature"),
    ("/api/services/light/turn_on", {"entity_id": "light.garage"}, "Unknown entity"),
    ("/api/services/light/turn_on", {"entity_id": "lock.front_door"}, "is a lock"),
    ("/api/services/light/explode", {"entity_id": "light.kitchen"}, "Unknown service"),
    ("/api/services/light/turn_on", {"entity_id": "light.kitchen", "colour": "red"}, "does not take colour"),
    ("/api/services/cover/set_cover_position", {"entity_id": "cover.bedroom_blinds", "position": "wide"}, "must be a number"),
    ("/api/services/alarm_control_panel/alarm_disarm", {"entity_id": "alarm_control_panel.home_alarm", "code": "0000"}, "Invalid alarm code"),
])
def test_invalid_calls_are_refused_with_a_reason_and_change_nothing(hub, path, body, fragment):
    before = hub.get("/api/states", headers=AUTH).json()
    response = hub.post(path, headers=AUTH, json=body)
    assert response.status_code == 400
    assert fragment in response.json()["message"]
    assert [(s["entity_id"], s["state"], s["attributes"]) for s in hub.get("/api/states", headers=AUTH).json()] == \
           [(s["entity_id"], s["state"], s["attributes"]) for s in before]


def test_malformed_json_body_is_a_clear_400(hub):
    response = hub.post("/api/services/light/turn_on", headers={**AUTH, "Content-Type": "application/json"}, content=b"{nope")
    assert response.status_code == 400 and "Invalid JSON" in response.json()["message"]


def test_state_persists_across_restarts(tmp_path):
    first = TestClient(create_app(tmp_path / "house.sqlite"))
    first.post("/api/services/lock/unlock", headers=AUTH, json={"entity_id": "lock.back_door"})
    second = TestClient(create_app(tmp_path / "house.sqlite"))
    assert second.get("/api/states/lock.back_door", headers=AUTH).json()["state"] == "unlocked"
    third = TestClient(create_app(tmp_path / "house.sqlite", reset=True))
    assert third.get("/api/states/lock.back_door", headers=AUTH).json()["state"] == "locked"
