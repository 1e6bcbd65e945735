"""Spans leave the request path (a batch processor writes them from its own thread) and none are
lost when the server is stopped: a SIGTERM'd gateway writes every queued span before it exits.
Each model call's span hangs from its HTTP request's span.
A SCRIPTED model behind the real gateway (evals.scripted_server), real HTTP on loopback.

    nice -n 19 .venv/bin/python -m pytest tests/integration/test_gateway_tracing_flush.py -q
"""

from __future__ import annotations

import json
import signal

import httpx
import pytest

from tests.integration.servers import free_port, python, running

pytestmark = pytest.mark.slow


def test_sigterm_writes_every_queued_span(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    spans_path = tmp_path / "spans.jsonl"
    command = python("-m", "evals.scripted_server", "--port", str(port), "--api-key", "k-test",
                     "--tracing", f"jsonl:{spans_path}")
    # a long batch delay: without the shutdown flush every span below would still be queued at exit
    env = {"OTEL_BSP_SCHEDULE_DELAY": "60000"}
    with running(command, f"{url}/health", log=tmp_path / "server.log", timeout=180, env=env) as proc:
        ids = []
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer k-test"}, timeout=60) as client:
            for i in range(7):
                response = client.post("/v1/chat/completions", json={
                    "model": "scripted", "messages": [{"role": "user", "content": f"question {i}"}]})
                assert response.status_code == 200, response.text
                ids.append(response.json()["id"])
        written_before_stop = len(spans_path.read_text().splitlines()) if spans_path.exists() else 0
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert written_before_stop == 0, "spans were written on the request path, not queued"
    spans = [json.loads(line) for line in spans_path.read_text().splitlines()]
    model_calls = [s for s in spans if s["attributes"].get("hearth.kind") == "llm"]
    assert len(model_calls) == 7, [s["name"] for s in spans]
    assert all(s["end_ns"] >= s["start_ns"] for s in model_calls)
    # each model call hangs from its HTTP request's span (FastAPI's own), with nothing per
    # dependency or serialisation step between, and the health polls left no spans
    by_id = {s["span_id"]: s for s in spans}
    assert [by_id[s["parent_id"]]["name"] for s in model_calls] == ["POST /v1/chat/completions"] * 7
    assert not [s["name"] for s in spans if s["name"].startswith("fastapi.") or "/health" in s["name"]]
    assert proc.returncode in (0, -signal.SIGTERM), proc.returncode
