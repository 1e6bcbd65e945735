"""Bounded consumption (OWASP LLM10): apps.serve caps body size, messages, max_tokens (to the
model's context), generations at once per key and time per request; the lab job pool caps its
queue and each job's run time. Each cap answers with a clear error (scripted models, no weights)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from models.serving.app import create_app
from models.serving.limits import ServerLimits
from tools.jobs import JobQueueFull, JobRunner

pytestmark = pytest.mark.security


class SlowScriptedChatModel(BaseChatModel):
    """Answers "ok" after `delay` seconds (or when `release` is set); has a 512-token context."""

    delay: float = 0.0
    n_ctx: int = 512
    release: Any = None
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "slow-scripted"

    def _wait(self) -> None:
        self.calls += 1
        if self.release is not None:
            self.release.wait(10)
        time.sleep(self.delay)

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        self._wait()
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="ok"))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        for word in ("one", " two", " three"):
            self._wait()
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))


def client_for(model=None, **limits) -> TestClient:
    app = create_app("local", "local", api_key="k", chat_model=model or SlowScriptedChatModel(),
                     embeddings=DeterministicFakeEmbedding(size=4), limits=ServerLimits(**limits))
    return TestClient(app, headers={"Authorization": "Bearer k"})


def chat(client, **body):
    return client.post("/v1/chat/completions", json={"model": "local", "messages": [{"role": "user", "content": "hi"}],
                                                     **body})


def error_of(response, status):
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_an_oversized_body_is_413_before_parsing():
    client = client_for(max_body_bytes=2_000)
    big = [{"role": "user", "content": "x" * 3_000}]
    error = error_of(client.post("/v1/chat/completions", json={"model": "local", "messages": big}), 413)
    assert "at most 2000 bytes" in error["message"] and error["code"] == "request_too_large"

    def chunks():   # no Content-Length: counted while it arrives
        yield b'{"model": "local", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}]}'

    chunked = client.post("/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
    assert "HEARTH_SERVE_MAX_BODY" in error_of(chunked, 413)["message"]
    assert chat(client).status_code == 200


def test_too_many_messages_or_inputs_are_400():
    client = client_for(max_messages=3, max_inputs=3)
    many = [{"role": "user", "content": str(i)} for i in range(4)]
    error = error_of(client.post("/v1/chat/completions", json={"model": "local", "messages": many}), 400)
    assert error["param"] == "messages" and "at most 3" in error["message"]
    error = error_of(client.post("/v1/embeddings", json={"model": "local", "input": ["a"] * 4}), 400)
    assert error["param"] == "input" and "HEARTH_SERVE_MAX_INPUTS" in error["message"]
    assert ServerLimits().max_inputs == 2048   # a LangChain client's batches (up to 1000 texts) pass by default


def test_max_tokens_is_capped_to_the_model_context():
    client = client_for()
    error = error_of(chat(client, max_tokens=100_000), 400)
    assert error["code"] == "max_tokens_exceeded" and "512" in error["message"] and "context" in error["message"]
    assert chat(client, max_tokens=512).status_code == 200
    capped = client_for(max_tokens=64)
    assert "HEARTH_SERVE_MAX_TOKENS" in error_of(chat(capped, max_completion_tokens=65), 400)["message"]


def test_generations_at_once_per_key_are_capped_with_429_and_retry_after():
    release = threading.Event()
    model = SlowScriptedChatModel(release=release)
    app = create_app("local", "local", api_key="k", chat_model=model, limits=ServerLimits(concurrent_per_key=2))

    async def burst():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": "Bearer k"}) as client:
            body = {"model": "local", "messages": [{"role": "user", "content": "hi"}]}
            first = [asyncio.create_task(client.post("/v1/chat/completions", json=body)) for _ in range(2)]
            while model.calls < 2:          # both are generating
                await asyncio.sleep(0.01)
            third = await client.post("/v1/chat/completions", json=body)
            release.set()
            done = await asyncio.gather(*first)
            after = await client.post("/v1/chat/completions", json=body)
            return third, done, after

    third, done, after = asyncio.run(burst())
    assert third.status_code == 429 and third.headers["retry-after"] == "1"
    assert third.json()["error"]["code"] == "concurrency_limit_exceeded"
    assert [r.status_code for r in done] == [200, 200] and after.status_code == 200
    assert app.state.generation_slots.active == {}


def test_a_request_past_its_time_is_504_and_its_slot_is_freed_when_the_model_stops():
    model = SlowScriptedChatModel(delay=0.6)
    client = client_for(model, request_timeout_s=0.2)
    error = error_of(chat(client), 504)
    assert error["code"] == "request_timeout" and "HEARTH_SERVE_TIMEOUT_S" in error["message"]
    streamed = chat(client, stream=True)   # the first token is too late: a plain 504 response
    assert error_of(streamed, 504)["code"] == "request_timeout"
    time.sleep(1.5)
    assert client.app.state.generation_slots.active == {}


def test_a_stream_that_runs_past_its_time_ends_with_an_error_event():
    model = SlowScriptedChatModel(delay=0.15)
    client = client_for(model, request_timeout_s=0.4)
    text = chat(client, stream=True).text
    assert '"code":"request_timeout"' in text.replace(" ", "") and "[DONE]" not in text


def test_the_job_queue_is_capped():
    runner = JobRunner(workers=1, max_queued=2)
    gate = threading.Event()
    runner.submit("blocker", lambda progress: gate.wait(10))
    while runner.list_jobs()[0]["state"] != "running":
        time.sleep(0.01)
    runner.submit("a", lambda progress: 1)
    runner.submit("b", lambda progress: 2)
    with pytest.raises(JobQueueFull, match="HEARTH_JOB_QUEUE"):
        runner.submit("c", lambda progress: 3)
    gate.set()
    assert [j["state"] for j in runner.wait_all(timeout=10)] == ["done", "done", "done"]


def test_a_job_past_its_time_limit_is_stopped_at_its_next_progress_report():
    runner = JobRunner(workers=1, time_limit_s=0.2)

    def long_work(progress):
        for step in range(100):
            time.sleep(0.05)
            progress(step / 100, f"step {step}")
        return "finished"

    job = runner.wait(runner.submit("long", long_work), timeout=10)
    assert job["state"] == "failed" and "JobTimeLimit" in job["error"] and "HEARTH_JOB_TIME_LIMIT_S" in job["error"]
    assert job["progress"] < 0.2


def test_the_lab_tool_reports_a_full_queue_as_a_clear_tool_error(monkeypatch):
    from tools import jobs
    from training.lab_tools import train_bpe_tokenizer

    full = JobRunner(workers=1, max_queued=1)
    monkeypatch.setattr(jobs, "RUNNER", full)
    gate = threading.Event()
    full.submit("blocker", lambda progress: gate.wait(10))
    while full.list_jobs()[0]["state"] != "running":
        time.sleep(0.01)
    full.submit("queued", lambda progress: None)
    answer = train_bpe_tokenizer.invoke({"corpus": "legal", "vocab_size": 300})
    gate.set()
    assert isinstance(answer, str) and "already waiting" in answer and "job_status" in answer
