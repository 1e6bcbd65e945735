"""Tool-call fine-tuning data for a toolset, generated from the tools' own schemas.

    python -m training.tool_data --out .hearth/finetune/data/home_tools.jsonl --per-call 3

For the home toolset (`tools.home.tools.HomeToolbox` over the default house, no hub needed):
every tool x every entity its `entity_id` enum allows x argument values drawn from each field's
range or choices x several phrasings of the request, plus requests that need no call (small talk,
general questions: the reply is an `{"answer": ...}`) and requests that must be refused (devices
the house does not expose, values outside a field's range: the answer says what is valid).

Rows are rendered exactly as the home agent asks the model: the agent's system prompt with the
device list, the tool instruction `models.constrained.tools_instruction` writes, the request as
the user turn, and the envelope (`{"tool_calls": [{"name", "arguments"}]}` or `{"answer"}`) as
the assistant turn. The hand-written command sets in evals/data (home_commands.jsonl and the
blind home_commands_fresh*.jsonl) are the test sets: any generated request equal to one of their
commands is dropped, and the written file is checked by `training.task_data.check_no_test_items`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from training.cli import run_command
from training.task_data import data_folder, held_out_questions, normalize_question, write_dataset

PHRASINGS = {
    "turn_on": ["turn on the {name}", "switch the {name} on", "{name} on, please", "could you turn the {name} on",
                "please power on the {name}", "I'd like the {name} on"],
    "turn_off": ["turn off the {name}", "switch the {name} off", "{name} off, please", "could you turn the {name} off",
                 "please shut off the {name}", "I don't need the {name} anymore, turn it off"],
    "brightness": ["set the {name} to {value}%", "{name} at {value} percent", "put the {name} on {value}% brightness",
                   "change the {name} brightness to {value}", "dim the {name} to {value}%", "brighten the {name} to {value} percent"],
    "fan_speed": ["run the {name} at {value}%", "set the {name} speed to {value} percent", "{name} to {value}%"],
    "set_temperature": ["set the {name} to {value} degrees", "I'd like {value} degrees on the {name}",
                        "change the {name} set point to {value}", "heat the house to {value} degrees"],
    "set_hvac_mode": ["put the {name} in {value} mode", "switch the {name} to {value}", "{name} mode {value}, please",
                      "put the {name} on {value}", "{value} mode on the {name}", "set the {name} to {value} mode"],
    "lock": ["lock the {name}", "please lock the {name}", "make sure the {name} is locked", "secure the {name}",
             "lock up the {name}"],
    "unlock": ["unlock the {name}", "please unlock the {name}", "open the {name} lock for me"],
    "open_cover": ["open the {name}", "please open the {name}", "raise the {name} all the way"],
    "close_cover": ["close the {name}", "please shut the {name}", "lower the {name} completely"],
    "set_cover_position": ["set the {name} to {value}%", "open the {name} to {value} percent", "{name} at {value}% open"],
    "alarm_arm_away": ["arm the {name} in away mode", "we are leaving, arm the {name}", "set the {name} to away",
                       "I'm off to work, arm the {name}", "nobody's home, arm the {name}"],
    "alarm_arm_home": ["arm the {name} in home mode", "set the {name} to home, we're staying in", "arm the {name} for home"],
    "alarm_disarm": ["disarm the {name} with code {code}", "switch off the {name}, the code is {code}", "{name} off, code {code}"],
    "get_state": ["what is the {name} showing", "tell me the state of the {name}", "check the {name} for me",
                  "what does the {name} say right now"],
    "get_state_lock": ["is the {name} locked?", "did I lock the {name}", "is the {name} still unlocked?"],
    "get_state_cover": ["is the {name} open?", "are the {name} up or down", "is the {name} closed right now?"],
    "get_state_light": ["is the {name} on?", "did I leave the {name} on", "is the {name} still on?"],
    "get_state_sensor": ["what's the {name} now?", "what does the {name} read", "give me the {name}"],
    "get_state_binary_sensor": ["is the {name} triggered?", "any activity on the {name}?", "what's the {name} status"],
    "get_state_alarm_control_panel": ["is the {name} armed?", "what mode is the {name} in"],
    "warmer": ["make it {value} degrees warmer", "raise the {name} by {value} degrees", "bump the heating up by {value}"],
    "cooler": ["make it {value} degrees cooler", "lower the {name} by {value} degrees", "turn the heating down by {value}"],
    "brighter": ["make the {name} {value}% brighter", "brighten the {name} by {value} percent", "turn the {name} up by {value}%"],
    "volume_set": ["set the {name} volume to {value}%", "{name} volume at {value} percent", "put the volume of the {name} on {value}%"],
    "louder": ["turn the {name} up by {value}%", "make the {name} {value}% louder", "raise the volume by {value} percent"],
    "quieter": ["turn the {name} down by {value}%", "make the {name} {value}% quieter", "lower the volume by {value} percent"],
    "dimmer": ["make the {name} {value}% dimmer", "dim the {name} by {value} percent", "turn the {name} down by {value}%"],
}
VAGUE = {  # relative requests that name no amount, and the step they get (the kind's default step)
    "brighter": (20, ["make the {name} brighter", "{name} a bit brighter", "brighten the {name} a little",
                      "the {name} is too dim", "turn the {name} up a bit"]),
    "dimmer": (-20, ["dim the {name} a little", "make the {name} dimmer", "{name} a bit darker",
                     "the {name} is too bright", "turn the {name} down a bit"]),
    "louder": (10, ["turn the {name} up", "make the {name} a bit louder", "{name} louder please", "I can't hear the {name}"]),
    "quieter": (-10, ["turn the {name} down", "make the {name} a bit quieter", "{name} quieter please",
                      "the {name} is too loud"]),
    "warmer": (1, ["turn up the heat", "make it a bit warmer", "raise the {name} a little", "bump up the {name}"]),
    "cooler": (-1, ["turn the heat down", "make it a bit cooler", "lower the {name} a little", "turn down the {name}"]),
}
VALUE_WORDS = {  # values people say in words: brightness / position percent
    100: ["full brightness on the {name}", "{name} all the way up", "max out the {name}"],
    50: ["{name} to half brightness", "half brightness on the {name}", "{name} at half"],
}
POSITION_WORDS = {50: ["open the {name} halfway", "{name} half open", "put the {name} halfway"],
                  100: ["open the {name} all the way", "{name} fully open"]}
SENSOR_QUESTIONS = {  # a sensor's device_class -> how people ask for its reading ({where}: "outside", "in the kitchen")
    "temperature": ["what's the temperature {where}?", "how warm is it {where}?", "how cold is it {where} right now",
                    "temperature {where}?"],
    "humidity": ["what is the humidity {where}?", "how humid is it {where}?", "humidity {where} please"],
    "motion": ["is there motion {where}?", "has anyone moved {where}?", "any movement {where}?"],
}
AREA_LIGHT = {  # the effect, not the device: the light of the area ({area})
    "turn_on": ["it's too dark in the {area}", "I can't see a thing in the {area}", "some light in the {area} please"],
    "turn_off": ["nobody's in the {area}, lights off", "kill the lights in the {area}"],
}
SMALL_TALK = [
    ("good morning", "Good morning! How can I help around the house?"),
    ("thank you so much", "You're welcome!"),
    ("what can you do?", "I can switch lights, appliances and fans, set the thermostat, lock doors, move blinds and read the sensors."),
    ("how are you today?", "I'm fine, thanks. What would you like me to do?"),
    ("what is the tallest mountain in the world?", "Mount Everest, at about 8,849 metres."),
    ("how many minutes are in two hours?", "120 minutes."),
    ("write a short poem about rain", "Soft rain on the roof, a quiet drum; the garden drinks and the evening comes."),
    ("who wrote Romeo and Juliet?", "William Shakespeare."),
    ("book me a flight to Paris", "I can't book flights; I can only control the devices in this house."),
    ("send an email to my boss", "I can't send emails; I can only control the devices in this house."),
    ("what's the square root of 81?", "9."),
    ("never mind", "OK."),
    ("spell the word necessary", "N-E-C-E-S-S-A-R-Y."),
    ("recommend a good book", "Try 'The Hobbit' by J.R.R. Tolkien."),
    ("goodbye", "Goodbye!"),
    ("is it a good idea to drink water every day?", "Yes, drinking enough water every day is good for you."),
]
DOMAIN_WORDS = {  # what people call a device of each kind, besides its name (Home Assistant's own vocabulary)
    "light": ["light", "lights", "lamp"], "fan": ["fan"], "climate": ["thermostat", "heating", "heat"],
    "alarm_control_panel": ["alarm", "security system"], "media_player": ["speaker", "music"], "lock": ["door"],
}
INDIRECT = {  # requests that name the effect, not the device (the house decides which device)
    "warmer": ["I'm cold", "it's chilly in here", "could it be a little warmer", "bit cold in here, warm it up",
               "too cold in here", "it feels cold", "I'm freezing over here"],
    "cooler": ["it's too warm in here", "I'm boiling", "cool the place down a bit", "could it be a little cooler",
               "way too hot in here", "it feels hot", "I'm sweating in here"],
}
OUT_OF_SCOPE = [  # things assistants are asked that this toolset cannot do: answered, nothing called
    ("remind me to {task} tomorrow", "I can't set reminders; I can only control the devices in this house."),
    ("set a timer for {n} minutes", "I can't set timers; I can only control the devices in this house."),
    ("add {item} to my shopping list", "I can't keep lists; I can only control the devices in this house."),
    ("what's the weather forecast for tomorrow?", "I can't look up forecasts; I can read the outdoor temperature sensor."),
    ("call {person}", "I can't make calls; I can only control the devices in this house."),
    ("text {person} that I'm running late", "I can't send messages; I can only control the devices in this house."),
    ("order a pizza", "I can't order food; I can only control the devices in this house."),
]
TASKS = ["pay the rent", "water the plants", "buy bread", "phone the dentist", "take the bins out"]
ITEMS = ["milk", "eggs", "coffee beans", "washing-up liquid"]
PEOPLE = ["grandma", "my brother", "the office", "Sam"]
OPENERS = ["can you ", "please ", "could you ", "hey, ", "ok ", "hey assistant, "]
VERBS = {"turn", "switch", "set", "make", "lock", "unlock", "open", "close", "arm", "disarm", "put", "dim", "brighten",
         "raise", "lower", "change", "run", "heat", "check", "tell", "give", "bump", "start", "secure", "shut", "cool"}
CLOSERS = [" please", " thanks", " pls", " now", " for me", ", thank you", " asap"]
CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Canada": "Ottawa", "Kenya": "Nairobi", "Peru": "Lima",
            "Norway": "Oslo", "Egypt": "Cairo", "Australia": "Canberra", "Spain": "Madrid", "Chile": "Santiago"}
QUESTION_FORMS = ["what is the capital of {country}?", "which city is the capital of {country}?",
                  "tell me the capital of {country}"]
ARITHMETIC_FORMS = ["what is {a} plus {b}?", "how much is {a} + {b}?", "add {a} and {b}"]
RELATIVE = {"light_change_brightness": ("dimmer", "brighter"), "media_player_change_volume": ("quieter", "louder"),
            "climate_change_temperature": ("cooler", "warmer")}
JOINERS = [" and ", ", then ", ", and also ", " and please "]
UNEXPOSED = ["garden sprinkler", "attic window", "dishwasher", "pool heater", "garage light", "TV", "doorbell camera",
             "basement fan", "kids' room light", "washing machine", "oven", "robot vacuum", "kettle", "hot tub",
             "tumble dryer", "security camera", "air purifier", "printer", "electric blanket", "towel rail"]
UNEXPOSED_FORMS = ["turn on the {d}", "switch off the {d}", "open the {d}", "start the {d}", "can you turn the {d} on",
                   "{d} on please", "shut the {d} off", "is the {d} on?"]
# A kind the house has, asked for in an area where it has none ("the bathroom light"): refused, with
# where that kind is. Each kind: (words people use, request forms).
KIND_IN_AREA = {
    "light": (["light", "lamp", "lights"], ["turn on the {area} {word}", "switch off the {word} in the {area}",
                                           "{area} {word} on please", "dim the {area} {word}"]),
    "cover": (["blinds"], ["open the {area} {word}", "close the {word} in the {area}", "{area} {word} halfway please"]),
    "fan": (["fan"], ["turn on the {area} {word}", "switch the {word} in the {area} off"]),
    "media_player": (["speaker"], ["turn up the {area} {word}", "switch on the {word} in the {area}"]),
}
OTHER_AREAS = ["bathroom", "office", "dining room", "kids' room", "guest room", "basement", "attic"]
OUT_OF_RANGE = [  # (request, the field's range in words) for values no schema accepts
    ("set the speaker volume to {v}%", "Volume goes from 0 to 100%", (120, 150, 200)),
    ("run the fan at {v}%", "Fan speed goes from 0 to 100%", (110, 150)),
    ("open the bedroom blinds to {v}%", "Blinds open from 0 to 100%", (120, 150)),
]


def home_toolset():
    """(toolbox, tools, system prompt) of the home agent over the default house, with no hub."""
    from tools.agent_prompt import TOOL_AGENT_SYSTEM_PROMPT
    from tools.home.tools import default_house_toolbox

    box = default_house_toolbox()
    tools = box.tools()
    system = TOOL_AGENT_SYSTEM_PROMPT.format(toolset_notes="Devices in the house:\n" + box.describe())
    return box, tools, system


def tool_prompt(system: str, tools: list, request: str) -> list[dict]:
    """The messages a bound chat model sends for `request`: system + tool instruction, user."""
    from models import constrained

    definitions = constrained.tool_definitions(tools)
    return [{"role": "system", "content": system + "\n\n" + constrained.tools_instruction(definitions, "auto")},
            {"role": "user", "content": request}]


def _call(name: str, **arguments) -> str:
    return json.dumps({"tool_calls": [{"name": name, "arguments": arguments}]})


def _answer(text: str) -> str:
    return json.dumps({"answer": text})


def _schema_fields(tool) -> dict:
    return tool.args_schema.model_json_schema().get("properties", {})


def schema_choices(spec: dict) -> list:
    """The values a JSON-schema field allows by listing: `enum`, or `const` (pydantic writes a
    one-value Literal, such as a tool with one device, as `const`).

    >>> schema_choices({"enum": ["light.a", "light.b"]}), schema_choices({"const": "fan.bedroom"}), schema_choices({})
    (['light.a', 'light.b'], ['fan.bedroom'], [])
    """
    if "enum" in spec:
        return list(spec["enum"])
    return [spec["const"]] if "const" in spec else []


def _values(spec: dict, rng: random.Random, k: int) -> list:
    """k values inside a field's range or choices (numbers from the schema's bounds)."""
    if "enum" in spec or "anyOf" in spec and any("enum" in s for s in spec["anyOf"]):
        choices = spec.get("enum") or next(s["enum"] for s in spec["anyOf"] if "enum" in s)
        return rng.sample(list(choices), min(k, len(choices)))
    numeric = spec if "minimum" in spec else next((s for s in spec.get("anyOf", []) if "minimum" in s), spec)
    low, high = numeric.get("minimum", 0), numeric.get("maximum", 100)
    integer = numeric.get("type") == "integer"
    if integer:
        return [rng.randrange(int(low), int(high) + 1, 5 if high - low >= 50 else 1) for _ in range(k)]
    return [round(rng.uniform(low, high) * 2) / 2 for _ in range(k)]


def entity_names(entity, entities: dict) -> list[str]:
    """Ways to name one device: its friendly name, its area with its kind's words ("bedroom lamp"),
    and the bare kind ("the fan") when the house has one device of that kind.

    >>> from tools.home.house import default_house
    >>> house = {e.entity_id: e for e in default_house()}
    >>> entity_names(house["fan.bedroom"], house)
    ['Bedroom fan', 'fan']
    >>> entity_names(house["light.kitchen"], house)
    ['Kitchen light', 'kitchen lights', 'kitchen lamp']
    """
    domain = entity.entity_id.split(".")[0]
    words = DOMAIN_WORDS.get(domain, [])
    names = [entity.friendly_name]
    alone = sum(1 for e in entities.values() if e.entity_id.split(".")[0] == domain) == 1
    for word in words:
        name = f"{entity.area} {word}" if entity.area and not alone else word
        if name.lower() not in {n.lower() for n in names}:
            names.append(name)
    return names


QUESTION_STARTS = ("is ", "are ", "what", "how", "did ", "any ", "has ", "who", "which", "does ", "do ", "can ", "could ")


def casual(request: str, rng: random.Random) -> str:
    """The same request as people type it: an opener on a command ("hey, ", "can you "), a closer
    (" pls", " thanks"), lower case or no end mark. Questions get no opener.

    >>> casual("turn on the porch light", random.Random(3))
    'ok turn on the porch light for me'
    """
    text = request
    question = text.lower().startswith(QUESTION_STARTS)
    if not question and rng.random() < 0.5:
        verb = text.split(" ", 1)[0].lower() in VERBS  # "can you" only before a verb
        text = rng.choice(OPENERS if verb else OPENERS[-2:]) + text[0].lower() + text[1:]
    if rng.random() < 0.5 and not text.rstrip("?.!").endswith(("please", "pls", "thanks", "thank you")):
        text = text.rstrip("?.!") + rng.choice(CLOSERS[:3] if question else CLOSERS)
    if rng.random() < 0.3:
        text = text.lower().rstrip("?.!")
    return text


def generate_home_requests(per_call: int = 3, seed: int = 0, min_per_tool: int = 12) -> list[tuple[str, str, str]]:
    """(request, envelope reply, kind) triples for the home toolset: calls, no-call answers, refusals.
    Every tool gets at least `min_per_tool` requests (a tool with one device, like the thermostat's,
    would otherwise get `per_call`), and each request names its device one of the ways
    `entity_names` knows."""
    rng = random.Random(seed)
    box, tools, _ = home_toolset()
    by_name = {t.name: t for t in tools}
    out: list[tuple[str, str, str]] = []

    turn = {"i": 0}

    def say(kind: str, entity_name: str, **values) -> str:  # phrasings taken in turn, so repeats differ
        turn["i"] += 1
        return PHRASINGS[kind][turn["i"] % len(PHRASINGS[kind])].format(name=entity_name.lower(), **values)

    for tool in tools:
        fields = _schema_fields(tool)
        entity_ids = schema_choices(fields.get("entity_id", {}))
        domain = entity_ids[0].split(".")[0] if entity_ids else ""
        service = tool.name[len(domain) + 1:] if tool.name.startswith(domain + "_") else tool.name
        rounds = max(per_call, -(-min_per_tool // max(1, len(entity_ids))))
        if tool.name == "get_state":  # one tool over every device: fewer per device
            rounds = max(2, per_call // 2)
        for entity_id in entity_ids:
            entity = box.entities[entity_id]
            names = entity_names(entity, box.entities)
            asked = SENSOR_QUESTIONS.get(entity.attributes.get("device_class", ""))
            where = "outside" if entity.area == "outside" else f"in the {entity.area}"
            for k in range(rounds):
                name = names[k % len(names)]
                if tool.name == "get_state" and asked:  # a reading asked for by what it measures and where
                    for form in rng.sample(asked, 2):
                        out.append((form.format(where=where), _call("get_state", entity_id=entity_id), "call"))
                if tool.name == "get_state":
                    kind = "get_state_" + entity_id.split(".")[0]
                    out.append((say(kind if kind in PHRASINGS and k % 2 else "get_state", name),
                                _call("get_state", entity_id=entity_id), "call"))
                elif tool.name in RELATIVE and rng.random() < 0.4:  # no amount named: the kind's default step
                    kind = RELATIVE[tool.name][rng.random() < 0.5]
                    step, forms = VAGUE[kind]
                    out.append((forms[k % len(forms)].format(name=name.lower()),
                                _call(tool.name, entity_id=entity_id, change=step), "call"))
                elif tool.name == "climate_change_temperature":
                    step = rng.choice([1, 1.5, 2, 3])
                    up = rng.random() < 0.5
                    out.append((say("warmer" if up else "cooler", name, value=f"{step:g}"),
                                _call(tool.name, entity_id=entity_id, change=step if up else -step), "call"))
                    if k < len(INDIRECT["warmer"]):  # no amount named: a small step either way
                        out.append((INDIRECT["warmer" if up else "cooler"][k], _call(tool.name, entity_id=entity_id,
                                                                                     change=1 if up else -1), "call"))
                elif tool.name == "media_player_change_volume":
                    step = rng.choice([5, 10, 20, 25])
                    up = rng.random() < 0.5
                    out.append((say("louder" if up else "quieter", name, value=step),
                                _call(tool.name, entity_id=entity_id, change=step if up else -step), "call"))
                elif tool.name == "media_player_volume_set":
                    percent = rng.randrange(0, 101, 5)
                    out.append((say("volume_set", name, value=percent),
                                _call(tool.name, entity_id=entity_id, volume_level=percent / 100), "call"))
                elif tool.name == "light_change_brightness":
                    step = rng.choice([10, 20, 25, 30, 50])
                    up = rng.random() < 0.5
                    out.append((say("brighter" if up else "dimmer", name, value=step),
                                _call(tool.name, entity_id=entity_id, change=step if up else -step), "call"))
                elif service in ("turn_on", "turn_off") and rng.random() < 0.5 and (
                        "brightness_pct" in fields or "percentage" in fields) and service == "turn_on":
                    key = "brightness_pct" if "brightness_pct" in fields else "percentage"
                    if key == "brightness_pct" and rng.random() < 0.3:  # a value in words: "half brightness"
                        value = rng.choice(sorted(VALUE_WORDS))
                        out.append((rng.choice(VALUE_WORDS[value]).format(name=name.lower()),
                                    _call(tool.name, entity_id=entity_id, **{key: value}), "call"))
                        continue
                    value = _values(fields[key], rng, 1)[0]
                    out.append((say("brightness" if key == "brightness_pct" else "fan_speed", name, value=value),
                                _call(tool.name, entity_id=entity_id, **{key: value}), "call"))
                elif service == "set_cover_position" and rng.random() < 0.3:  # "halfway", "all the way"
                    value = rng.choice(sorted(POSITION_WORDS))
                    out.append((rng.choice(POSITION_WORDS[value]).format(name=name.lower()),
                                _call(tool.name, entity_id=entity_id, position=value), "call"))
                elif service in ("set_temperature", "set_hvac_mode", "set_cover_position"):
                    key = {"set_temperature": "temperature", "set_hvac_mode": "hvac_mode", "set_cover_position": "position"}[service]
                    value = _values(fields[key], rng, 1)[0]
                    shown = f"{value:g}" if isinstance(value, float) else value
                    out.append((say(service, name, value=shown), _call(tool.name, entity_id=entity_id, **{key: value}), "call"))
                elif service == "alarm_disarm":
                    code = f"{rng.randrange(1000, 10000)}"
                    out.append((say(service, name, code=code), _call(tool.name, entity_id=entity_id, code=code), "call"))
                elif service in PHRASINGS:
                    out.append((say(service, name), _call(tool.name, entity_id=entity_id), "call"))
    lights = [e for e in box.entities.values() if e.domain == "light"]
    for entity in lights:  # the effect named, the area's light meant
        if sum(1 for other in lights if other.area == entity.area) == 1 and entity.area != "outside":
            for service, forms in AREA_LIGHT.items():
                out.append((rng.choice(forms).format(area=entity.area), _call(f"light_{service}", entity_id=entity.entity_id),
                            "call"))
    singles = [(request, reply) for request, reply, kind in out if kind == "call"]
    for _ in range(max(20, len(singles) // 4)):  # two requests in one sentence: both calls, in order
        (first, first_reply), (second, second_reply) = rng.sample(singles, 2)
        if json.loads(first_reply)["tool_calls"][0] == json.loads(second_reply)["tool_calls"][0]:
            continue
        calls = json.loads(first_reply)["tool_calls"] + json.loads(second_reply)["tool_calls"]
        out.append((first + rng.choice(JOINERS) + second, json.dumps({"tool_calls": calls}), "multi"))
    for request, reply in SMALL_TALK:
        out.append((request, _answer(reply), "no_call"))
    for country, capital in CAPITALS.items():  # general questions: answered, no device touched
        out.append((rng.choice(QUESTION_FORMS).format(country=country), _answer(f"{capital}."), "no_call"))
    for _ in range(12):
        a, b = rng.randrange(2, 90), rng.randrange(2, 90)
        out.append((rng.choice(ARITHMETIC_FORMS).format(a=a, b=b), _answer(f"{a + b}."), "no_call"))
    for form, reply in OUT_OF_SCOPE:  # other assistants' skills: said plainly, nothing called
        for _ in range(2 if "{" in form else 1):
            out.append((form.format(task=rng.choice(TASKS), n=rng.choice([5, 10, 15, 25]), item=rng.choice(ITEMS),
                                    person=rng.choice(PEOPLE)), _answer(reply), "no_call"))
    out = [(casual(request, rng) if kind in ("call", "multi") and rng.random() < 0.35 else request, reply, kind)
           for request, reply, kind in out]
    for device in UNEXPOSED:  # a device the house does not have: said so, nothing called
        for form in rng.sample(UNEXPOSED_FORMS, 2):
            request = form.format(d=device)
            out.append((casual(request, rng) if rng.random() < 0.35 else request,
                        _answer(f"There is no {device} among the devices I can control."), "refusal"))
    out += missing_in_area_requests(box.entities.values(), rng)
    for form, valid, values in OUT_OF_RANGE:
        for value in values:
            out.append((form.format(v=value), _answer(f"{valid}; {value}% is out of range."), "refusal"))
    thermostat = by_name.get("climate_set_temperature")
    if thermostat:
        spec = _schema_fields(thermostat)["temperature"]
        low, high = spec.get("minimum", 7), spec.get("maximum", 30)
        for value in (2, 4, 35, 40, 45, 60):
            out.append((f"set the thermostat to {value} degrees",
                        _answer(f"The thermostat accepts {low:g} to {high:g} °C; {value} is out of range."), "refusal"))
    for value in (120, 150, 200):
        out.append((f"set the kitchen light to {value}%", _answer(f"Brightness goes from 0 to 100%; {value}% is out of range."),
                    "refusal"))
    return out


def missing_in_area_requests(entities, rng: random.Random) -> list[tuple[str, str, str]]:
    """Requests for a kind of device the house has, in an area where it has none ("turn on the
    bathroom light"), refused with the areas that do have one.

    >>> from tools.home.house import default_house
    >>> rows = missing_in_area_requests(default_house(), random.Random(0))
    >>> any("bathroom" in r and "light" in r for r, _, _ in rows), all(k == "refusal" for _, _, k in rows)
    (True, True)
    >>> [r for r, _, _ in rows if "bedroom fan" in r or "fan in the bedroom" in r]   # the house has that one
    []
    """
    entities = list(entities)
    areas = sorted({e.area for e in entities if e.area and e.area != "outside"} | set(OTHER_AREAS))
    rows = []
    for domain, (words, forms) in KIND_IN_AREA.items():
        have = [e for e in entities if e.domain == domain  # covers: the blinds, not the garage door
                and (domain != "cover" or any(w in e.friendly_name.lower() for w in words))]
        if not have:
            continue
        where = sorted({e.area for e in have})
        listed = ", ".join(where[:-1]) + (" and " if len(where) > 1 else "") + where[-1]
        for area in areas:
            if area in where:
                continue
            word = rng.choice(words)
            request = rng.choice(forms).format(area=area, word=word)
            plural = words[0].endswith("s")  # "blinds"
            reply = (f"There {'are' if plural else 'is'} no {area} {words[0]} among the devices I can control; "
                     f"the {words[0]}{'' if plural else 's'} I can control are in: {listed}.")
            rows.append((request, _answer(reply), "refusal"))
    return rows


def build_tool_dataset(out: str | Path, per_call: int = 3, seed: int = 0) -> dict:
    """Write the home tool-call set (test commands dropped) and its manifest."""
    _, tools, system = home_toolset()
    held = held_out_questions()
    rows, dropped, seen = [], 0, set()
    for request, reply, kind in generate_home_requests(per_call, seed):
        key = normalize_question(request)
        if key in held:
            dropped += 1
            continue
        if key in seen:
            continue
        seen.add(key)
        rows.append({"prompt": tool_prompt(system, tools, request), "completion": [{"role": "assistant", "content": reply}],
                     "task": "tool_calls", "source": f"home:{kind}", "question": request})
    random.Random(seed).shuffle(rows)
    return write_dataset(rows, out, build="training.tool_data", toolset="home (default house)", per_call=per_call,
                         seed=seed, dropped_test_items=dropped)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help="JSONL to write (default $HEARTH_HOME/finetune/data/home_tools.jsonl)")
    parser.add_argument("--per-call", type=int, default=3, help="phrasings per (tool, entity)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    info = build_tool_dataset(args.out or data_folder() / "home_tools.jsonl", args.per_call, args.seed)
    print(json.dumps(info, indent=2))
    return info


if __name__ == "__main__":
    sys.exit(run_command(main))
