"""A/B routing through the real `python -m apps.serve` process on loopback with the bundled
SmolLM2: both variants answer, the header and feedback work over HTTP, and evals.ab reads the log."""

from __future__ import annotations

import httpx
import pytest

from evals.ab import build_report
from models.serving.ab import ABRouter
from tests.integration.servers import free_port, python, running

pytestmark = pytest.mark.slow


def test_ab_over_http_with_the_bundled_model(tmp_path):
    prompt = tmp_path / "pirate.txt"
    prompt.write_text("You are a pirate. Answer every question like a pirate, in one short sentence.")
    flag = f"B=prompt:{prompt}@50%"
    router = ABRouter.from_flags([flag])
    users = {router.choose(u).name: u for u in (f"user{i}" for i in range(20))}
    assert set(users) == {"A", "B"}
    port, log = free_port(), tmp_path / "ab.jsonl"
    headers = {"Authorization": "Bearer test-key"}
    command = python("-m", "apps.serve", "--port", str(port), "--api-key", "test-key", "--ab", flag,
                     "--ab-log", str(log))
    url = f"http://127.0.0.1:{port}"
    with running(command, f"{url}/health", log=tmp_path / "serve.log"):
        for name, user in sorted(users.items()):
            for _ in range(2):
                response = httpx.post(f"{url}/v1/chat/completions", headers=headers, timeout=120, json={
                    "model": "local", "user": user, "max_tokens": 16,
                    "messages": [{"role": "user", "content": "What is the capital of France?"}]})
                assert response.status_code == 200, response.text
                assert response.headers["x-hearth-variant"] == name
                assert response.json()["choices"][0]["message"]["content"].strip()
            feedback = httpx.post(f"{url}/v1/feedback", headers=headers, timeout=30,
                                  json={"response_id": response.json()["id"], "score": 1})
            assert feedback.status_code == 200 and feedback.json()["variant"] == name
        metrics = httpx.get(f"{url}/metrics", headers=headers, timeout=30).text
        assert 'hearth_ab_requests_total{route="/v1/chat/completions",status="200",variant="B"} 2.0' in metrics
    report = build_report(log)
    assert {v: report["variants"][v]["requests"] for v in ("A", "B")} == {"A": 2, "B": 2}
    assert report["variants"]["B"]["feedback"] == 1
