"""Agent tools generated from the entities a user exposes, as Home Assistant's Assist does.

    from tools.home.tools import home_tools
    tools = home_tools()                                   # every entity the hub has, via HEARTH_HUB_URL
    tools = home_tools(exposed=["light.kitchen", "climate.thermostat"])

One tool per service that an exposed entity offers (`light_turn_on(entity_id, brightness_pct)`),
plus `get_state` and three relative tools people ask for ("make it warmer", "dim the lights", "too
loud"). A call answers with what changed, in words: "Raised the thermostat from 20 °C to 21 °C
(the room is at 19.5 °C)." (`describe_change`).
Arguments are typed: `entity_id` is an enum of the exposed entities of that domain and numbers
carry their ranges, so a grammar-constrained model can only produce calls the house accepts, and
anything else (an unknown or unexposed entity, a value out of range) is refused with a message
saying what is valid. Tools whose action is risky (unlock, disarm, open the garage) carry
`metadata["risky"]`; the agent asks for confirmation before it runs them.
"""

from __future__ import annotations

import copy
import random
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from tools.home.client import HomeAssistantClient, HomeHubError
from tools.home.house import SERVICES, Entity, ServiceCallError, check_field, default_house, validate_service_call
from tools.home.house import Field as ServiceField

SERVICE_BY_TOOL_NAME = {f"{s.domain}_{s.name}": s for s in SERVICES.values()}


def entities_from_states(states: list[dict]) -> dict[str, Entity]:
    """Entities as the agent sees them, from the hub's /api/states answer."""
    out = {}
    for s in states:
        attrs = dict(s.get("attributes", {}))
        name = attrs.pop("friendly_name", s["entity_id"])
        area = attrs.pop("area", "")
        risky = ("open_cover", "set_cover_position") if "garage" in s["entity_id"] else ()
        out[s["entity_id"]] = Entity(s["entity_id"], str(s.get("state")), name, area, attrs, risky)
    return out


def _python_type(spec: ServiceField):
    if spec.kind == "integer":
        return int
    if spec.kind == "number":
        return float
    if spec.kind == "choice":
        return Literal[spec.choices]
    return str


def _arguments_model(name: str, entity_ids: list[str], fields: tuple[ServiceField, ...], extra: dict | None = None) -> type[BaseModel]:
    definitions: dict[str, Any] = {"entity_id": (Literal[tuple(entity_ids)], Field(description="The device to act on"))}
    for f in fields:
        bounds = {k: v for k, v in (("ge", f.minimum), ("le", f.maximum)) if v is not None}
        described = f"{f.description}" + (f" ({f.minimum:g}-{f.maximum:g} {f.unit})" if bounds else "")
        default = ... if f.required else None
        annotation = _python_type(f) if f.required else (_python_type(f) | None)
        definitions[f.name] = (annotation, Field(default, description=described, **bounds))
    definitions.update(extra or {})
    return create_model(f"{name}_arguments", **definitions)


class HomeToolbox:
    """Builds the tools for one hub and one set of exposed entities, and runs their calls."""

    def __init__(self, client: HomeAssistantClient | None = None, exposed: list[str] | None = None):
        self.client = client or HomeAssistantClient()
        self.entities = entities_from_states(self.client.states())
        if exposed is not None:
            missing = [e for e in exposed if e not in self.entities]
            if missing:
                raise HomeHubError(f"Cannot expose unknown entities: {', '.join(missing)}. "
                                   f"The hub has: {', '.join(self.entities)}.")
            self.entities = {e: self.entities[e] for e in exposed}

    def by_domain(self, domain: str) -> list[str]:
        return [e for e in self.entities if e.startswith(domain + ".")]

    def describe(self) -> str:
        """One line per exposed entity, for the system prompt."""
        return "\n".join(f"- {e.entity_id} ({e.friendly_name}, {e.area}): {e.state}" for e in self.entities.values())

    def is_risky(self, tool_name: str, arguments: dict) -> bool:
        """Whether this call needs the user's confirmation (unlock, disarm, open the garage...)."""
        service = SERVICE_BY_TOOL_NAME.get(tool_name)
        entity = self.entities.get(arguments.get("entity_id", ""))
        return bool(service and entity and entity.is_risky(service))

    def call(self, domain: str, service: str, data: dict) -> str:
        """Validate against the exposed entities, call the hub, say what changed."""
        data = {k: v for k, v in data.items() if v is not None}
        entity_id = data.get("entity_id")
        if entity_id not in self.entities:
            raise ServiceCallError(f"{entity_id!r} is not an exposed device. Exposed {domain} devices: "
                                   f"{', '.join(self.by_domain(domain)) or 'none'}.")
        validate_service_call(domain, service, data, self.entities)
        before = copy.deepcopy(self.entities)
        changed = self.client.call_service(domain, service, data)
        for state in changed:
            self.entities.update(entities_from_states([state]))
        if not changed:
            return f"{_the(self.entities[entity_id])} was already {_state_words(self.entities[entity_id])}; nothing changed."
        return " ".join(describe_change(before[s["entity_id"]], self.entities[s["entity_id"]]) for s in changed
                        if s["entity_id"] in before)

    def get_state(self, entity_id: str) -> str:
        state = self.client.state(entity_id)
        self.entities.update(entities_from_states([state]))
        return _describe_state(state)

    def tools(self) -> list:
        from langchain_core.tools import StructuredTool

        tools = []
        every = list(self.entities)
        tools.append(StructuredTool.from_function(
            func=lambda entity_id: self.get_state(entity_id), name="get_state",
            description="Read a device's or sensor's current state (e.g. a temperature).",
            args_schema=_arguments_model("get_state", every, ())))
        for service in SERVICES.values():
            ids = self.by_domain(service.domain)
            if not ids:
                continue
            name = f"{service.domain}_{service.name}"
            risky = any(self.entities[e].is_risky(service) for e in ids)

            def run(_domain=service.domain, _service=service.name, **data) -> str:
                return self.call(_domain, _service, data)

            devices = ", ".join(self.entities[e].friendly_name for e in ids)
            tools.append(StructuredTool.from_function(
                func=run, name=name, description=f"{service.description}. Devices: {devices}.",
                args_schema=_arguments_model(name, ids, service.fields), metadata={"risky": risky}))
        if climates := self.by_domain("climate"):
            tools.append(StructuredTool.from_function(
                func=self.change_temperature, name="climate_change_temperature",
                description="Make it warmer (positive change) or cooler (negative change) than the current set point.",
                args_schema=_arguments_model("climate_change_temperature", climates, (), {
                    "change": (float, Field(description="Degrees to add to the set point (-5 to 5)", ge=-5, le=5))})))
        if speakers := self.by_domain("media_player"):
            tools.append(StructuredTool.from_function(
                func=self.change_volume, name="media_player_change_volume",
                description="Make a speaker louder (positive change) or quieter (negative change), in percent.",
                args_schema=_arguments_model("media_player_change_volume", speakers, (), {
                    "change": (int, Field(description="Percentage points to add (-100 to 100)", ge=-100, le=100))})))
        if lights := self.by_domain("light"):
            tools.append(StructuredTool.from_function(
                func=self.change_brightness, name="light_change_brightness",
                description="Make a light brighter (positive change) or dimmer (negative change), in percent.",
                args_schema=_arguments_model("light_change_brightness", lights, (), {
                    "change": (int, Field(description="Percentage points to add (-100 to 100)", ge=-100, le=100))})))
        return tools

    def change_temperature(self, entity_id: str, change: float) -> str:
        """Move the set point by `change` degrees, stopping at the thermostat's limits."""
        entity = self.entities[entity_id]
        spec = SERVICES["climate.set_temperature"].fields[0]
        low = float(entity.attributes.get("min_temp", spec.minimum))
        high = float(entity.attributes.get("max_temp", spec.maximum))
        current = float(entity.attributes.get("temperature", 20.0))
        target = check_field(max(low, min(high, round(current + change, 1))), spec)
        if target == current:
            limit = "maximum" if change > 0 else "minimum"
            return f"{_the(entity)} is already at {_degrees(current)}, its {limit}; nothing changed."
        return self.call("climate", "set_temperature", {"entity_id": entity_id, "temperature": target})

    def change_brightness(self, entity_id: str, change: int) -> str:
        """Brighter or dimmer by `change` percentage points; dimming to 0 switches the light off."""
        entity = self.entities[entity_id]
        current = int(entity.attributes.get("brightness_pct") or 0) if entity.state == "on" else 0
        target = max(0, min(100, current + change))
        if target == current:
            return f"{_the(entity)} is already {'at full brightness' if current else 'off'}; nothing changed."
        if target == 0:
            return self.call("light", "turn_off", {"entity_id": entity_id})
        return self.call("light", "turn_on", {"entity_id": entity_id, "brightness_pct": target})

    def change_volume(self, entity_id: str, change: int) -> str:
        """Louder or quieter by `change` percentage points of the speaker's volume."""
        entity = self.entities[entity_id]
        current = round(float(entity.attributes.get("volume_level") or 0) * 100)
        target = max(0, min(100, current + change))
        if target == current:
            return f"{_the(entity)} is already at {'full' if current else 'zero'} volume; nothing changed."
        return self.call("media_player", "volume_set", {"entity_id": entity_id, "volume_level": target / 100})


OTHER_STATE = {"on": "off", "off": "on", "locked": "unlocked", "unlocked": "locked", "open": "closed", "closed": "open",
               "armed_away": "disarmed", "disarmed": "armed_home", "armed_home": "armed_away", "playing": "paused",
               "paused": "playing", "heat": "cool", "cool": "heat"}


def default_house_toolbox(state_seed: int | None = None) -> HomeToolbox:
    """The toolbox over the default house with no hub running: the house tool-call training data is
    rendered with (`training.tool_data`) and benchmarks decide calls in (`evals.function_calling`).
    `state_seed`: each device's state flipped (on/off, locked/unlocked, ...) with probability 1/2,
    the house as a user finds it later in the day; the device list in the prompt says so.

    >>> [e.state for e in default_house_toolbox().entities.values()][:4]
    ['off', 'on', 'off', 'off']
    >>> [e.state for e in default_house_toolbox(1).entities.values()][:4]
    ['on', 'on', 'off', 'on']
    """
    rng = random.Random(state_seed)
    snapshot = [{"entity_id": e.entity_id,
                 "state": (OTHER_STATE.get(e.state) if state_seed is not None and rng.random() < 0.5 else None) or e.state,
                 "attributes": {**e.attributes, "friendly_name": e.friendly_name, "area": e.area}} for e in default_house()]

    class DefaultHouseSnapshot:
        def states(self):
            return snapshot

    return HomeToolbox(DefaultHouseSnapshot())


def _describe_state(state: dict) -> str:
    attrs = state.get("attributes", {})
    name = attrs.get("friendly_name", state["entity_id"])
    domain = state["entity_id"].split(".")[0]
    details = []
    if domain == "climate":
        details.append(f"set to {attrs.get('temperature')}°C, currently {attrs.get('current_temperature')}°C")
    elif domain == "light" and state["state"] == "on":
        details.append(f"at {attrs.get('brightness_pct')}%")
    elif domain == "cover":
        details.append(f"{attrs.get('current_position')}% open")
    elif domain == "fan" and state["state"] == "on":
        details.append(f"at {attrs.get('percentage')}%")
    unit = attrs.get("unit_of_measurement", "") if domain == "sensor" else ""
    return f"{name} is {state['state']}{unit}" + (f" ({', '.join(details)})" if details else "")


def _the(entity: Entity) -> str:
    """'The thermostat', 'The kitchen light': the friendly name as a sentence subject."""
    name = entity.friendly_name
    return f"The {name[0].lower()}{name[1:]}" if name[:1].isupper() and not name[1:2].isupper() else name


def _degrees(value) -> str:
    """20.0 -> '20 °C', 20.5 -> '20.5 °C'."""
    return f"{float(value):g} °C"


def _state_words(entity: Entity) -> str:
    return {"armed_away": "armed (away)", "armed_home": "armed (home)"}.get(entity.state, entity.state)


def _percent(value) -> str:
    return f"{round(float(value or 0))}%"


def describe_change(before: Entity, after: Entity) -> str:
    """One sentence saying what a service call changed on one device.

    >>> old = Entity("climate.thermostat", "heat", "Thermostat", "living room", {"temperature": 20.0, "current_temperature": 19.5})
    >>> new = Entity("climate.thermostat", "heat", "Thermostat", "living room", {"temperature": 21.0, "current_temperature": 19.5})
    >>> describe_change(old, new)
    'Raised the thermostat from 20 °C to 21 °C (the room is at 19.5 °C).'
    >>> describe_change(Entity("light.kitchen", "on", "Kitchen light", "kitchen", {"brightness_pct": 80}),
    ...                 Entity("light.kitchen", "on", "Kitchen light", "kitchen", {"brightness_pct": 70}))
    'Dimmed the kitchen light from 80% to 70%.'
    """
    the = _the(after)
    the_lower = the[0].lower() + the[1:] if the.startswith("The ") else the
    a, b = before.attributes, after.attributes
    domain = after.domain
    if domain == "climate":
        parts = []
        if before.state != after.state:
            parts.append(f"Switched {the_lower} from {before.state} to {after.state} mode.")
        if a.get("temperature") != b.get("temperature"):
            verb = "Raised" if float(b["temperature"]) > float(a.get("temperature") or 0) else "Lowered"
            room = f" (the room is at {_degrees(b['current_temperature'])})" if b.get("current_temperature") is not None else ""
            parts.append(f"{verb} {the_lower} from {_degrees(a.get('temperature'))} to {_degrees(b['temperature'])}{room}.")
        return " ".join(parts) or f"{the} is {after.state}; nothing changed."
    if domain in ("light", "fan"):
        key, word = ("brightness_pct", "") if domain == "light" else ("percentage", " speed")
        if before.state != "on" and after.state == "on":
            return f"Turned on {the_lower} at {_percent(b.get(key))}{word}."
        if before.state == "on" and after.state != "on":
            return f"Turned off {the_lower}."
        if a.get(key) != b.get(key):
            up = float(b.get(key) or 0) > float(a.get(key) or 0)
            verb = ("Brightened" if up else "Dimmed") if domain == "light" else ("Sped up" if up else "Slowed down")
            return f"{verb} {the_lower} from {_percent(a.get(key))} to {_percent(b.get(key))}."
    if domain == "media_player" and a.get("volume_level") != b.get("volume_level"):
        direction = "up" if float(b.get("volume_level") or 0) > float(a.get("volume_level") or 0) else "down"
        return (f"Turned {the_lower} {direction} from {_percent(100 * float(a.get('volume_level') or 0))} "
                f"to {_percent(100 * float(b.get('volume_level') or 0))} volume.")
    if domain == "cover" and a.get("current_position") != b.get("current_position"):
        position = int(b.get("current_position") or 0)
        if position in (0, 100):
            return f"{'Opened' if position == 100 else 'Closed'} {the_lower}."
        return f"Moved {the_lower} from {_percent(a.get('current_position'))} to {_percent(position)} open."
    verbs = {"on": "Turned on", "off": "Turned off", "locked": "Locked", "unlocked": "Unlocked", "open": "Opened",
             "closed": "Closed", "disarmed": "Disarmed", "armed_away": "Armed (away)", "armed_home": "Armed (home)"}
    if before.state != after.state and after.state in verbs:
        return f"{verbs[after.state]} {the_lower}."
    return f"{the} is now {_state_words(after)}."


def home_tools(client: HomeAssistantClient | None = None, exposed: list[str] | None = None) -> list:
    return HomeToolbox(client, exposed).tools()
