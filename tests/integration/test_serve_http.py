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
    assert [m["id"] for m in data] == ["local", "smollm2", "minilm", "all-MiniLM-L6-v2"]


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
    from graphs.rag.graph import graph
    from rag.answering import open_knowledge_base
    from rag.knowledge_base import SAMPLE_HANDBOOK

    index = str(tmp_path / "qdrant")
    open_knowledge_base("handbook", index, "local").ingest([SAMPLE_HANDBOOK / "annual-leave.md"])
    context = Context(model=f"openai:local@{base_url}?max_tokens=64", index_location=index, top_k=2)
    state = graph.invoke({"messages": [("human", "How many days of annual leave do I get?")]}, context=context)
    assert state["messages"][-1].additional_kwargs["answer_text"].strip()
    assert all(c["label"].startswith("annual-leave.md") for c in state["citations"])


# -- the command line, with its generated key, through the official openai client -------------
@pytest.fixture(scope="module")
def served_cli(tmp_path_factory):
    """`python -m apps.serve` as a user starts it: a key generated on first start, stored owner-only."""
    from servers import free_port, python, running

    home = tmp_path_factory.mktemp("serve-home")
    port = free_port()
    log = home / "serve.log"
    env = {"HEARTH_HOME": str(home), "HEARTH_API_KEY": ""}
    with running(python("-m", "apps.serve", "--port", str(port)), f"http://127.0.0.1:{port}/health", env=env,
                 timeout=120, log=log):
        key = (home / "secrets" / "serve.key").read_text().strip()
        yield {"url": f"http://127.0.0.1:{port}/v1", "key": key, "log": log, "home": home}


def test_cli_generates_a_key_and_shows_it_once(served_cli):
    import stat

    path = served_cli["home"] / "secrets" / "serve.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert served_cli["key"] in served_cli["log"].read_text()
    assert httpx.get(f"{served_cli['url']}/models", timeout=5).status_code == 401


def test_official_openai_client_lists_models_and_gets_404_for_an_unknown_one(served_cli):
    import openai

    client = openai.OpenAI(base_url=served_cli["url"], api_key=served_cli["key"], max_retries=0, timeout=120)
    ids = [m.id for m in client.models.list()]
    assert ids[0] == "local" and "minilm" in ids
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.code == "model_not_found" and caught.value.status_code == 404
    reply = client.chat.completions.create(model="local", max_tokens=16,
                                           messages=[{"role": "user", "content": "What is the capital of France?"}])
    assert reply.choices[0].message.content.strip() and reply.model == "local"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=served_cli["url"], api_key="wrong", max_retries=0).models.list()


def test_completions_logprobs_match_llama_cpp_and_rank_the_right_answer(base_url):
    """/v1/completions with echo + logprobs gives each prompt token's log-probability, equal to a
    log-softmax over llama.cpp's own logits, and ranks "Paris" over "Berlin" as lm-eval would."""
    import numpy as np
    from llama_cpp import Llama

    from models.bundled import smollm2_gguf_path

    def scored(text: str) -> dict:
        r = httpx.post(f"{base_url}/completions", timeout=120, json={
            "model": "local", "prompt": text, "max_tokens": 1, "logprobs": 1, "echo": True, "temperature": 0})
        assert r.status_code == 200, r.text
        return r.json()["choices"][0]["logprobs"]

    paris, berlin = scored("The capital of France is Paris"), scored("The capital of France is Berlin")
    assert paris["token_logprobs"][0] is None
    assert paris["token_logprobs"][-2] > berlin["token_logprobs"][-2]   # the last prompt token; the final one is generated

    reference = Llama(model_path=str(smollm2_gguf_path()), n_ctx=256, logits_all=True, verbose=False, n_threads=1)
    try:
        ids = reference.tokenize(b"The capital of France is Paris", add_bos=False, special=True)
        reference.eval(ids)
        logits = np.asarray(reference.scores[:len(ids)], dtype=np.float64)
        logsoftmax = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) - logits.max(1, keepdims=True)
        expected = [float(logsoftmax[i - 1, ids[i]]) for i in range(1, len(ids))]
    finally:
        reference.close()
    served = paris["token_logprobs"][1:len(ids)]
    assert len(paris["tokens"]) == len(ids) + 1
    assert served == pytest.approx(expected, abs=2e-3)



def test_lm_eval_local_completions_scores_multiple_choice_through_the_server(base_url):
    """lm-eval's own `local-completions` client (with the server's tokenizer endpoints, its
    "remote" backend) scores continuations through /v1/completions; the log-likelihoods equal a
    direct llama.cpp computation on the same tokens, and the right answer ranks first."""
    import numpy as np
    from llama_cpp import Llama
    from lm_eval.api.instance import Instance
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    from models.bundled import smollm2_gguf_path

    lm = LocalCompletionsAPI(base_url=f"{base_url}/completions", model="local", tokenizer_backend="auto",
                             tokenized_requests=True, max_length=512, num_concurrent=1, max_retries=1)
    assert lm.tokenizer_backend == "remote"
    context = "Question: What is the capital of France?\nAnswer:"
    choices = [" Paris", " Berlin", " Madrid"]
    requests = [Instance(request_type="loglikelihood", doc={}, arguments=(context, c), idx=i) for i, c in enumerate(choices)]
    scores = [logprob for logprob, _ in lm.loglikelihood(requests)]
    assert int(np.argmax(scores)) == 0, scores

    reference = Llama(model_path=str(smollm2_gguf_path()), n_ctx=256, logits_all=True, verbose=False, n_threads=1)
    try:
        expected = []
        for choice in choices:
            ctx = reference.tokenize(context.encode(), add_bos=False, special=True)
            cont = reference.tokenize(choice.encode(), add_bos=False, special=True)
            reference.reset()
            reference.eval(ctx + cont)
            logits = np.asarray(reference.scores[:len(ctx) + len(cont)], dtype=np.float64)
            shifted = logits - logits.max(1, keepdims=True)
            logsoftmax = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
            expected.append(sum(float(logsoftmax[len(ctx) + i - 1, t]) for i, t in enumerate(cont)))
    finally:
        reference.close()
    assert scores == pytest.approx(expected, abs=5e-3)
