"""Checking a model's tool calls: the one validity rule both tool-call benchmarks use, and
finding a JSON object in free text.

    from evals.tool_call_checks import check_calls
    check_calls([{"name": "get_weather", "args": {"city": "Oslo"}}], {"get_weather": schema})   # None when valid

A call is valid when it names an offered tool and its arguments validate (`jsonschema`) against
that tool's JSON schema. `evals.tool_calls` (validity with and without constraints) and
`evals.function_calling` (BFCL AST accuracy, whose "schema-valid" column is this rule) both call it.
"""

from __future__ import annotations

import json
import re


def check_calls(calls: list[dict], parameters: dict[str, dict]) -> str | None:
    """None when every call names a known tool with schema-valid args, else why not.

    >>> params = {"add": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}
    >>> check_calls([{"name": "add", "args": {"a": 1}}], params) is None
    True
    >>> check_calls([{"name": "add", "args": {"a": "x"}}], params)
    "bad args for add: 'x' is not of type 'integer'"
    >>> check_calls([{"name": "sub", "args": {}}], params)
    "unknown tool 'sub'"
    """
    import jsonschema

    for call in calls:
        if call.get("name") not in parameters:
            return f"unknown tool {call.get('name')!r}"
        try:
            jsonschema.validate(call.get("args") or {}, parameters[call["name"]])
        except jsonschema.ValidationError as exc:
            return f"bad args for {call['name']}: {exc.message}"
    return None


def first_json_object(text: str) -> str | None:
    """The first decodable JSON object in free text (code fences, prose around it).

    >>> first_json_object('Sure! ```json\\n{"answer": "hi"}\\n``` done')
    '{"answer": "hi"}'
    """
    decoder = json.JSONDecoder()
    for i, char in enumerate(text):
        if char == "{":
            try:
                obj, end = decoder.raw_decode(text, i)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return text[i:end]
    return None


# --- the model's own tool-calling format ------------------------------------------------------------
# SmolLM2's chat template (ChatML) has no tool section, so the "native" baseline uses the widely
# trained Hermes convention: tool signatures as JSON inside <tools></tools> in the system message,
# each call answered as {"name": ..., "arguments": {...}} inside <tool_call></tool_call>.
TOOL_CALL_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def chat_template_has_tools(template: str | None) -> bool:
    """Whether a chat template renders a tool list itself (it mentions `tools`).

    >>> chat_template_has_tools("{% for message in messages %}{{ message['content'] }}{% endfor %}")
    False
    """
    return bool(template) and re.search(r"\btools\b", template) is not None


def bundled_chat_template() -> str | None:
    """The bundled GGUF's chat template (from its metadata), or None when it cannot be read."""
    try:
        import gguf

        from models.bundled import smollm2_gguf_path

        field = gguf.GGUFReader(str(smollm2_gguf_path())).fields["tokenizer.chat_template"]
        return bytes(field.parts[field.data[0]]).decode("utf-8")
    except Exception:  # noqa: BLE001 - reported as unknown
        return None


def hermes_tools_prompt(functions: list[dict]) -> str:
    """A system-message section listing `functions` ({name, description, parameters}) the Hermes way."""
    listed = "\n".join(json.dumps({"type": "function", "function": f}) for f in functions)
    return ("You can call functions. Their signatures are listed between <tools> and </tools>:\n"
            f"<tools>\n{listed}\n</tools>\n"
            "To call one, write a JSON object with the function's name and its arguments between <tool_call> and "
            "</tool_call>, one block per call:\n"
            '<tool_call>\n{"name": "<function name>", "arguments": {"<argument>": "<value>"}}\n</tool_call>\n'
            "If no function fits, answer in plain text.")


def parse_tool_call_tags(text: str) -> tuple[list[dict], str | None]:
    """(calls, error) from a reply in the Hermes format; no <tool_call> block means no call.

    >>> parse_tool_call_tags('<tool_call>\\n{"name": "add", "arguments": {"a": 1}}\\n</tool_call>')
    ([{'name': 'add', 'args': {'a': 1}}], None)
    >>> parse_tool_call_tags("Hello!")
    ([], None)
    >>> parse_tool_call_tags("<tool_call>{name: add}</tool_call>")[1]
    'a <tool_call> block is not a JSON object with name and arguments'
    """
    calls = []
    for block in TOOL_CALL_BLOCK.findall(text):
        found = first_json_object(block)
        obj = json.loads(found) if found else None
        if not isinstance(obj, dict) or "name" not in obj:
            return calls, "a <tool_call> block is not a JSON object with name and arguments"
        arguments = obj.get("arguments", obj.get("parameters", {}))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                return calls, "arguments are not JSON"
        calls.append({"name": obj["name"], "args": arguments})
    return calls, None
