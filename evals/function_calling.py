"""Function-calling benchmark: BFCL-style AST matching, with and without constrained decoding,
side by side in one run; plus the home-automation command set scored the same way.

    python -m evals.function_calling --data ../shared/data/bfcl                 # 20 items per category
    python -m evals.function_calling --data ../shared/data/bfcl --limit 50 --model local
    python -m evals.function_calling --data ../shared/data/bfcl --categories irrelevance --limit 5
    python -m evals.function_calling --home-only                                # just the home command set

Categories: simple_python, multiple (one call, choose among several functions), parallel (several
calls, any order) and irrelevance (the right answer is no call). A reply is *schema-valid* when
every call names an offered function with arguments its schema accepts; it is *AST-correct*
when, as in BFCL's checker, the calls match a ground-truth answer: same function names, every
required argument present, each argument's value among the accepted values (strings compared
case- and punctuation-insensitively, an int accepted where a float is expected, "" in the
accepted list meaning the argument may be left out).

Modes: `constrained` binds the functions as tools (grammar-constrained envelope, the model may
also answer without a call); `unconstrained` puts the same tool instructions (our JSON envelope)
in the system prompt and parses whatever the model writes; `native` lists the functions the way
the model family was trained to see them and parses calls as it writes them (SmolLM2's chat
template has no tool section, so the Hermes `<tools>` / `<tool_call>` convention;
`evals.tool_call_checks.hermes_tools_prompt`).

The home command set (evals/data/home_commands.jsonl, written for this project) is scored with
the same matcher against the tools generated from the default house, for: the model alone with
all tools, the model with a shortlist of 4 tools, the sentence matcher alone, and the agent's
default (matcher first, model for the rest). Writes JSON + markdown under out/function_calling/.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import models  # noqa: F401  (offline switches first)
from models.settings import PROJECT_ROOT as ROOT, shared_data

CATEGORIES = ["simple_python", "multiple", "parallel", "irrelevance"]
HOME_COMMANDS = ROOT / "evals" / "data" / "home_commands.jsonl"
SYSTEM_PROMPT = "You call functions. When a function fits the request, call it with the right arguments; otherwise answer."
JSON_TYPES = {"dict": "object", "float": "number", "tuple": "array", "integer": "integer", "string": "string",
              "boolean": "boolean", "array": "array"}


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
def load_category(folder: Path, category: str, limit: int | None) -> list[dict]:
    """BFCL items with their accepted answers (None for irrelevance)."""
    questions = [json.loads(line) for line in (folder / f"BFCL_v4_{category}.json").read_text().splitlines() if line.strip()]
    answers_file = folder / "possible_answer" / f"BFCL_v4_{category}.json"
    answers = {}
    if answers_file.exists():
        answers = {a["id"]: a["ground_truth"] for a in map(json.loads, answers_file.read_text().splitlines()) if a}
    items = [{"id": q["id"], "category": category, "text": q["question"][0][-1]["content"], "functions": q["function"],
              "answer": answers.get(q["id"])} for q in questions]
    return items[:limit] if limit else items


def to_json_schema(schema: dict) -> dict:
    """BFCL's parameter schema (types dict, float, tuple, any) as JSON schema."""
    out = {k: v for k, v in schema.items() if k not in ("type", "properties", "items", "optional")}
    kind = schema.get("type")
    if kind in JSON_TYPES:
        out["type"] = JSON_TYPES[kind]
    if "properties" in schema:
        out["properties"] = {name: to_json_schema(p) for name, p in schema["properties"].items()}
    if "items" in schema:
        out["items"] = to_json_schema(schema["items"])
    if out.get("type") == "array" and "items" not in out:
        out["items"] = {}
    return out


def tool_name(name: str) -> str:
    """OpenAI-style tool names allow letters, digits, _ and -: 'spotify.play' -> 'spotify_play'."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def tools_for(functions: list[dict]) -> list[dict]:
    return [{"type": "function", "function": {"name": tool_name(f["name"]), "description": f.get("description", ""),
                                              "parameters": to_json_schema(f["parameters"])}} for f in functions]


# --------------------------------------------------------------------------------------------
# checking
# --------------------------------------------------------------------------------------------
def _normal_string(value: str) -> str:
    return re.sub(r"[\s,./\-_*^'\"]", "", value).lower()


def value_matches(value: Any, accepted: list) -> bool:
    """Whether one argument value is among BFCL's accepted values.

    >>> value_matches("San Francisco, CA", ["San Francisco, CA", "SF"]), value_matches(5, [5.0]), value_matches(5.5, [5])
    (True, True, False)
    """
    for candidate in accepted:
        if isinstance(candidate, str) and isinstance(value, str):
            if _normal_string(candidate) == _normal_string(value):
                return True
        elif isinstance(candidate, bool) or isinstance(value, bool):
            if candidate is value:
                return True
        elif isinstance(candidate, (int, float)) and isinstance(value, (int, float)):
            if float(candidate) == float(value):
                return True
        elif isinstance(candidate, list) and isinstance(value, list):
            if len(candidate) == len(value) and all(value_matches(v, [c]) for v, c in zip(value, candidate)):
                return True
        elif isinstance(candidate, dict) and isinstance(value, dict):
            if set(value) <= set(candidate) and all(value_matches(value[k], candidate[k] if isinstance(candidate[k], list)
                                                                  else [candidate[k]]) for k in value):
                return True
        elif candidate == value:
            return True
    return False


def call_matches(call: dict, expected: dict, functions: dict[str, dict]) -> str | None:
    """None when one model call matches one ground-truth call ({name: {arg: [accepted]}}), else why not."""
    (name, accepted), = expected.items()
    if call["name"] != tool_name(name):
        return f"called {call['name']} instead of {name}"
    spec = functions[tool_name(name)]["parameters"]
    args = call.get("args") or {}
    unknown = set(args) - set(spec.get("properties", {}))
    if unknown:
        return f"unknown argument(s) {sorted(unknown)}"
    for arg in spec.get("required", []):
        if arg not in args:
            return f"missing required argument {arg}"
    for arg, values in accepted.items():
        if arg not in args:
            if "" not in values:
                return f"missing argument {arg}"
        elif not value_matches(args[arg], values):
            return f"{arg}={args[arg]!r} not in {values!r}"
    return None


def ast_check(calls: list[dict], answer: list[dict] | None, functions: list[dict]) -> tuple[bool, str]:
    """(correct, reason): irrelevance expects no call; otherwise calls must pair one-to-one with the answer."""
    if answer is None:
        return (not calls, "no call" if not calls else f"called {calls[0]['name']} although nothing fits")
    if not calls:
        return False, "no call"
    if len(calls) != len(answer):
        return False, f"{len(calls)} call(s) instead of {len(answer)}"
    by_name = {tool_name(f["name"]): f for f in functions}
    first_reason = ""
    for order in itertools.permutations(range(len(calls))):
        reasons = [call_matches(calls[i], expected, by_name) for i, expected in zip(order, answer)]
        if not any(reasons):
            return True, "match"
        first_reason = first_reason or next(r for r in reasons if r)
    return False, first_reason


def schema_valid(calls: list[dict], functions: list[dict]) -> bool:
    """Every call names an offered function and its arguments validate against the JSON schema
    (`evals.tool_call_checks.check_calls`, the rule `evals.tool_calls` reports too)."""
    from evals.tool_call_checks import check_calls

    return check_calls(calls, {tool_name(f["name"]): to_json_schema(f["parameters"]) for f in functions}) is None


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------
def ask_model(model, mode: str, text: str, tools: list[dict]) -> tuple[list[dict], str]:
    """(calls, raw text) from one request in one mode."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from evals.tool_call_checks import first_json_object
    from models import constrained

    if mode == "constrained":
        reply = model.bind_tools(tools, tool_choice="auto", parallel_tool_calls=True).invoke(
            [SystemMessage(SYSTEM_PROMPT), HumanMessage(text)])
        return [{"name": c["name"], "args": c["args"]} for c in reply.tool_calls], str(reply.content)
    if mode == "native":  # the model family's own format (SmolLM2's template has none: Hermes tags)
        from evals.tool_call_checks import hermes_tools_prompt, parse_tool_call_tags

        reply = model.bind(max_tokens=256).invoke(
            [SystemMessage(SYSTEM_PROMPT + "\n\n" + hermes_tools_prompt([t["function"] for t in tools])), HumanMessage(text)])
        raw = reply.text
        calls, _error = parse_tool_call_tags(raw)
        return [{"name": c.get("name"), "args": c.get("args")} for c in calls], raw
    instruction = constrained.tools_instruction([t["function"] for t in tools], "auto")
    reply = model.bind(max_tokens=256).invoke([SystemMessage(SYSTEM_PROMPT + "\n\n" + instruction), HumanMessage(text)])
    raw = reply.text
    found = first_json_object(raw)
    if not found:
        return [], raw
    try:
        _, calls = constrained.parse_reply(found)
    except Exception:  # noqa: BLE001 - an unusable reply counts as no call
        return [], raw
    return [{"name": c.get("name"), "args": c.get("args")} for c in calls], raw


def run_bfcl(model_spec: str, folder: Path, categories: list[str], limit: int | None, modes: list[str]) -> list[dict]:
    from tqdm import tqdm

    from models import load_chat_model

    model = load_chat_model(model_spec)
    records = []
    items = [item for category in categories for item in load_category(folder, category, limit)]
    for mode in modes:
        for item in tqdm(items, desc=f"BFCL {mode}", file=sys.stderr):
            start = time.perf_counter()
            try:
                calls, raw = ask_model(model, mode, item["text"], tools_for(item["functions"]))
                error = None
            except Exception as exc:  # noqa: BLE001 - recorded; the run goes on
                calls, raw, error = [], "", f"{type(exc).__name__}: {exc}"[:200]
            correct, reason = ast_check(calls, item["answer"], item["functions"])
            records.append({"suite": "bfcl", "category": item["category"], "id": item["id"], "mode": mode,
                            "calls": calls, "schema_valid": schema_valid(calls, item["functions"]) and error is None,
                            "called": bool(calls), "correct": correct and error is None, "reason": error or reason,
                            "seconds": round(time.perf_counter() - start, 3), "raw": raw[:300]})
    return records


def load_home_commands(path: Path = HOME_COMMANDS, limit: int | None = None) -> list[dict]:
    """The command set; with `limit`, an evenly spaced sample so every category stays represented."""
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not limit or limit >= len(items):
        return items
    return [items[round(i * len(items) / limit)] for i in range(limit)]


def home_toolbox(state_seed: int | None = None):
    """The tools of the default house, without a running hub (the benchmark only decides calls);
    `state_seed`: the house in other states (`tools.home.tools.default_house_toolbox`)."""
    from tools.home.tools import default_house_toolbox

    return default_house_toolbox(state_seed)


def run_home(model_spec: str, limit: int | None, systems: list[str], commands: Path = HOME_COMMANDS,
             shortlist: int = 4, state_seed: int | None = None) -> list[dict]:
    """One record per command and system. `matcher+model` shows the model the `shortlist` tools closest
    to the request, as the agent does by default (HEARTH_TOOL_SHORTLIST=4; 0 = every tool, the prompt
    a model fine-tuned by `training.tool_data` learnt). `agent` is the home agent's plan step as it runs
    by default: the matcher, then the shortlist, and a tool that clearly matches the request forced
    (HEARTH_TOOL_ROUTING, the Context's defaults), the model only filling in its arguments.
    `state_seed`: the house in other states (`home_toolbox`)."""
    from langchain_core.messages import HumanMessage, SystemMessage
    from tqdm import tqdm

    from graphs.react_agent.context import Context as AgentContext
    from graphs.react_agent.graph import offered_tools, shortlist_tools
    from graphs.react_agent.prompts import SYSTEM_PROMPT as AGENT_PROMPT
    from models import load_chat_model
    from tools.home.commands import CommandMatcher

    box = home_toolbox(state_seed)
    tools = box.tools()
    functions = [{"name": t.name, "description": t.description, "parameters": t.args_schema.model_json_schema()} for t in tools]
    matcher = CommandMatcher(box.entities)
    system = SystemMessage(AGENT_PROMPT.format(toolset_notes="Devices in the house:\n" + box.describe()))
    model = load_chat_model(model_spec) if any(s != "matcher" for s in systems) else None
    defaults = AgentContext(model=model_spec)  # the agent's routing threshold and margin (env or defaults)
    records = []
    for system_name in systems:
        for item in tqdm(load_home_commands(commands, limit=limit), desc=f"home {system_name}", file=sys.stderr):
            start = time.perf_counter()
            calls, error = None, None
            if system_name in ("matcher", "matcher+model", "agent"):
                calls = matcher.match(item["text"])
            if calls is None and system_name != "matcher":
                routed = None
                if system_name == "agent":
                    offered, routed = offered_tools(tools, item["text"], shortlist, defaults.tool_routing_threshold,
                                                    defaults.tool_routing_margin, "local")
                else:
                    offered = tools if system_name == "model" else shortlist_tools(tools, item["text"], shortlist, "local")
                try:
                    bound = model.bind_tools([routed], tool_choice=routed.name) if routed is not None else \
                        model.bind_tools(offered, tool_choice="auto", parallel_tool_calls=True)
                    reply = bound.invoke([system, HumanMessage(item["text"])])
                    calls = [{"name": c["name"], "args": c["args"]} for c in reply.tool_calls]
                except Exception as exc:  # noqa: BLE001
                    error = f"{type(exc).__name__}: {exc}"[:200]
            calls = calls or []
            answer = [{c["name"]: {k: v if isinstance(v, list) else [v] for k, v in c["args"].items()}}
                      for c in item["calls"]] or None
            correct, reason = ast_check(calls, answer, functions)
            records.append({"suite": "home", "category": item.get("category", "home"), "id": item["id"],
                            "mode": system_name, "calls": calls, "schema_valid": schema_valid(calls, functions),
                            "called": bool(calls), "correct": correct and error is None, "reason": error or reason,
                            "seconds": round(time.perf_counter() - start, 3)})
    return records


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def summarize(records: list[dict]) -> list[dict]:
    rows = []
    keys = sorted({(r["suite"], r["category"], r["mode"]) for r in records}, key=lambda k: (k[0], k[1], k[2]))
    for suite, category, mode in keys:
        group = [r for r in records if (r["suite"], r["category"], r["mode"]) == (suite, category, mode)]
        with_calls = [r for r in group if r["called"]]
        rows.append({"suite": suite, "category": category, "mode": mode, "n": len(group),
                     "ast_accuracy": sum(r["correct"] for r in group) / len(group),
                     "called": len(with_calls),
                     "schema_valid_of_calls": (sum(r["schema_valid"] for r in with_calls) / len(with_calls)) if with_calls else None,
                     "p50_s": sorted(r["seconds"] for r in group)[len(group) // 2]})
    return rows


def render_markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"# Function calling: {meta['model']}", "",
             f"{meta['date']} · limit {meta['limit']} per category · load average before {meta['load']}", "",
             "| suite | category | mode | n | AST accuracy | replies with calls | schema-valid calls | p50 s |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        valid = "–" if r["schema_valid_of_calls"] is None else f"{r['schema_valid_of_calls']:.0%}"
        lines.append(f"| {r['suite']} | {r['category']} | {r['mode']} | {r['n']} | {r['ast_accuracy']:.1%} | "
                     f"{r['called']} | {valid} | {r['p50_s']:.2f} |")
    lines += ["", "AST accuracy: calls match a ground-truth answer (irrelevance: no call). Schema-valid: share of "
              "replies with calls whose every call names an offered function with schema-valid arguments."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m evals.function_calling", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(shared_data() / "bfcl"), help="BFCL folder")
    parser.add_argument("--model", default="local?temperature=0", help="chat model spec")
    parser.add_argument("--limit", type=int, default=20, help="items per category (0 = all)")
    parser.add_argument("--categories", nargs="+", default=CATEGORIES, choices=CATEGORIES)
    parser.add_argument("--modes", nargs="+", default=["constrained", "unconstrained", "native"],
                        choices=["constrained", "unconstrained", "native"])
    parser.add_argument("--home-systems", nargs="+", default=["model", "model+shortlist", "matcher", "matcher+model"],
                        choices=["model", "model+shortlist", "matcher", "matcher+model", "agent"])
    parser.add_argument("--home-limit", type=int, default=0, help="home commands to score, an evenly spaced sample (0 = all)")
    parser.add_argument("--home-only", action="store_true")
    parser.add_argument("--skip-home", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "out" / "function_calling"))
    args = parser.parse_args(argv)
    import os

    folder = Path(args.data)
    if not args.home_only and not (folder / "BFCL_v4_simple_python.json").is_file():
        parser.error(f"{folder} is not the BFCL folder (no BFCL_v4_simple_python.json). Pass --data ../shared/data/bfcl.")
    meta = {"model": args.model, "limit": args.limit, "date": time.strftime("%Y-%m-%d %H:%M"),
            "load": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    records = []
    if not args.home_only:
        records += run_bfcl(args.model, folder, args.categories, args.limit or None, args.modes)
    if not args.skip_home:
        records += run_home(args.model, args.home_limit or None, args.home_systems)
    rows = summarize(records)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"meta": meta, "summary": rows, "records": records}
    (out / "function_calling.json").write_text(json.dumps(report, indent=2, default=str))
    markdown = render_markdown(rows, meta)
    (out / "function_calling.md").write_text(markdown)
    print(markdown)
    print(f"wrote {out / 'function_calling.json'} and {out / 'function_calling.md'}", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
