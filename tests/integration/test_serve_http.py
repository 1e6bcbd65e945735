"""apps.serve over real HTTP with the real embedded models (SmolLM2 on llama.cpp, MiniLM),
driven by the project's own `openai:` providers (LangChain's ChatOpenAI / OpenAIEmbeddings)."""

from __future__ import annotations

import math
import socket
import threading
import time

import httpx
import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from models import load_chat_model, load_embeddings

pytestmark = pytest.mark.slow


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


class CityFact(BaseModel):
    city: str
    country: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url():
    import uvicorn

    from apps.serve import create_app

    port = _free_port()
    config = uvicorn.Config(create_app("local", "local"), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="apps.serve", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            pytest.fail("apps.serve did not come up on /health within 30 s")
        time.sleep(0.05)
    yield f"{url}/v1"
    server.should_exit = True
    thread.join(timeout=10)


def test_models_list(base_url):
    data = httpx.get(f"{base_url}/models", timeout=5).json()["data"]
    assert [m["id"] for m in data] == ["local"]


def test_invoke_returns_text(base_url):
    llm = load_chat_model(f"openai:local@{base_url}?max_tokens=32")
    reply = llm.invoke("Say hello")
    assert isinstance(reply, AIMessage)
    assert reply.content.strip()
    assert reply.usage_metadata and reply.usage_metadata["output_tokens"] > 0


def test_stream_yields_several_chunks(base_url):
    llm = load_chat_model(f"openai:local@{base_url}?max_tokens=32")
    chunks = [c for c in llm.stream("Write a sentence about the sea.")]
    texts = [c.content for c in chunks if c.content]
    assert len(texts) >= 3
    assert "".join(texts).strip()


def test_bound_tool_is_called_with_valid_arguments(base_url):
    llm = load_chat_model(f"openai:local@{base_url}?max_tokens=96")
    # One call: with parallel calls allowed the 135M model tends to repeat the same call up to
    # the envelope's limit, which costs tokens (and time) without testing anything more.
    bound = llm.bind_tools([get_weather], tool_choice="any", parallel_tool_calls=False)
    reply = bound.invoke("What is the weather in Oslo?")
    assert isinstance(reply, AIMessage)
    assert len(reply.tool_calls) == 1, reply
    call = reply.tool_calls[0]
    assert call["name"] == "get_weather"
    get_weather.args_schema.model_validate(call["args"])
    assert call["id"]


def test_structured_output_through_json_schema(base_url):
    llm = load_chat_model(f"openai:local@{base_url}?max_tokens=96")
    result = llm.with_structured_output(CityFact).invoke("Name a city and its country.")
    assert isinstance(result, CityFact)


def test_embeddings_match_the_in_process_model(base_url):
    remote = load_embeddings(f"openai:minilm@{base_url}")
    text = "How many days of annual leave do I get?"
    served = remote.embed_query(text)
    local = load_embeddings("local").embed_query(text)
    assert len(served) == 384
    dot = sum(a * b for a, b in zip(served, local))
    cosine = dot / (math.sqrt(sum(a * a for a in served)) * math.sqrt(sum(b * b for b in local)))
    assert cosine > 0.99
    assert len(remote.embed_documents(["one", "two", "three"])) == 3


def test_vllm_spec_speaks_the_same_api(base_url):
    """`vllm:` reaches vLLM through its OpenAI-compatible API: the same client code path."""
    llm = load_chat_model(f"vllm:local@{base_url}?max_tokens=96")
    reply = llm.bind_tools([get_weather], tool_choice="get_weather").invoke("Weather in Lisbon?")
    assert reply.tool_calls[0]["name"] == "get_weather"


def test_rag_graph_answers_through_the_served_model(base_url, tmp_path):
    """Scale-out by configuration: the same RAG graph with its model behind HTTP."""
    from graphs.rag.context import Context
    from graphs.rag.graph import compile_rag_graph
    from rag.answering import open_knowledge_base
    from rag.knowledge_base import SAMPLE_HANDBOOK

    index = str(tmp_path / "qdrant")
    open_knowledge_base("handbook", index, "local").ingest([SAMPLE_HANDBOOK / "annual-leave.md"])
    context = Context(model=f"openai:local@{base_url}?max_tokens=64", index_location=index, top_k=2)
    state = compile_rag_graph().invoke({"messages": [("human", "How many days of annual leave do I get?")]},
                                       context=context)
    assert state["messages"][-1].additional_kwargs["answer_text"].strip()
    assert all(c["label"].startswith("annual-leave.md") for c in state["citations"])
