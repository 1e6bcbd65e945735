"""The home-automation domain: entities, the services that act on them, and how service data is
checked. Shared by the hub simulator (`tools/home/hub_server.py`) and by the agent's tools, so the
two can never disagree about what a valid command is.

    from tools.home.house import DEFAULT_HOUSE, SERVICES, validate_service_call
    validate_service_call("climate", "set_temperature", {"entity_id": "climate.thermostat", "temperature": 22},
                          {e.entity_id: e for e in DEFAULT_HOUSE})

Names follow Home Assistant's REST API (domains `light`, `switch`, `climate`, `lock`, `cover`,
`alarm_control_panel`, `fan`, `media_player`, `sensor`, `binary_sensor`; service data keys such as
`brightness_pct`, `temperature`, `position`), so the same agent drives a real Home Assistant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ServiceCallError(ValueError):
    """A service call the house cannot perform; the message says what would be valid."""


@dataclass(frozen=True)
class Field:
    """One service-data field: its type and, for numbers, the allowed range."""
    name: str
    kind: str  # "number" | "integer" | "choice" | "string"
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    required: bool = False


@dataclass(frozen=True)
class Service:
    domain: str
    name: str
    description: str
    fields: tuple[Field, ...] = ()
    risky: bool = False  # needs the user's confirmation before an agent may call it
    # the new state and attributes the call produces, applied by the simulator
    new_state: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.domain}.{self.name}"


BRIGHTNESS = Field("brightness_pct", "integer", "Brightness in percent", 0, 100, unit="%")
SET_POINT = Field("temperature", "number", "Target temperature", 7, 30, unit="°C", required=True)
POSITION = Field("position", "integer", "How far open, in percent (0 = closed)", 0, 100, unit="%", required=True)
HVAC_MODE = Field("hvac_mode", "choice", "Operating mode", choices=("off", "heat", "cool", "auto"), required=True)
FAN_SPEED = Field("percentage", "integer", "Fan speed in percent", 0, 100, unit="%")
ALARM_CODE = Field("code", "string", "The alarm's PIN code")
VOLUME = Field("volume_level", "number", "Volume from 0 (silent) to 1 (full)", 0, 1, required=True)

SERVICES: dict[str, Service] = {s.full_name: s for s in [
    Service("light", "turn_on", "Switch a light on, optionally at a brightness", (BRIGHTNESS,), new_state="on"),
    Service("light", "turn_off", "Switch a light off", new_state="off"),
    Service("switch", "turn_on", "Switch an appliance on", new_state="on"),
    Service("switch", "turn_off", "Switch an appliance off", new_state="off"),
    Service("fan", "turn_on", "Start a fan, optionally at a speed", (FAN_SPEED,), new_state="on"),
    Service("fan", "turn_off", "Stop a fan", new_state="off"),
    Service("climate", "set_temperature", "Set the thermostat's target temperature", (SET_POINT,)),
    Service("climate", "set_hvac_mode", "Set the thermostat's mode", (HVAC_MODE,)),
    Service("lock", "lock", "Lock a door", new_state="locked"),
    Service("lock", "unlock", "Unlock a door", risky=True, new_state="unlocked"),
    Service("cover", "open_cover", "Open blinds or a garage door", new_state="open"),
    Service("cover", "close_cover", "Close blinds or a garage door", new_state="closed"),
    Service("cover", "set_cover_position", "Open blinds part way", (POSITION,)),
    Service("alarm_control_panel", "alarm_arm_away", "Arm the alarm for an empty house", (ALARM_CODE,), new_state="armed_away"),
    Service("alarm_control_panel", "alarm_arm_home", "Arm the alarm with people at home", (ALARM_CODE,), new_state="armed_home"),
    Service("alarm_control_panel", "alarm_disarm", "Disarm the alarm", (ALARM_CODE,), risky=True, new_state="disarmed"),
    Service("media_player", "turn_on", "Switch a speaker on", new_state="on"),
    Service("media_player", "turn_off", "Switch a speaker off", new_state="off"),
    Service("media_player", "volume_set", "Set a speaker's volume", (VOLUME,)),
]}


@dataclass
class Entity:
    entity_id: str
    state: str
    friendly_name: str
    area: str
    attributes: dict[str, Any] = field(default_factory=dict)
    # actions on this entity that need confirmation even when its service is not risky in general
    risky_services: tuple[str, ...] = ()

    @property
    def domain(self) -> str:
        return self.entity_id.split(".", 1)[0]

    def services(self) -> list[Service]:
        return [s for s in SERVICES.values() if s.domain == self.domain]

    def is_risky(self, service: Service) -> bool:
        return service.risky or service.name in self.risky_services


def default_house() -> list[Entity]:
    """A realistic small house: lights, thermostat, locks, blinds, garage, alarm, a speaker, sensors."""
    return [
        Entity("light.living_room", "off", "Living room light", "living room", {"brightness_pct": 0}),
        Entity("light.kitchen", "on", "Kitchen light", "kitchen", {"brightness_pct": 80}),
        Entity("light.bedroom", "off", "Bedroom light", "bedroom", {"brightness_pct": 0}),
        Entity("light.porch", "off", "Porch light", "outside", {"brightness_pct": 0}),
        Entity("switch.coffee_maker", "off", "Coffee maker", "kitchen"),
        Entity("fan.bedroom", "off", "Bedroom fan", "bedroom", {"percentage": 0}),
        Entity("climate.thermostat", "heat", "Thermostat", "living room",
               {"temperature": 20.0, "current_temperature": 19.5, "hvac_modes": ["off", "heat", "cool", "auto"],
                "min_temp": 7, "max_temp": 30, "unit_of_measurement": "°C"}),
        Entity("lock.front_door", "locked", "Front door", "hallway"),
        Entity("lock.back_door", "locked", "Back door", "kitchen"),
        Entity("cover.living_room_blinds", "closed", "Living room blinds", "living room", {"current_position": 0}),
        Entity("cover.bedroom_blinds", "closed", "Bedroom blinds", "bedroom", {"current_position": 0}),
        Entity("cover.garage_door", "closed", "Garage door", "garage", {"current_position": 0},
               risky_services=("open_cover", "set_cover_position")),
        Entity("alarm_control_panel.home_alarm", "armed_away", "Home alarm", "hallway", {"code_format": "number"}),
        Entity("media_player.living_room_speaker", "playing", "Living room speaker", "living room",
               {"volume_level": 0.6, "is_volume_muted": False}),
        Entity("sensor.living_room_temperature", "19.5", "Living room temperature", "living room",
               {"unit_of_measurement": "°C", "device_class": "temperature"}),
        Entity("sensor.outdoor_temperature", "8.0", "Outdoor temperature", "outside",
               {"unit_of_measurement": "°C", "device_class": "temperature"}),
        Entity("sensor.living_room_humidity", "45", "Living room humidity", "living room",
               {"unit_of_measurement": "%", "device_class": "humidity"}),
        Entity("binary_sensor.front_door_contact", "off", "Front door contact", "hallway", {"device_class": "door"}),
        Entity("binary_sensor.hallway_motion", "off", "Hallway motion", "hallway", {"device_class": "motion"}),
    ]


def check_field(value: Any, spec: Field) -> Any:
    """The value converted to the field's type, or ServiceCallError saying what is allowed."""
    if spec.kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ServiceCallError(f"{spec.name} must be a number, got {value!r}.")
        try:
            number = float(value)
        except ValueError:
            raise ServiceCallError(f"{spec.name} must be a number, got {value!r}.") from None
        if spec.kind == "integer":
            number = round(number)
        low, high = spec.minimum, spec.maximum
        if (low is not None and number < low) or (high is not None and number > high):
            raise ServiceCallError(f"{spec.name}={value}{spec.unit} is out of range: allowed {low:g}–{high:g}{spec.unit}.")
        return int(number) if spec.kind == "integer" else number
    if spec.kind == "choice":
        if str(value) not in spec.choices:
            raise ServiceCallError(f"{spec.name}={value!r} is not one of {', '.join(spec.choices)}.")
        return str(value)
    if not isinstance(value, (str, int)):
        raise ServiceCallError(f"{spec.name} must be text, got {value!r}.")
    return str(value)


def validate_service_call(domain: str, service: str, data: dict, entities: dict[str, Entity]) -> tuple[Service, list[Entity], dict]:
    """Check a call against the service catalog and the known entities.

    Returns (service, target entities, checked data without entity_id); raises ServiceCallError."""
    spec = SERVICES.get(f"{domain}.{service}")
    if spec is None:
        known = ", ".join(sorted(s.name for s in SERVICES.values() if s.domain == domain))
        hint = f"Services of {domain}: {known}." if known else f"Known domains: {', '.join(sorted({s.domain for s in SERVICES.values()}))}."
        raise ServiceCallError(f"Unknown service {domain}.{service}. {hint}")
    if not isinstance(data, dict):
        raise ServiceCallError("Service data must be a JSON object.")
    ids = data.get("entity_id")
    if not ids:
        raise ServiceCallError(f"{domain}.{service} needs an entity_id.")
    ids = [ids] if isinstance(ids, str) else list(ids)
    targets = []
    for entity_id in ids:
        entity = entities.get(entity_id)
        if entity is None:
            same_domain = ", ".join(e for e in entities if e.startswith(domain + "."))
            raise ServiceCallError(f"Unknown entity {entity_id!r}. Entities of {domain}: {same_domain or 'none'}.")
        if entity.domain != domain:
            raise ServiceCallError(f"{entity_id} is a {entity.domain}, not a {domain}: use a {entity.domain} service.")
        targets.append(entity)
    allowed = {f.name: f for f in spec.fields}
    unknown = set(data) - set(allowed) - {"entity_id"}
    if unknown:
        raise ServiceCallError(f"{spec.full_name} does not take {', '.join(sorted(unknown))}; "
                               f"it takes {', '.join(allowed) or 'only entity_id'}.")
    checked = {}
    for name, spec_field in allowed.items():
        if name in data and data[name] is not None:
            checked[name] = check_field(data[name], spec_field)
        elif spec_field.required:
            raise ServiceCallError(f"{spec.full_name} needs {name} ({spec_field.description}).")
    return spec, targets, checked


def apply_service(entity: Entity, service: Service, data: dict) -> None:
    """Change the entity as the real device would."""
    if service.new_state is not None:
        entity.state = service.new_state
    attrs = entity.attributes
    if entity.domain == "light":
        attrs["brightness_pct"] = data.get("brightness_pct", attrs.get("brightness_pct") or 100) if entity.state == "on" else 0
        if entity.state == "on" and attrs["brightness_pct"] == 0:
            entity.state = "off"
    elif entity.domain == "fan":
        attrs["percentage"] = data.get("percentage", attrs.get("percentage") or 50) if entity.state == "on" else 0
    elif service.full_name == "media_player.volume_set":
        attrs["volume_level"] = round(float(data["volume_level"]), 2)
    elif service.full_name == "climate.set_temperature":
        attrs["temperature"] = float(data["temperature"])
    elif service.full_name == "climate.set_hvac_mode":
        entity.state = data["hvac_mode"]
    elif entity.domain == "cover":
        if service.name == "set_cover_position":
            attrs["current_position"] = data["position"]
        else:
            attrs["current_position"] = 100 if service.name == "open_cover" else 0
        entity.state = "open" if attrs["current_position"] > 0 else "closed"
