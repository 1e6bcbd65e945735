"""Model-layer logic with a scripted backend (no weights): spec parsing, the tool envelope,
bind_tools / with_structured_output plumbing."""

from __future__ import annotations

import json

import jsonschema
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from models import ModelSpecError, load_chat_model, parse_model_spec
from models import constrained
from models.embedded import EmbeddedChatModel


class ScriptedChatModel(EmbeddedChatModel):
    """A fake embedded model: replies with scripted text and records what it was asked."""

    replies: list[str]
    calls: list[dict] = []
    finish_reason: str = "stop"

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _complete(self, messages, *, json_schema, max_tokens, temperature, stop):
        self.calls.append({"messages": messages, "schema": json_schema, "max_tokens": max_tokens})
        return self.replies.pop(0), {"finish_reason": self.finish_reason}

    def _complete_stream(self, messages, *, json_schema, max_tokens, temperature, stop):
        text, _ = self._complete(messages, json_schema=json_schema, max_tokens=max_tokens,
                                 temperature=temperature, stop=stop)
        yield from text.split(" ")


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Invoice(BaseModel):
    vendor: str
    total: float = Field(ge=0)


@pytest.mark.parametrize("text, provider, name, url", [
    ("local", "local", "", None),
    (None, "local", "", None),
    ("gguf:/m/x.gguf", "gguf", "/m/x.gguf", None),
    ("ollama:qwen2.5:7b", "ollama", "qwen2.5:7b", None),
    ("vllm:Qwen/Qwen2.5@http://h:8000/v1", "vllm", "Qwen/Qwen2.5", "http://h:8000/v1"),
    ("openai:local@http://127.0.0.1:8008/v1?max_tokens=9", "openai", "local", "http://127.0.0.1:8008/v1"),
])
def test_parse_model_spec(text, provider, name, url):
    spec = parse_model_spec(text)
    assert (spec.provider, spec.name, spec.url) == (provider, name, url)


@pytest.mark.parametrize("bad, fix", [
    ("gpt5", "Unknown model provider"),
    ("gguf:", "names no model"),
    ("vllm:model", "needs the server URL"),
    ("openai:m@ftp://x", "must start with http"),
])
def test_bad_specs_name_the_fix(bad, fix):
    with pytest.raises(ModelSpecError, match=fix):
        parse_model_spec(bad)


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelSpecError, match="does not exist"):
        load_chat_model(f"gguf:{tmp_path / 'nope.gguf'}")
    with pytest.raises(ModelSpecError, match="no config.json"):
        load_chat_model(f"hf:{tmp_path}")


def test_a_missing_or_corrupt_lora_adapter_is_refused_with_the_export_command(tmp_path):
    with pytest.raises(ModelSpecError, match="--lora-gguf"):
        load_chat_model(f"local?lora={tmp_path / 'nope.gguf'}").invoke("hi")
    corrupt = tmp_path / "adapter.gguf"
    corrupt.write_bytes(b"PK\x03\x04 a zip, not a GGUF adapter")
    with pytest.raises(ModelSpecError, match="not a GGUF LoRA adapter"):
        load_chat_model(f"local?lora={corrupt}").invoke("hi")


def test_reply_schema_accepts_calls_and_direct_answers_only():
    defs = constrained.tool_definitions([get_weather, add])
    schema = constrained.reply_schema(defs, "auto")
    jsonschema.validate({"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]}, schema)
    jsonschema.validate({"answer": "no tool needed"}, schema)
    for bad in ({"tool_calls": [{"name": "add", "arguments": {"a": "x", "b": 2}}]},
                {"tool_calls": [{"name": "rm_rf", "arguments": {}}]},
                {"tool_calls": []}, {"say": "hi"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    forced = constrained.reply_schema(defs, "add", parallel=False)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"answer": "x"}, forced)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}, forced)


def test_bind_tools_decodes_under_the_envelope_and_returns_tool_calls():
    llm = ScriptedChatModel(replies=['{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}, '
                                     '{"name": "add", "arguments": {"a": 2, "b": 3}}]}'], calls=[])
    reply = llm.bind_tools([get_weather, add], parallel_tool_calls=True).invoke("Weather in Oslo, and 2+3?")
    assert [c["name"] for c in reply.tool_calls] == ["get_weather", "add"]
    assert reply.tool_calls[1]["args"] == {"a": 2, "b": 3}
    asked = llm.calls[0]
    assert "anyOf" in asked["schema"]  # auto: call or answer
    assert asked["schema"]["anyOf"][0]["properties"]["tool_calls"]["maxItems"] == constrained.MAX_PARALLEL_CALLS
    assert "get_weather" in asked["messages"][0]["content"]  # the tools are described to the model


def test_one_call_per_reply_unless_parallel_calls_are_asked_for():
    llm = ScriptedChatModel(replies=['{"answer": "ok"}'], calls=[])
    llm.bind_tools([add]).invoke("hi")
    assert llm.calls[0]["schema"]["anyOf"][0]["properties"]["tool_calls"]["maxItems"] == 1


def test_direct_answer_choice_gives_plain_content():
    llm = ScriptedChatModel(replies=['{"answer": "Hello there"}'], calls=[])
    reply = llm.bind_tools([add]).invoke("hi")
    assert reply.content == "Hello there" and reply.tool_calls == []


def test_unknown_tool_choice_fails_early():
    llm = ScriptedChatModel(replies=[], calls=[])
    with pytest.raises(ValueError, match="not one of the bound tools"):
        llm.bind_tools([add], tool_choice="multiply")


def test_structured_output_uses_the_schema_and_parses_pydantic():
    llm = ScriptedChatModel(replies=['{"vendor": "ACME", "total": 12.5}'], calls=[])
    result = llm.with_structured_output(Invoice).invoke("Invoice from ACME for 12.50")
    assert result == Invoice(vendor="ACME", total=12.5)
    assert llm.calls[0]["schema"]["properties"]["total"]["minimum"] == 0


def test_structured_output_include_raw():
    llm = ScriptedChatModel(replies=['{"vendor": "ACME", "total": 1}'], calls=[])
    out = llm.with_structured_output(Invoice, include_raw=True).invoke("x")
    assert out["parsed"].vendor == "ACME" and out["parsing_error"] is None and isinstance(out["raw"], AIMessage)


def test_tool_history_is_rendered_for_a_chatml_template():
    history = [SystemMessage("sys"), HumanMessage("2+3?"),
               AIMessage("", tool_calls=[{"name": "add", "args": {"a": 2, "b": 3}, "id": "c1"}]),
               ToolMessage("5", tool_call_id="c1", name="add"), ToolMessage("ok", tool_call_id="c2", name="x")]
    dicts = constrained.to_chat_dicts(history)
    assert [d["role"] for d in dicts] == ["system", "user", "assistant", "user"]
    assert json.loads(dicts[2]["content"])["tool_calls"][0]["name"] == "add"
    assert "Result of tool add: 5" in dicts[3]["content"] and "Result of tool x: ok" in dicts[3]["content"]


def test_streaming_yields_tokens_and_tool_chunks():
    llm = ScriptedChatModel(replies=["one two three", '{"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 1}}]}'], calls=[])
    assert [c.content for c in llm.stream("count") if c.content] == ["one", "two", "three"]
    chunks = list(llm.bind_tools([add], tool_choice="any").stream("1+1"))
    merged = chunks[0]
    for c in chunks[1:]:
        merged += c
    assert merged.tool_calls[0]["args"] == {"a": 1, "b": 1}


def test_cut_off_reply_names_the_fix():
    llm = ScriptedChatModel(replies=['{"tool_calls": [{"name": "add", "argu', '{"vendor": "AC'], calls=[],
                            finish_reason="length")
    with pytest.raises(constrained.IncompleteOutputError, match="Raise max_tokens"):
        llm.bind_tools([add], tool_choice="any").invoke("1+1")
    with pytest.raises(constrained.IncompleteOutputError, match="Raise max_tokens"):
        llm.with_structured_output(Invoice).invoke("x")


def test_identical_repeated_calls_are_merged():
    call = {"name": "add", "arguments": {"a": 1, "b": 2}}
    other = {"name": "add", "arguments": {"a": 2, "b": 2}}
    _, calls = constrained.parse_reply(json.dumps({"tool_calls": [call, call, other, call]}))
    assert [c["args"] for c in calls] == [{"a": 1, "b": 2}, {"a": 2, "b": 2}]


def test_decoding_schema_caps_unbounded_strings_and_arrays_only():
    llm = ScriptedChatModel(replies=['{"answer": "ok"}'], calls=[], max_string_length=64)
    llm.bind_tools([get_weather]).invoke("hi")
    schema = llm.calls[0]["schema"]
    assert schema["anyOf"][1]["properties"]["answer"]["maxLength"] == 64
    city = schema["anyOf"][0]["properties"]["tool_calls"]["items"]["properties"]["arguments"]["properties"]["city"]
    assert city["maxLength"] == 64
    kept = constrained.bound_for_decoding({"type": "string", "enum": ["a"]})
    assert "maxLength" not in kept
    assert constrained.bound_for_decoding({"type": "array", "maxItems": 2})["maxItems"] == 2


def test_prose_instead_of_json_is_not_blamed_on_max_tokens():
    llm = ScriptedChatModel(replies=["Sure! The vendor is ACME."], calls=[])
    with pytest.raises(ValueError, match="response_format") as caught:
        llm.with_structured_output(Invoice).invoke("x")
    assert not isinstance(caught.value, constrained.IncompleteOutputError)


def test_a_long_toolset_is_listed_as_signatures_that_keep_every_tool_and_choice():
    """The home toolset's JSON schemas make a 9,000-character instruction (~3,100-token prompts, too
    slow to fine-tune on 2 cores); the compact listing keeps every tool, every allowed entity and
    every range in well under half the text, and a short toolset keeps its schemas."""
    from training.tool_data import home_toolset

    _, tools, _ = home_toolset()
    definitions = constrained.tool_definitions(tools)
    full = constrained.tools_instruction(definitions, "auto", style="schema")
    compact = constrained.tools_instruction(definitions, "auto")
    assert len(full) > constrained.COMPACT_ABOVE_CHARS and len(compact) < len(full) / 2
    assert "JSON schema" not in compact
    for definition in definitions:
        assert f"- {definition['name']}(" in compact
        entity = definition["parameters"]["properties"]["entity_id"]
        for value in entity.get("enum", [entity.get("const")]):
            assert value in compact, (definition["name"], value)
    assert "temperature: number 7..30" in compact
    short = constrained.tools_instruction(definitions[:1], "any")
    assert "JSON schema" in short and "answer" not in short
    with pytest.raises(ValueError, match="compact"):
        constrained.tools_instruction(definitions, "auto", style="short")
