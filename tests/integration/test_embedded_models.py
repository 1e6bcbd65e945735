"""The in-process models for real: SmolLM2-135M on llama.cpp (the default) and a transformers
folder. Constrained decoding must make every tool call and structured output schema-valid."""

from __future__ import annotations

from typing import Literal

import jsonschema
import pytest
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from models import load_chat_model
from models.constrained import tool_definitions

pytestmark = pytest.mark.slow


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """Get the current weather for a city."""
    return "sunny"


@tool
def set_timer(minutes: int) -> str:
    """Start a kitchen timer for a number of minutes."""
    return "ok"


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email."""
    return "sent"


TOOLS = [get_weather, set_timer, send_email]
PARAMETERS = {d["name"]: d["parameters"] for d in tool_definitions(TOOLS)}
REQUESTS = [
    "What's the weather in Lisbon?",
    "Set a timer for 12 minutes",
    "Email bob@example.com that the meeting moved to 3pm",
    "Is it raining in Oslo right now, in fahrenheit?",
    "Remind me in 5 minutes to take the pasta off",
    "Tell me a joke",
]


@pytest.fixture(scope="module")
def llm():
    return load_chat_model("local?temperature=0&max_tokens=160&max_string=96")


def test_plain_generation_and_streaming(llm):
    reply = llm.invoke("Say hello in one short sentence.")
    assert reply.content.strip()
    assert reply.usage_metadata["output_tokens"] > 0
    pieces = [c.content for c in llm.stream("Count from one to five.") if c.content]
    assert len(pieces) > 3


def test_same_spec_is_cached():
    assert load_chat_model("local?temperature=0&max_tokens=160") is load_chat_model("local?temperature=0&max_tokens=160")


@pytest.mark.parametrize("choice", ["auto", "any"])
def test_every_tool_call_is_schema_valid(llm, choice):
    bound = llm.bind_tools(TOOLS, tool_choice=choice)
    for request in REQUESTS:
        reply = bound.invoke(request)
        if choice == "any":
            assert reply.tool_calls, request
        if not reply.tool_calls:
            assert reply.content.strip(), request  # the "answer directly" choice
        for call in reply.tool_calls:
            jsonschema.validate(call["args"], PARAMETERS[call["name"]])


def test_named_tool_choice_forces_that_tool(llm):
    reply = llm.bind_tools(TOOLS, tool_choice="set_timer").invoke("What's the weather in Paris?")
    assert [c["name"] for c in reply.tool_calls] == ["set_timer"]
    assert isinstance(reply.tool_calls[0]["args"]["minutes"], int)


class Expense(BaseModel):
    """An expense claim."""

    description: str = Field(max_length=80)
    amount_eur: float
    category: str = Field(json_schema_extra={"enum": ["meals", "travel", "lodging", "other"]})


def test_structured_output_is_always_a_valid_instance(llm):
    structured = llm.with_structured_output(Expense)
    for text in ["Dinner with a client, 84.50 euros", "Train ticket to Porto for 31 EUR"]:
        result = structured.invoke(f"Extract the expense: {text}")
        assert isinstance(result, Expense)
        assert result.category in ("meals", "travel", "lodging", "other")


def test_transformers_folder_with_constrained_output(tmp_path):
    """hf:PATH with a tiny randomly initialised model: even random weights emit a valid call.

    Its vocabulary has no whitespace, so the only freedom left to random weights is which
    schema-valid value to pick; the decoded call must still validate."""
    from tokenizers import Tokenizer, decoders, models as tok_models, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    @tool
    def set_mode(mode: Literal["eco", "comfort"], away: bool) -> str:
        """Set the heating mode."""
        return mode

    corpus = ['{"tool_calls":[{"name":"set_mode","arguments":{"mode":"eco","away":true}}]}',
              '{"mode":"comfort","away":false}', "abcdefghijklmnopqrstuvwxyz0123456789_"] * 10
    tokenizer = Tokenizer(tok_models.BPE(unk_token="<unk>"))
    tokenizer.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>", "<s>", "</s>"]))
    tokenizer.decoder = decoders.BPEDecoder()
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    fast.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048,
                         bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    fast.save_pretrained(tmp_path)

    llm = load_chat_model(f"hf:{tmp_path}?temperature=0&max_tokens=120")
    reply = llm.bind_tools([set_mode], tool_choice="set_mode").invoke("eco")
    assert reply.tool_calls[0]["name"] == "set_mode"
    jsonschema.validate(reply.tool_calls[0]["args"], tool_definitions([set_mode])[0]["parameters"])
