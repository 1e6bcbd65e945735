"""Tool calls and structured output that small local models cannot get wrong.

The embedded providers (llama.cpp, transformers) do not trust the model to follow a format.
Every reply that must be machine-readable is decoded under a JSON schema, so only schema-valid
text can come out. For bound tools the schema is an envelope:

    {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}   # call tools
    {"answer": "Hello! How can I help?"}                                       # no tool

With `tool_choice="auto"` both shapes are allowed, so "no tool, answer directly" is a valid
choice; with "any"/"required" only calls; with a tool's name only that tool.

    >>> schema = reply_schema([{"name": "add", "description": "", "parameters": {
    ...     "type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}], "auto")
    >>> sorted(schema["anyOf"][0]["properties"]), sorted(schema["anyOf"][1]["properties"])
    (['tool_calls'], ['answer'])
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Sequence

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

# Small models tend to repeat a call until the array limit; identical calls are merged anyway.
MAX_PARALLEL_CALLS = 4


def tool_definitions(tools: Sequence[Any]) -> list[dict]:
    """OpenAI-style function definitions ({name, description, parameters}) for any tool form."""
    defs = []
    for tool in tools:
        function = convert_to_openai_tool(tool)["function"]
        function.setdefault("parameters", {"type": "object", "properties": {}})
        function.setdefault("description", "")
        defs.append(function)
    return defs


def _call_schema(definition: dict) -> dict:
    parameters = dict(definition["parameters"])
    parameters.setdefault("type", "object")
    parameters.setdefault("properties", {})
    return {
        "type": "object",
        "properties": {"name": {"const": definition["name"]}, "arguments": parameters},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def normalize_tool_choice(tool_choice: Any, definitions: list[dict]) -> str:
    """'auto' | 'any' | 'none' | a tool name, from any of LangChain's and OpenAI's spellings."""
    if tool_choice in (None, "auto", False):
        return "auto"
    if tool_choice in ("any", "required", True):
        return "any"
    if tool_choice == "none":
        return "none"
    if isinstance(tool_choice, dict):
        tool_choice = tool_choice.get("function", {}).get("name") or tool_choice.get("name")
    names = [d["name"] for d in definitions]
    if tool_choice not in names:
        raise ValueError(f"tool_choice {tool_choice!r} is not one of the bound tools {names}.")
    return tool_choice


def reply_schema(definitions: list[dict], tool_choice: str, parallel: bool = True) -> dict:
    """The JSON schema a reply is decoded under, given the bound tools and the choice."""
    chosen = definitions if tool_choice in ("auto", "any") else [d for d in definitions if d["name"] == tool_choice]
    calls = [_call_schema(d) for d in chosen]
    items = calls[0] if len(calls) == 1 else {"anyOf": calls}
    call_reply = {
        "type": "object",
        "properties": {
            "tool_calls": {
                "type": "array",
                "items": items,
                "minItems": 1,
                "maxItems": MAX_PARALLEL_CALLS if parallel else 1,
            }
        },
        "required": ["tool_calls"],
        "additionalProperties": False,
    }
    if tool_choice != "auto":
        return call_reply
    answer_reply = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    return {"anyOf": [call_reply, answer_reply]}


def bound_for_decoding(schema, max_string: int = 256, max_items: int = 16):
    """A copy of `schema` with a length cap on every unbounded string and array.

    Small models can repeat inside a string ("santos_marcos_santos_...") until max_tokens cuts
    the JSON short. A cap lets the grammar close the value; anything it admits is still valid
    under the original schema, since only limits the original did not set are added.

    >>> bound_for_decoding({"type": "object", "properties": {"to": {"type": "string"}}})["properties"]["to"]
    {'type': 'string', 'maxLength': 256}
    """
    if isinstance(schema, list):
        return [bound_for_decoding(s, max_string, max_items) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: bound_for_decoding(v, max_string, max_items) if k not in ("enum", "const", "default", "examples") else v
           for k, v in schema.items()}
    kind = out.get("type")
    if kind == "string" and "maxLength" not in out and not {"enum", "const", "format", "pattern"} & out.keys():
        out["maxLength"] = max_string
    if kind == "array" and "maxItems" not in out:
        out["maxItems"] = max_items
    return out


COMPACT_ABOVE_CHARS = 4000  # the JSON-schema listing costs about 1 token per 3.5 characters


def _field_signature(spec: dict) -> str:
    """One argument's type in a few words: `a|b|c`, `integer 0..100`, `array of string`."""
    options = [s for s in spec.get("anyOf", []) if s.get("type") != "null"]
    if options and "type" not in spec and "enum" not in spec:
        spec = {**options[0], "description": spec.get("description", options[0].get("description"))}
    if "const" in spec:
        return str(spec["const"])
    if "enum" in spec:
        return "|".join(str(v) for v in spec["enum"])
    kind = spec.get("type", "any")
    if kind in ("integer", "number") and ("minimum" in spec or "maximum" in spec):
        kind = f"{kind} {spec.get('minimum', '')}..{spec.get('maximum', '')}"
    elif kind == "array":
        kind = "array of " + _field_signature(spec.get("items", {}))
    description = spec.get("description")
    return f"{kind} ({description})" if description and len(description) <= 80 else kind


def tool_signature(definition: dict) -> str:
    """A tool as one line, `name(arg: type, optional?: type): description`.

    >>> tool_signature({"name": "dim", "description": "Dim a light.", "parameters": {"type": "object",
    ...     "properties": {"entity_id": {"enum": ["light.a", "light.b"]}, "pct": {"type": "integer", "minimum": 0,
    ...     "maximum": 100}}, "required": ["entity_id"]}})
    'dim(entity_id: light.a|light.b, pct?: integer 0..100): Dim a light.'
    """
    parameters = definition.get("parameters") or {}
    required = set(parameters.get("required", []))
    arguments = ", ".join(f"{name}{'' if name in required else '?'}: {_field_signature(spec)}"
                          for name, spec in parameters.get("properties", {}).items())
    return f"{definition['name']}({arguments}): {definition.get('description', '')}".rstrip(": ")


def tools_instruction(definitions: list[dict], tool_choice: str, style: str = "auto") -> str:
    """The system-prompt text that tells the model which tools exist and how to reply.

    `style="schema"` lists each tool's JSON schema; `"compact"` writes one signature line per tool
    (`tool_signature`), about a third of the tokens; `"auto"` (default) uses the schema listing
    unless it is longer than COMPACT_ABOVE_CHARS. The reply is decoded under the full schema either
    way, so a compact listing cannot let an invalid argument through. The home toolset's listing is
    9,000 characters as schemas, which makes every prompt ~3,100 tokens; compact, it fits in ~1,000.
    """
    if style not in ("auto", "schema", "compact"):
        raise ValueError(f"style must be 'auto', 'schema' or 'compact', not {style!r}")
    lines = ["You can call these tools:"]
    schema_lines = [f"- {d['name']}: {d['description']} Arguments (JSON schema): {json.dumps(d['parameters'])}"
                    for d in definitions]
    if style == "compact" or (style == "auto" and sum(len(line) for line in schema_lines) > COMPACT_ABOVE_CHARS):
        lines += [f"- {tool_signature(d)}" for d in definitions]
    else:
        lines += schema_lines
    lines.append('To call tools reply {"tool_calls": [{"name": ..., "arguments": {...}}]}.')
    if tool_choice == "auto":
        lines.append('If no tool fits the request, reply {"answer": "..."} with your answer instead.')
    return "\n".join(lines)


class IncompleteOutputError(ValueError):
    """A constrained reply was cut off (by max_tokens) before its JSON was complete."""


def parse_json_reply(text: str, finish_reason: str | None = None):
    """Parse a schema-constrained reply, explaining a cut-off one instead of a bare JSONDecodeError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if finish_reason != "length":
            raise ValueError(
                f"The model's reply is not the JSON its schema asked for ({exc}). Constrained decoding only "
                f"applies to in-process models; check that the server honours response_format. Reply: {text[:200]!r}"
            ) from exc
        raise IncompleteOutputError(
            f"The model's structured reply stopped before its JSON was complete (finish_reason={finish_reason!r}, "
            f"{len(text)} characters). Raise max_tokens (e.g. '?max_tokens=1024' in the model spec or "
            f".bind(max_tokens=1024)). Reply so far: {text[:200]!r}"
        ) from exc


def parse_reply(text: str, finish_reason: str | None = None) -> tuple[str, list[dict]]:
    """Content and LangChain tool calls from an envelope reply; identical repeated calls are merged.

    >>> parse_reply('{"tool_calls": [{"name": "add", "arguments": {"a": 1}}]}')[1][0]["args"]
    {'a': 1}
    >>> parse_reply('{"answer": "hi"}')
    ('hi', [])
    """
    data = parse_json_reply(text, finish_reason)
    if "answer" in data:
        return data["answer"], []
    calls, seen = [], set()
    for c in data["tool_calls"]:
        key = json.dumps([c["name"], c["arguments"]], sort_keys=True)
        if key not in seen:
            seen.add(key)
            calls.append({"name": c["name"], "args": c["arguments"], "id": f"call_{uuid.uuid4().hex[:24]}",
                          "type": "tool_call"})
    return "", calls


def to_chat_dicts(messages: Sequence[BaseMessage], system_extra: str | None = None) -> list[dict]:
    """LangChain messages as role/content dicts for a chat template that knows only
    system/user/assistant. Tool calls are shown in the envelope format the model replies in,
    and tool results come back as user turns that name the tool."""
    out: list[dict] = []
    for m in messages:
        content = m.content if isinstance(m.content, str) else _text_of(m.content)
        if m.type == "system":
            out.append({"role": "system", "content": content})
        elif m.type == "human":
            out.append({"role": "user", "content": content})
        elif m.type == "ai":
            calls = getattr(m, "tool_calls", None) or []
            if calls:
                content = json.dumps({"tool_calls": [{"name": c["name"], "arguments": c["args"]} for c in calls]})
            out.append({"role": "assistant", "content": content})
        elif isinstance(m, ToolMessage) or m.type == "tool":
            name = getattr(m, "name", None) or "tool"
            out.append({"role": "user", "content": f"Result of tool {name}: {content}"})
        else:
            out.append({"role": "user", "content": content})
    if system_extra:
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": out[0]["content"] + "\n\n" + system_extra}
        else:
            out.insert(0, {"role": "system", "content": system_extra})
    # Chat templates want alternating turns; merge consecutive user turns (several tool results).
    merged: list[dict] = []
    for d in out:
        if merged and d["role"] == "user" and merged[-1]["role"] == "user":
            merged[-1] = {"role": "user", "content": merged[-1]["content"] + "\n" + d["content"]}
        else:
            merged.append(d)
    return merged


def _text_of(parts: list) -> str:
    return "".join(p if isinstance(p, str) else p.get("text", "") for p in parts)


def ai_message_from_reply(text: str, *, constrained_tools: bool, **metadata) -> AIMessage:
    if not constrained_tools:
        return AIMessage(content=text, response_metadata=metadata)
    content, calls = parse_reply(text, metadata.get("finish_reason"))
    return AIMessage(content=content, tool_calls=calls, response_metadata=metadata)
