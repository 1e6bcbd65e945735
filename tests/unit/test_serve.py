"""apps.serve with scripted models (no weights): the OpenAI wire format, SSE framing, tool
calls, embeddings (float and base64), errors in OpenAI's shape, and the API key."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable

from apps.serve import create_app, display_name
from models import ModelSpecError
from models.llamacpp import ContextWindowError


class ScriptedChatModel(BaseChatModel):
    """Replies with scripted AIMessages (or raises scripted exceptions); records every call."""

    replies: list[Any]
    calls: list[dict] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _next(self, messages: list[BaseMessage], stop, kwargs) -> AIMessage:
        self.calls.append({"messages": messages, "stop": stop, "kwargs": kwargs})
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply if isinstance(reply, AIMessage) else AIMessage(content=reply)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages, stop, kwargs))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        message = self._next(messages, stop, kwargs)
        if message.tool_calls:
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[
                {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i, "type": "tool_call_chunk"}
                for i, c in enumerate(message.tool_calls)]))
            return
        words = message.content.split(" ")
        for i, word in enumerate(words):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word if i == 0 else " " + word))

    def bind_tools(self, tools, *, tool_choice=None, **kwargs: Any) -> Runnable:
        return self.bind(tools=tools, tool_choice=tool_choice, **kwargs)


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def make_client(replies=(), api_key=None, **kwargs):
    model = ScriptedChatModel(replies=list(replies), calls=[])
    app = create_app("local", "local", api_key=api_key, chat_model=model,
                     embeddings=DeterministicFakeEmbedding(size=8), **kwargs)
    return TestClient(app), model


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def sse_events(text: str) -> list[str]:
    """The data payloads of an SSE body, checking its framing on the way."""
    assert text.endswith("\n\n")
    events = text.split("\n\n")[:-1]
    assert all(e.startswith("data: ") for e in events), events
    return [e[len("data: "):] for e in events]


def assert_openai_error(response, status: int, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if param is not None:
        assert error["param"] == param
    return error


def test_health_and_models_list_without_loading_anything():
    app = create_app("ollama:qwen2.5:7b?num_ctx=8192&api_key=secret", "local")
    client = TestClient(app)
    assert client.get("/health").json()["model_loaded"] is False
    data = client.get("/v1/models").json()
    assert data["object"] == "list"
    ids = [m["id"] for m in data["data"]]
    assert ids == ["ollama:qwen2.5:7b?num_ctx=8192", "local", "minilm", "all-MiniLM-L6-v2"]  # the api_key never shows
    assert all(m["object"] == "model" for m in data["data"])
    assert not app.state.served.chat_loaded and not app.state.served.embeddings_loaded
    assert display_name("local") == "local"


def test_same_id_for_chat_and_embeddings_is_listed_once():
    client, _ = make_client()
    entries = client.get("/v1/models").json()["data"]
    assert [e["id"] for e in entries] == ["local", "smollm2", "minilm", "all-MiniLM-L6-v2"]
    assert entries[0]["capabilities"] == ["chat", "embeddings"]
    assert client.get("/v1/models/local").json()["id"] == "local"
    assert client.get("/v1/models/minilm").json()["capabilities"] == ["embeddings"]
    assert_openai_error(client.get("/v1/models/nope"), 404)


def test_unknown_model_is_404_model_not_found():
    client, model = make_client(["unused"], served_names=("house-model",))
    r = client.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": user("Hi")})
    error = assert_openai_error(r, 404, "model")
    assert error["code"] == "model_not_found" and "local" in error["message"]
    r = client.post("/v1/chat/completions", json={"model": "minilm", "messages": user("Hi")})
    assert "/v1/embeddings" in assert_openai_error(r, 404, "model")["message"]
    r = client.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": "x"})
    assert assert_openai_error(r, 404, "model")["code"] == "model_not_found"
    assert model.calls == []
    ok = client.post("/v1/chat/completions", json={"model": "house-model", "messages": user("Hi")})
    assert ok.status_code == 200 and ok.json()["model"] == "house-model"
    assert "house-model" in [m["id"] for m in client.get("/v1/models").json()["data"]]


def test_non_streaming_completion_shape_and_options_reach_the_model():
    reply = AIMessage(content="Hello there!", response_metadata={"finish_reason": "length"},
                      usage_metadata={"input_tokens": 7, "output_tokens": 3, "total_tokens": 10})
    client, model = make_client([reply])
    r = client.post("/v1/chat/completions", json={
        "model": "smollm2", "messages": [{"role": "system", "content": "Be brief."}, *user("Hi")],
        "temperature": 0, "max_completion_tokens": 16, "stop": "\n", "seed": 3, "user": "ignored-extra-field"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion"
    assert body["model"] == "smollm2" and isinstance(body["created"], int)
    [choice] = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "length"
    assert choice["message"] == {"role": "assistant", "content": "Hello there!"}
    assert body["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    [call] = model.calls
    assert [m.type for m in call["messages"]] == ["system", "human"]
    assert call["stop"] == ["\n"]
    assert call["kwargs"] == {"temperature": 0, "max_tokens": 16, "seed": 3}


def test_response_format_is_bound_for_the_model():
    client, model = make_client(['{"city": "Oslo"}'])
    fmt = {"type": "json_schema", "json_schema": {"name": "City", "schema": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    r = client.post("/v1/chat/completions", json={"model": "local", "messages": user("City?"), "response_format": fmt})
    assert r.status_code == 200, r.text
    assert json.loads(r.json()["choices"][0]["message"]["content"]) == {"city": "Oslo"}
    assert model.calls[0]["kwargs"]["response_format"] == fmt
    bad = client.post("/v1/chat/completions", json={"model": "local", "messages": user("x"),
                                                    "response_format": {"type": "json_schema"}})
    assert_openai_error(bad, 400, "response_format.json_schema")


def test_streaming_sse_framing_content_and_done():
    client, _ = make_client(["one two three"])
    r = client.post("/v1/chat/completions", json={"model": "local", "messages": user("Count"), "stream": True,
                                                  "stream_options": {"include_usage": True}})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "one two three"
    content_chunks = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(content_chunks) == 3
    finals = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert [c["choices"][0]["finish_reason"] for c in finals] == ["stop"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3


def test_tool_call_response_shape_and_tool_messages_round_trip():
    call = AIMessage(content="", tool_calls=[{"name": "get_weather", "args": {"city": "Oslo"}, "id": "call_1"}])
    client, model = make_client([call, "It is sunny in Oslo."])
    r = client.post("/v1/chat/completions", json={"model": "local", "messages": user("Weather in Oslo?"),
                                                  "tools": [WEATHER_TOOL], "tool_choice": "required",
                                                  "parallel_tool_calls": False})
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    [tc] = message["tool_calls"]
    assert tc == {"id": "call_1", "type": "function",
                  "function": {"name": "get_weather", "arguments": json.dumps({"city": "Oslo"})}}
    assert model.calls[0]["kwargs"]["tool_choice"] == "any"
    assert model.calls[0]["kwargs"]["parallel_tool_calls"] is False
    assert model.calls[0]["kwargs"]["tools"][0]["function"]["name"] == "get_weather"

    follow_up = user("Weather in Oslo?") + [message, {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]
    r = client.post("/v1/chat/completions", json={"model": "local", "messages": follow_up, "tools": [WEATHER_TOOL]})
    assert r.json()["choices"][0]["message"]["content"] == "It is sunny in Oslo."
    ai, tool_message = model.calls[1]["messages"][1:]
    assert ai.tool_calls[0]["args"] == {"city": "Oslo"} and ai.tool_calls[0]["id"] == "call_1"
    assert tool_message.tool_call_id == "call_1" and tool_message.name == "get_weather"


def test_streamed_tool_call_deltas():
    call = AIMessage(content="", tool_calls=[{"name": "get_weather", "args": {"city": "Oslo"}, "id": "call_9"}])
    client, _ = make_client([call])
    r = client.post("/v1/chat/completions", json={"model": "local", "messages": user("Weather?"),
                                                  "tools": [WEATHER_TOOL], "stream": True})
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    deltas = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls", [])]
    assert deltas == [{"index": 0, "id": "call_9", "type": "function",
                       "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_unknown_tool_choice_and_n_are_rejected():
    client, model = make_client(["unused"])
    r = client.post("/v1/chat/completions", json={
        "model": "local", "messages": user("x"), "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "launch_rockets"}}})
    assert "launch_rockets" in assert_openai_error(r, 400, "tool_choice")["message"]
    r = client.post("/v1/chat/completions", json={"model": "local", "messages": user("x"), "n": 2})
    assert_openai_error(r, 400, "n")
    r = client.post("/v1/chat/completions", json={"model": "local", "messages": user("x"), "tool_choice": "auto"})
    assert_openai_error(r, 400, "tool_choice")
    bad_args = [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                                                      "function": {"name": "f", "arguments": "{oops"}}]}]
    r = client.post("/v1/chat/completions", json={"model": "local", "messages": user("x") + bad_args})
    assert_openai_error(r, 400, "messages.1.tool_calls.0.function.arguments")
    assert model.calls == []


def test_validation_errors_are_400_in_openai_shape():
    client, _ = make_client()
    r = client.post("/v1/chat/completions", json={"model": "local", "messages": [{"role": "wizard", "content": "x"}]})
    error = assert_openai_error(r, 400, "messages.0.role")
    assert error["type"] == "invalid_request_error"
    assert_openai_error(client.post("/v1/chat/completions", json={"model": "local"}), 400, "messages")
    r = client.post("/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert "JSON" in assert_openai_error(r, 400)["message"]
    assert_openai_error(client.post("/v1/chat/completions", json={"messages": user("x"), "temperature": 9}),
                        400, "temperature")


def test_model_errors_map_to_status_codes():
    client, _ = make_client([ContextWindowError("The prompt does not fit the model's 4096-token context."),
                             ModelSpecError("GGUF file '/x.gguf' does not exist."),
                             ContextWindowError("too long")])
    r = client.post("/v1/chat/completions", json={"model": "local", "messages": user("long")})
    assert assert_openai_error(r, 400)["code"] == "context_length_exceeded"
    r = client.post("/v1/chat/completions", json={"model": "local", "messages": user("x")})
    assert "does not exist" in assert_openai_error(r, 503)["message"]
    # A streamed request that fails before its first token is a plain error response too.
    r = client.post("/v1/chat/completions", json={"model": "local", "messages": user("x"), "stream": True})
    assert assert_openai_error(r, 400)["code"] == "context_length_exceeded"


def test_unloadable_model_spec_is_503_with_the_fix():
    client = TestClient(create_app("gguf:/no/such/model.gguf", "local"))
    r = client.post("/v1/chat/completions", json={"model": "gguf:/no/such/model.gguf", "messages": user("x")})
    error = assert_openai_error(r, 503)
    assert "does not exist" in error["message"] and "--model" in error["message"]


def test_embeddings_float_and_base64():
    client, _ = make_client()
    r = client.post("/v1/embeddings", json={"model": "minilm", "input": ["annual leave", "sick days off"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["model"] == "minilm"
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert all(d["object"] == "embedding" and len(d["embedding"]) == 8 for d in body["data"])
    assert body["usage"] == {"prompt_tokens": 5, "total_tokens": 5}
    expected = DeterministicFakeEmbedding(size=8).embed_query("annual leave")
    assert body["data"][0]["embedding"] == pytest.approx(expected)

    r = client.post("/v1/embeddings", json={"model": "minilm", "input": "annual leave", "encoding_format": "base64"})
    encoded = r.json()["data"][0]["embedding"]
    decoded = struct.unpack("<8f", base64.b64decode(encoded))
    assert decoded == pytest.approx(expected, rel=1e-6)


def test_embeddings_reject_token_ids():
    client, _ = make_client()
    r = client.post("/v1/embeddings", json={"model": "minilm", "input": [[101, 2023, 102]]})
    assert "token ids" in assert_openai_error(r, 400, "input")["message"]
    assert_openai_error(client.post("/v1/embeddings", json={"model": "minilm", "input": []}), 400, "input")


def test_api_key_is_required_when_set():
    client, _ = make_client(["hi"], api_key="s3cret")
    assert client.get("/health").status_code == 200  # liveness stays open
    r = client.get("/v1/models")
    assert assert_openai_error(r, 401)["code"] == "invalid_api_key"
    assert r.headers["www-authenticate"] == "Bearer"
    assert_openai_error(client.get("/v1/models", headers={"Authorization": "Bearer wrong"}), 401)
    assert_openai_error(client.post("/v1/embeddings", json={"input": "x"}), 401)
    ok = client.post("/v1/chat/completions", json={"model": "local", "messages": user("x")},
                     headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == "hi"


def test_openai_python_client_against_the_app():
    """The official client (base64 embeddings by default, typed parsing) over the ASGI app."""
    import openai

    model = ScriptedChatModel(replies=["Hello from the server", "a b c"], calls=[])
    app = create_app("local", "local", chat_model=model, embeddings=DeterministicFakeEmbedding(size=8))
    with TestClient(app) as http:
        client = openai.OpenAI(base_url="http://testserver/v1", api_key="x", http_client=http, max_retries=0)
        completion = client.chat.completions.create(model="local", messages=user("Hi"))
        assert completion.choices[0].message.content == "Hello from the server"
        pieces = [c.choices[0].delta.content for c in client.chat.completions.create(
            model="local", messages=user("Hi"), stream=True) if c.choices and c.choices[0].delta.content]
        assert "".join(pieces) == "a b c"
        vector = client.embeddings.create(model="minilm", input="annual leave").data[0].embedding
        assert vector == pytest.approx(DeterministicFakeEmbedding(size=8).embed_query("annual leave"), rel=1e-6)


class ScriptedTextModel(ScriptedChatModel):
    """A scripted model that also offers raw text completion with log-probabilities."""

    n_ctx: int = 64

    VOCABULARY: dict = {"a": 1, "b": 2, "c": 3}

    def tokenize(self, text, add_special_tokens=False):
        return [self.VOCABULARY[w] for w in text.split()]

    def detokenize(self, ids):
        words = {v: k for k, v in self.VOCABULARY.items()}
        return " ".join(words[i] for i in ids)

    def tokenizer_info(self):
        return {"eos_token": "<|im_end|>", "bos_token": None, "pad_token": None, "chat_template": "{{ messages }}"}

    def complete_text(self, prompt, **options):
        self.calls.append({"prompt": prompt, "options": options})
        tokens = prompt if isinstance(prompt, list) else prompt.split()
        logprobs = None
        if options["logprobs"] is not None:
            shown = [str(t) for t in tokens] if options["echo"] else []
            logprobs = {"tokens": shown + ["!"], "token_logprobs": ([None] + [-1.0] * (len(shown) - 1) if shown else [])
                        + [-0.5], "top_logprobs": ([None] + [{"x": -1.0}] * (len(shown) - 1) if shown else [])
                        + [{"!": -0.5}], "text_offset": list(range(len(shown) + 1))}
        return {"text": ("".join(map(str, tokens)) if options["echo"] else "") + "!", "logprobs": logprobs,
                "finish_reason": "length", "usage": {"prompt_tokens": len(tokens), "completion_tokens": 1,
                                                     "total_tokens": len(tokens) + 1}}


def test_tokenizer_endpoints_as_vllm_serves_them():
    """lm-eval's remote tokenizer backend reads /tokenizer_info and posts /tokenize, /detokenize."""
    client = TestClient(create_app("local", "local", chat_model=ScriptedTextModel(replies=[], calls=[])))
    info = client.get("/tokenizer_info").json()
    assert info["eos_token"] == "<|im_end|>" and "chat_template" in info
    assert client.post("/tokenize", json={"prompt": "a b c", "add_special_tokens": False}).json()["tokens"] == [1, 2, 3]
    assert client.post("/detokenize", json={"tokens": [1, 2, 3]}).json() == {"prompt": "a b c"}
    chat_only, _ = make_client()
    assert_openai_error(chat_only.post("/tokenize", json={"prompt": "x"}), 400)


def test_completions_with_logprobs_and_echo_for_token_id_prompts():
    model = ScriptedTextModel(replies=[], calls=[])
    client = TestClient(create_app("local", "local", chat_model=model))
    r = client.post("/v1/completions", json={"model": "local", "prompt": [[1, 2, 3], [4, 5]], "max_tokens": 1,
                                             "logprobs": 1, "echo": True, "temperature": 0})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "text_completion" and body["model"] == "local"
    assert [c["index"] for c in body["choices"]] == [0, 1]
    first = body["choices"][0]["logprobs"]
    assert first["token_logprobs"] == [None, -1.0, -1.0, -0.5] and first["top_logprobs"][-1] == {"!": -0.5}
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    assert [c["prompt"] for c in model.calls] == [[1, 2, 3], [4, 5]]
    assert model.calls[0]["options"] == {"max_tokens": 1, "temperature": 0, "stop": None, "logprobs": 1,
                                         "echo": True, "seed": None}
    text = client.post("/v1/completions", json={"model": "local", "prompt": "a b", "stop": "\n"}).json()
    assert text["choices"][0]["text"] == "!" and text["choices"][0]["logprobs"] is None
    assert model.calls[-1]["prompt"] == "a b" and model.calls[-1]["options"]["stop"] == ["\n"]


def test_completions_errors_name_the_fix():
    client, _ = make_client()  # a chat-only model
    r = client.post("/v1/completions", json={"model": "local", "prompt": "x"})
    assert "in-process llama.cpp" in assert_openai_error(r, 400, "model")["message"]
    text_client = TestClient(create_app("local", "local", chat_model=ScriptedTextModel(replies=[], calls=[])))
    assert_openai_error(text_client.post("/v1/completions", json={"model": "gpt-3.5-turbo-instruct", "prompt": "x"}), 404)
    assert_openai_error(text_client.post("/v1/completions", json={"model": "local", "prompt": []}), 400, "prompt")
    assert_openai_error(text_client.post("/v1/completions", json={"model": "local", "prompt": "x", "stream": True}),
                        400, "stream")
    too_long = text_client.post("/v1/completions", json={"model": "local", "prompt": "x", "max_tokens": 65})
    assert assert_openai_error(too_long, 400, "max_tokens")["code"] == "max_tokens_exceeded"
