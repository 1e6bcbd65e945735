"""A sentence matcher for common home commands, tried before the model (like Home Assistant's
"prefer handling commands locally"): fast, exact, and the model is asked only about the rest.

    from tools.home.commands import CommandMatcher
    matcher = CommandMatcher(entities)                 # {entity_id: Entity}, e.g. HomeToolbox(...).entities
    matcher.match("make it warmer in here")           # [{"name": "climate_change_temperature", "args": {...}}]
    matcher.match("turn off the kitchen light")       # [{"name": "light_turn_off", "args": {"entity_id": "light.kitchen"}}]
    matcher.match("write me a poem")                   # None: not a command it knows

Each rule names the tool it calls; the entity comes from the words of its friendly name and
area, limited to the domains the tool acts on. A sentence with two commands joined by "and"
gives two calls.
"""

from __future__ import annotations

import re

from tools.home.house import Entity

NUMBER = r"(\d+(?:\.\d+)?)"
WARMER = (r"\b(warmer|hotter|heat (?:it |the house |the room )?up|warm (?:it |the house |the room |things )?up|"
          r"turn (?:up the (?:heat|heating|thermostat|temperature)|the (?:heat|heating|thermostat|temperature) up)|"
          r"too cold|(?:it'?s|i'?m) (?:so |a bit |really )?(?:cold|chilly|freezing)|freezing|chilly)\b")
COOLER = (r"\b(cooler|colder|cool (?:it |the house |the room |things )?down|"
          r"turn (?:down the (?:heat|heating|thermostat|temperature)|the (?:heat|heating|thermostat|temperature) down)|"
          r"too (?:hot|warm)|(?:it'?s|i'?m) (?:so |a bit |really )?(?:hot|boiling|sweating))\b")
BRIGHTER = r"\b(brighter|brighten|more light|too dark|lighten (?:it |the room )?up)\b"
DIMMER = r"\b(dim|dimmer|darker|too bright|less light|tone down the lights?)\b"
LOUDER = (r"\b(louder|too quiet|(?:can'?t|cannot) hear|turn (?:up the (?:music|volume|sound|speaker)|"
          r"the (?:music|volume|sound|speaker) up)|volume up|pump (?:it|the music) up)\b")
QUIETER = (r"\b(quieter|softer|too loud|(?:it'?s|that'?s) loud|turn (?:down the (?:music|volume|sound|speaker)|"
           r"the (?:music|volume|sound|speaker) down)|volume down|lower the (?:volume|music|sound)|keep it down)\b")
SMALL_STEP = r"\b(a (?:little )?bit|a little|slightly|a touch|a tad|somewhat)\b"
BIG_STEP = r"\b(a lot|much|way too|really|very|so)\b"
# (small, normal, big) steps of the relative tools: degrees, and percentage points of brightness and volume
TEMPERATURE_STEPS = (1.0, 1.0, 2.0)
BRIGHTNESS_STEPS = (10, 20, 30)
VOLUME_STEPS = (5, 10, 20)
STOP_WORDS = {"the", "a", "an", "in", "on", "off", "to", "of", "please", "my", "and", "turn", "switch", "set", "is", "it",
              "what", "s", "light", "lights", "lamp", "door", "blinds", "shades", "here", "room", "at", "percent", "by"}
DOMAIN_WORDS = {"light": ("light", "lights", "lamp", "lamps"), "fan": ("fan",), "switch": ("coffee", "maker", "machine"),
                "lock": ("lock", "door"), "cover": ("blinds", "shades", "garage", "curtains"),
                "climate": ("thermostat", "heating", "temperature", "heat"),
                "alarm_control_panel": ("alarm",)}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


class CommandMatcher:
    def __init__(self, entities: dict[str, Entity]):
        self.entities = entities

    def resolve(self, text: str, domains: tuple[str, ...], prefer=None) -> str | None:
        """The entity of these domains whose name and area share the most words with the text; when no
        words match, the only candidate, or the only one that satisfies `prefer` (e.g. a light that is on)."""
        words = _words(text) - STOP_WORDS
        candidates = [e for e in self.entities.values() if e.domain in domains]
        if not candidates:
            return None
        scored = []
        for e in candidates:
            name_words = _words(e.friendly_name) | _words(e.area) | _words(e.entity_id.split(".", 1)[1])
            scored.append((len(words & (name_words - STOP_WORDS)), e.entity_id))
        scored.sort(key=lambda s: -s[0])
        best_score, best = scored[0]
        if best_score == 0:
            if len(candidates) == 1:
                return best
            preferred = [e.entity_id for e in candidates if prefer is not None and prefer(e)]
            return preferred[0] if len(preferred) == 1 else None
        if len(scored) > 1 and scored[1][0] == best_score:
            return None  # ambiguous: leave it to the model (or a question back)
        return best

    def match(self, text: str) -> list[dict] | None:
        parts = [p for p in re.split(r"\s*(?:,|\band then\b|\band\b)\s*(?=(?:turn|switch|set|lock|unlock|open|close|dim|make|arm|disarm)\b)",
                                     text.lower()) if p.strip()]
        calls = []
        for part in parts:
            call = self._match_one(part)
            if call is None:
                return None
            calls.append(call)
        return calls or None

    def _call(self, name: str, entity_id: str | None, **args) -> dict | None:
        if entity_id is None:
            return None
        return {"name": name, "args": {"entity_id": entity_id, **args}}

    def _match_one(self, text: str) -> dict | None:
        text = text.strip().rstrip(".!?")
        number = re.search(NUMBER + r"\s*(?:%|percent|degrees|°)?", text)
        value = float(number.group(1)) if number else None
        by = re.search(r"\bby " + NUMBER, text)
        if re.search(LOUDER, text) or re.search(QUIETER, text):
            sign = 1 if re.search(LOUDER, text) else -1
            change = sign * (int(float(by.group(1))) if by else _step(text, VOLUME_STEPS))
            return self._call("media_player_change_volume", self.resolve(text, ("media_player",), _playing), change=change)
        if re.search(WARMER, text) or re.search(COOLER, text):
            sign = 1 if re.search(WARMER, text) else -1
            change = sign * (float(by.group(1)) if by else _step(text, TEMPERATURE_STEPS))
            return self._call("climate_change_temperature", self.resolve(text, ("climate",)), change=change)
        if re.search(r"\b(thermostat|heating|temperature)\b.*\bto\b", text) and value is not None:
            return self._call("climate_set_temperature", self.resolve(text, ("climate",)), temperature=value)
        if m := re.search(r"\b(?:mode|thermostat) to (heat|cool|auto|off)\b", text):
            return self._call("climate_set_hvac_mode", self.resolve(text, ("climate",)), hvac_mode=m.group(1))
        if re.search(r"\b(what|how)\b.*\b(temperature|warm|cold|humid|humidity)\b", text):
            kind = "humidity" if "humid" in text else "temperature"
            sensors = {k: e for k, e in self.entities.items() if e.domain == "sensor" and kind in k}
            entity = CommandMatcher(sensors).resolve(text, ("sensor",)) or next(iter(sensors), None)
            return self._call("get_state", entity)
        if m := re.search(r"\b(?:is|are) (?:the )?(.+?) (locked|unlocked|open|closed|on|off)\b", text):
            domain = ("lock",) if m.group(2) in ("locked", "unlocked") else ("light", "cover", "switch", "fan", "lock")
            return self._call("get_state", self.resolve(m.group(1), domain))
        if re.search(r"\bunlock\b", text):
            return self._call("lock_unlock", self.resolve(text, ("lock",)))
        if re.search(r"\block\b", text):
            return self._call("lock_lock", self.resolve(text, ("lock",)))
        if re.search(r"\bdisarm\b", text):
            return self._call("alarm_control_panel_alarm_disarm", self.resolve(text, ("alarm_control_panel",)),
                              **({"code": number.group(1)} if number else {}))
        if m := re.search(r"\barm\b.*?\b(away|home)?\b", text) if re.search(r"\barm\b", text) else None:
            at_home = re.search(r"\bhome mode\b|\bat home\b|\bstay\b", text) and "away" not in text
            service = "alarm_control_panel_alarm_arm_home" if at_home else "alarm_control_panel_alarm_arm_away"
            return self._call(service, self.resolve(text, ("alarm_control_panel",)), **({"code": number.group(1)} if number else {}))
        if re.search(r"\b(open|raise|close|lower|shut|set)\b", text) and re.search(r"\b(blinds|shades|garage|curtains)\b", text):
            entity = self.resolve(text, ("cover",))
            if re.search(r"\bhalf(?:way)?\b", text):
                return self._call("cover_set_cover_position", entity, position=50)
            if value is not None:
                return self._call("cover_set_cover_position", entity, position=int(value))
            opening = re.search(r"\b(open|raise)\b", text) is not None
            return self._call("cover_open_cover" if opening else "cover_close_cover", entity)
        if (re.search(DIMMER, text) or re.search(BRIGHTER, text)) and (value is None or by):
            sign = 1 if re.search(BRIGHTER, text) else -1
            change = sign * (int(float(by.group(1))) if by else _step(text, BRIGHTNESS_STEPS))
            return self._call("light_change_brightness", self.resolve(text, ("light",), _lit), change=change)
        on = re.search(r"\b(turn|switch|put) on\b|\bon\b$|\bstart\b", text)
        off = re.search(r"\b(turn|switch|put) off\b|\boff\b$|\bstop\b", text)
        domains = tuple(d for d in ("light", "fan", "switch") if _words(text) & set(DOMAIN_WORDS[d])) or ("light", "fan", "switch")
        if (re.search(r"\b(dim|set|brightness)\b", text) and value is not None) or (on and value is not None):
            if "fan" in domains and len(domains) == 1:
                return self._call("fan_turn_on", self.resolve(text, ("fan",)), percentage=int(value))
            entity = self.resolve(text, ("light",))
            return self._call("light_turn_on", entity, brightness_pct=int(value))
        if on or off:
            entity = self.resolve(text, domains)
            if entity is None:
                return None
            domain = entity.split(".")[0]
            return self._call(f"{domain}_turn_{'on' if on else 'off'}", entity)
        return None


def _step(text: str, steps: tuple) -> float | int:
    """The small, normal or big step, by the words of the request ("a bit", "way too")."""
    small, normal, big = steps
    if re.search(SMALL_STEP, text):
        return small
    return big if re.search(BIG_STEP, text) else normal


def _lit(entity: Entity) -> bool:
    return entity.state == "on"


def _playing(entity: Entity) -> bool:
    return entity.state not in ("off", "unavailable")


def describe_call(name: str, args: dict, entities: dict[str, Entity]) -> str:
    """A short phrase for a confirmation question: 'unlock Front door'."""
    entity = entities.get(args.get("entity_id", ""))
    target = entity.friendly_name if entity else args.get("entity_id", "the device")
    verb = {"lock_unlock": "unlock", "lock_lock": "lock", "cover_open_cover": "open",
            "cover_close_cover": "close", "alarm_control_panel_alarm_disarm": "disarm",
            "cover_set_cover_position": f"open to {args.get('position')}%"}.get(name, name.replace("_", " "))
    return f"{verb} {target}"
