"""Tool-call validity on the bundled model, with and without constrained decoding.

    python -m evals.tool_calls                                   # 50 requests, three modes
    python -m evals.tool_calls --requests 10 --modes constrained_auto unconstrained

`python -m evals.bench_llm` runs this too, after its throughput table. Writes `tool_calls.json`
(every request, reply and verdict) and `tool_calls.md` into `--out` (default `out/tool_calls/`).
Validity is `evals.tool_call_checks.check_calls`, the rule `evals.function_calling` also uses.

50 varied requests (weather, math, unit conversion, email, calendar, search, timers, smart home,
and small talk that needs no tool) over 8 tools given as JSON schemas. Model:
`load_chat_model("local?temperature=0")` (2 threads and max_tokens=512, the framework defaults).
Unconstrained replies are capped at 192 tokens (`.bind(max_tokens=192)`) to keep the run short:
an envelope with one call is 20-80 tokens, and a 135M model left free mostly writes prose.

- constrained, auto: `.bind_tools(TOOLS)`: the reply is decoded under the envelope grammar
  (`models.constrained.reply_schema`). Valid = a direct answer, or tool calls whose names exist
  and whose arguments validate (`jsonschema`) against the tool's parameters.
- constrained, any: `.bind_tools(TOOLS, tool_choice="any")`: valid = tool calls as above.
- constrained, auto, one call (only with `--modes ... constrained_auto_single`):
  `.bind_tools(TOOLS, parallel_tool_calls=False)`.
- native: the tools as the model family was trained to see them, parsed as it writes them.
  SmolLM2's chat template has no tool section (checked at run time, `chat_template_has_tools`),
  so this is the Hermes convention (`evals.tool_call_checks.hermes_tools_prompt`): signatures in
  `<tools>`, calls as `{"name", "arguments"}` in `<tool_call>` blocks. No block = a direct answer.
- unconstrained: the same system prompt text (`models.constrained.tools_instruction(...)`),
  plain `model.invoke(...)` without bind_tools; the reply text is parsed with
  `models.constrained.parse_reply` and validated the same way ("strict"). "lenient" also accepts
  the first JSON object found anywhere in the reply (code fences, prose around it).

Grammar-constrained text can only fail to parse when generation stopped before the JSON closed
(max_tokens); such replies raise `JSONDecodeError` inside `invoke()` and count as invalid
("cut off"). Every request, reply and verdict is in the JSON file.

The tool schemas use only what llama-cpp-python's JSON-schema-to-grammar converter enforces
(types, enums, required, additionalProperties, a date pattern); it ignores minimum/maximum.
"""

from __future__ import annotations

import models  # noqa: F401,I001  (offline switches and OMP_WAIT_POLICY before llama.cpp loads)
from models import constrained, load_chat_model

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from evals.tool_call_checks import (bundled_chat_template, chat_template_has_tools, check_calls, first_json_object,
                                    hermes_tools_prompt, parse_tool_call_tags)

UNCONSTRAINED_MAX_TOKENS = 192


def _function(name: str, description: str, properties: dict, required: list[str]) -> dict:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": properties, "required": required, "additionalProperties": False}}}


TOOLS = [
    _function("get_weather", "Current weather or forecast for a city.", {
        "city": {"type": "string", "description": "City name, e.g. 'Oslo'"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    }, ["city"]),
    _function("calculate", "Evaluate an arithmetic expression.", {
        "expression": {"type": "string", "description": "e.g. '(12 + 7) * 3'"},
    }, ["expression"]),
    _function("convert_units", "Convert a quantity from one unit to another.", {
        "value": {"type": "number"},
        "from_unit": {"type": "string", "description": "e.g. 'km', 'lb', 'celsius'"},
        "to_unit": {"type": "string"},
    }, ["value", "from_unit", "to_unit"]),
    _function("send_email", "Send an email.", {
        "to": {"type": "string", "description": "Recipient email address"},
        "subject": {"type": "string"},
        "body": {"type": "string"},
    }, ["to", "subject", "body"]),
    _function("create_event", "Add an event to the calendar.", {
        "title": {"type": "string"},
        "date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "description": "YYYY-MM-DD"},
        "time": {"type": "string", "description": "HH:MM, 24-hour"},
        "duration_minutes": {"type": "integer"},
    }, ["title", "date"]),
    _function("web_search", "Search the web.", {
        "query": {"type": "string"},
        "max_results": {"type": "integer"},
    }, ["query"]),
    _function("set_timer", "Start a countdown timer.", {
        "minutes": {"type": "number"},
        "label": {"type": "string"},
    }, ["minutes"]),
    _function("control_device", "Control a smart-home device.", {
        "device": {"type": "string", "description": "e.g. 'living room lights', 'thermostat'"},
        "action": {"type": "string", "enum": ["turn_on", "turn_off", "dim", "set_temperature", "lock", "unlock"]},
        "value": {"type": "number", "description": "Brightness percent or temperature, when needed"},
    }, ["device", "action"]),
]

# (request, the tool a person would expect, or None for a direct answer); the expectation is
# reported, not scored: validity is what counts.
TOOL_REQUESTS: list[tuple[str, str | None]] = [
    ("What's the weather like in Paris right now?", "get_weather"),
    ("Will it rain in Tokyo tomorrow?", "get_weather"),
    ("How hot is it in Phoenix in fahrenheit?", "get_weather"),
    ("Do I need a jacket in Berlin today?", "get_weather"),
    ("Weather forecast for Cape Town please.", "get_weather"),
    ("What is 17 times 23?", "calculate"),
    ("Compute (145 + 389) / 6.", "calculate"),
    ("What's the square root of 1764?", "calculate"),
    ("If I split a 86 euro bill among 4 people, how much does each pay?", "calculate"),
    ("Calculate 2 to the power of 16.", "calculate"),
    ("Convert 5 miles to kilometers.", "convert_units"),
    ("How many pounds is 72 kilograms?", "convert_units"),
    ("What is 100 degrees fahrenheit in celsius?", "convert_units"),
    ("Convert 3.5 liters to gallons.", "convert_units"),
    ("How many inches are in 180 centimeters?", "convert_units"),
    ("Email bob@example.com that the meeting moved to 3pm.", "send_email"),
    ("Send an email to my landlord at anna.k@rentco.com saying the heating is broken.", "send_email"),
    ("Write to team@acme.io with subject 'Release' and tell them version 2.1 shipped.", "send_email"),
    ("Let sarah@uni.edu know I will be late to class by email.", "send_email"),
    ("Email support@shop.com asking for a refund on order 5521.", "send_email"),
    ("Put a dentist appointment on my calendar for 2025-03-14 at 09:30.", "create_event"),
    ("Schedule a team lunch on 2025-06-02 at noon for 90 minutes.", "create_event"),
    ("Add 'Mom's birthday' to my calendar on 2025-11-08.", "create_event"),
    ("Create an event called Project review on 2025-04-01 at 14:00.", "create_event"),
    ("Block two hours on 2025-05-20 at 10:00 for deep work.", "create_event"),
    ("Search the web for the best hiking trails near Denver.", "web_search"),
    ("Find recent news about the James Webb telescope.", "web_search"),
    ("Look up reviews of the Framework laptop, top 3 results.", "web_search"),
    ("Who won the 2022 World Cup? Search it.", "web_search"),
    ("Find a recipe for vegan lasagna online.", "web_search"),
    ("Set a timer for 10 minutes.", "set_timer"),
    ("Start a 25 minute pomodoro timer.", "set_timer"),
    ("Remind me in 3 minutes that the tea is ready.", "set_timer"),
    ("Timer for 45 minutes labeled 'bread in oven'.", "set_timer"),
    ("Count down 90 seconds for the eggs.", "set_timer"),
    ("Turn off the living room lights.", "control_device"),
    ("Set the thermostat to 21 degrees.", "control_device"),
    ("Dim the bedroom lamp to 30 percent.", "control_device"),
    ("Lock the front door.", "control_device"),
    ("Switch on the kitchen fan.", "control_device"),
    ("Hi there! How are you today?", None),
    ("Thanks, that was really helpful.", None),
    ("Tell me a short joke.", None),
    ("What's your name?", None),
    ("Good morning!", None),
    ("Can you explain what a noun is?", None),
    ("Say something encouraging, I have an exam tomorrow.", None),
    ("What does 'bonjour' mean?", None),
    ("Write a haiku about autumn.", None),
    ("Goodbye, talk to you later!", None),
]

TOOL_SYSTEM_PROMPT = "You are a helpful assistant."

# What invoke() raises when a constrained envelope was cut off (newer models.constrained names it).
CUT_OFF_ERRORS: tuple[type[Exception], ...] = tuple(
    {json.JSONDecodeError, getattr(constrained, "IncompleteOutputError", json.JSONDecodeError)})


def tool_parameters() -> dict[str, dict]:
    return {d["name"]: d["parameters"] for d in constrained.tool_definitions(TOOLS)}


def judge_envelope(text: str, parameters: dict[str, dict], allow_answer: bool) -> dict:
    """Parse an envelope reply with `constrained.parse_reply` and validate it."""
    try:
        content, calls = constrained.parse_reply(text)
    except Exception as exc:  # noqa: BLE001 - any parse failure is an invalid reply
        return {"valid": False, "kind": "unparseable", "error": f"not an envelope ({type(exc).__name__})"}
    return judge_message(content, calls, parameters, allow_answer)


def judge_message(content: Any, calls: list[dict], parameters: dict[str, dict], allow_answer: bool) -> dict:
    if calls:
        error = check_calls(calls, parameters)
        return {"valid": error is None, "kind": "tool", "error": error,
                "calls": [{"name": c.get("name"), "args": c.get("args")} for c in calls]}
    if not allow_answer:
        return {"valid": False, "kind": "answer", "error": "no tool call although tool_choice='any'"}
    if not isinstance(content, str):
        return {"valid": False, "kind": "answer", "error": "answer is not a string"}
    return {"valid": True, "kind": "answer", "error": None, "answer": content[:200]}


# key -> (label, bind_tools keyword arguments, or None for no bind_tools)
TOOL_MODES: dict[str, tuple[str, dict | None]] = {
    "constrained_auto": ("constrained: `bind_tools(TOOLS)` (auto)", {}),
    "constrained_any": ("constrained: `bind_tools(TOOLS, tool_choice=\"any\")`", {"tool_choice": "any"}),
    "constrained_auto_single": ("constrained: `bind_tools(TOOLS, parallel_tool_calls=False)` (auto, one call)",
                                {"parallel_tool_calls": False}),
    "unconstrained": ("unconstrained: tools in system prompt, `parse_reply` (strict; max_tokens=192)", None),
    "native": ("unconstrained, the model's own format: Hermes `<tools>` / `<tool_call>` (max_tokens=192)", None),
}

DEFAULT_TOOL_MODES = ["constrained_auto", "constrained_any", "unconstrained", "native"]


def run_tool_calls(requests: list[tuple[str, str | None]], modes: list[str]) -> dict:
    from langchain_core.messages import HumanMessage, SystemMessage
    from tqdm import tqdm

    spec = "local?temperature=0"
    model = load_chat_model(spec)
    parameters = tool_parameters()
    definitions = constrained.tool_definitions(TOOLS)
    unconstrained_system = TOOL_SYSTEM_PROMPT + "\n\n" + constrained.tools_instruction(definitions, "auto")
    native_system = TOOL_SYSTEM_PROMPT + "\n\n" + hermes_tools_prompt(definitions)
    results: dict[str, list[dict]] = {name: [] for name in modes}
    seconds: dict[str, float] = {name: 0.0 for name in modes}
    load_before = os.getloadavg()
    for name in modes:
        bind = TOOL_MODES[name][1]
        runnable = model.bind(max_tokens=UNCONSTRAINED_MAX_TOKENS) if bind is None else model.bind_tools(TOOLS, **bind)
        allow_answer = bind is None or bind.get("tool_choice") in (None, "auto")
        for text, expected in tqdm(requests, desc=f"tool calls, {name}", file=sys.stderr, leave=True):
            start = time.perf_counter()
            record: dict[str, Any] = {"request": text, "expected": expected}
            try:
                if name == "native":
                    reply = runnable.invoke([SystemMessage(native_system), HumanMessage(text)])
                    raw = reply.content if isinstance(reply.content, str) else str(reply.content)
                    record["reply"] = raw[:400]
                    calls, error = parse_tool_call_tags(raw)
                    record.update({"valid": False, "kind": "unparseable", "error": error} if error
                                  else judge_message(raw, calls, parameters, allow_answer=True))
                elif bind is None:
                    reply = runnable.invoke([SystemMessage(unconstrained_system), HumanMessage(text)])
                    raw = reply.content if isinstance(reply.content, str) else str(reply.content)
                    record["reply"] = raw[:400]
                    record.update(judge_envelope(raw.strip(), parameters, allow_answer=True))
                    lenient_text = first_json_object(raw)
                    lenient = judge_envelope(lenient_text, parameters, True) if lenient_text else {"valid": False}
                    record["lenient_valid"] = lenient["valid"]
                    record["lenient_kind"] = lenient.get("kind")
                else:
                    reply = runnable.invoke([SystemMessage(TOOL_SYSTEM_PROMPT), HumanMessage(text)])
                    record.update(judge_message(reply.content, reply.tool_calls, parameters, allow_answer))
                record["output_tokens"] = (reply.usage_metadata or {}).get("output_tokens")
            except CUT_OFF_ERRORS as exc:
                # Grammar-constrained text is JSON unless generation stopped before it closed: the
                # envelope was cut off at max_tokens, and parsing it raised inside invoke().
                record.update(valid=False, kind="cut_off", error=f"{type(exc).__name__}: {exc}"[:300])
            except Exception as exc:  # noqa: BLE001 - recorded, the evaluation goes on
                record.update(valid=False, kind="error", error=f"{type(exc).__name__}: {exc}"[:300])
            record["seconds"] = round(time.perf_counter() - start, 3)
            seconds[name] += record["seconds"]
            results[name].append(record)
    summary = {}
    for name, records in results.items():
        n = len(records)
        summary[name] = {
            "n": n,
            "valid": sum(r["valid"] for r in records),
            "chose_tool": sum(r.get("kind") == "tool" for r in records),
            "valid_tool_calls": sum(r["valid"] and r.get("kind") == "tool" for r in records),
            "direct_answers": sum(r.get("kind") == "answer" for r in records),
            "cut_off": sum(r.get("kind") == "cut_off" for r in records),
            "errors": sum(r.get("kind") == "error" for r in records),
            "expected_tool_match": sum(
                (r.get("kind") == "tool" and r["expected"] is not None and r.get("calls") and r["calls"][0]["name"] == r["expected"])
                or (r.get("kind") == "answer" and r["expected"] is None)
                for r in records),
            "seconds": round(seconds[name], 1),
            "output_tokens": sum(r.get("output_tokens") or 0 for r in records),
        }
        if name == "unconstrained":
            summary[name]["lenient_valid"] = sum(r.get("lenient_valid", False) for r in records)
            summary[name]["lenient_chose_tool"] = sum(r.get("lenient_kind") == "tool" for r in records)
            summary[name]["lenient_valid_tool_calls"] = sum(
                r.get("lenient_valid", False) and r.get("lenient_kind") == "tool" for r in records)
    return {"model_spec": spec, "tools": TOOLS, "load_average_before": load_before, "summary": summary,
            "results": results, "chat_template_has_tools": chat_template_has_tools(bundled_chat_template())}


def render_markdown(tc: dict) -> str:
    """The tool-call table (a markdown section)."""
    lines: list[str] = []
    if tc:
        s = tc["summary"]
        lines += [
            "",
            f"## Tool calls ({s['constrained_auto']['n']} requests, {len(tc['tools'])} tools, `{tc['model_spec']}`)",
            "",
            "| mode | valid | chose a tool | valid tool calls | direct answers | cut off at max_tokens "
            "| expected tool (or answer) | seconds |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, r in s.items():
            n = r["n"]
            lines.append(f"| {TOOL_MODES[name][0]} | {r['valid']}/{n} | {r['chose_tool']}/{n} | {r['valid_tool_calls']}/{n} "
                         f"| {r['direct_answers']}/{n} | {r['cut_off']}/{n} | {r['expected_tool_match']}/{n} | {r['seconds']} |")
            if name == "unconstrained":
                lines.append(f"| unconstrained, lenient (first JSON object anywhere in the reply) | {r['lenient_valid']}/{n} "
                             f"| {r['lenient_chose_tool']}/{n} | {r['lenient_valid_tool_calls']}/{n} | — | — | — | — |")
        lines += ["", "Valid = a direct answer (auto modes only), or tool calls whose names exist and whose arguments "
                  "validate against the tool's JSON schema (`jsonschema`). \"chose a tool\" counts parsed replies "
                  "only; a constrained reply cut off at max_tokens raises inside `invoke()` "
                  "(`IncompleteOutputError`) and counts as invalid."]
    return "\n".join(lines) + "\n"


def pick_requests(n: int) -> list[tuple[str, str | None]]:
    """n requests spread over all categories (every k-th), so a small n stays varied."""
    if n >= len(TOOL_REQUESTS):
        return list(TOOL_REQUESTS)
    step = len(TOOL_REQUESTS) / n
    return [TOOL_REQUESTS[int(i * step)] for i in range(n)]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m evals.tool_calls", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/tool_calls", help="output folder (default out/tool_calls)")
    parser.add_argument("--requests", type=int, default=len(TOOL_REQUESTS),
                        help=f"how many of the {len(TOOL_REQUESTS)} requests, spread over the categories")
    parser.add_argument("--modes", nargs="+", choices=list(TOOL_MODES), default=DEFAULT_TOOL_MODES,
                        help=f"tool-call modes (default {' '.join(DEFAULT_TOOL_MODES)})")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    report = run_tool_calls(pick_requests(args.requests), args.modes)
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    markdown = render_markdown(report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tool_calls.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    (out / "tool_calls.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    print(f"wrote {out / 'tool_calls.json'} and {out / 'tool_calls.md'} in {report['elapsed_s']}s", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
