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
