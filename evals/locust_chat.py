"""The locust user behind `python -m evals.load_test`: streamed chat completions against one
OpenAI-compatible server, each request's status, latency and time to first token appended to a
JSON file when the run stops (the file named by $LOAD_TEST_RECORDS).

    locust -f evals/locust_chat.py --headless -u 4 -r 4 -t 30s --host http://127.0.0.1:8008
"""

from __future__ import annotations

import json
import os
import time

from locust import HttpUser, between, events, task

RECORDS: list[dict] = []
QUESTIONS = ["What is the capital of France?", "Name three colours.", "What is 2 plus 2?",
             "Say hello in Spanish.", "What do bees make?", "How many days are in a week?"]


class ChatUser(HttpUser):
    wait_time = between(0, 0.05)

    @task
    def chat(self) -> None:
        i = len(RECORDS)
        body = {"model": os.environ.get("LOAD_TEST_MODEL", "local"), "stream": True, "temperature": 0,
                "max_tokens": int(os.environ.get("LOAD_TEST_MAX_TOKENS", "32")),
                "messages": [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}]}
        headers = {"Authorization": f"Bearer {os.environ.get('LOAD_TEST_KEY', '')}"}
        started = time.perf_counter()
        record = {"status": None, "latency_s": None, "ttft_s": None, "chunks": 0, "error": None}
        try:
            with self.client.post("/v1/chat/completions", json=body, headers=headers, stream=True,
                                  catch_response=True, name="chat stream", timeout=300) as response:
                record["status"] = response.status_code
                if response.status_code == 200:
                    for line in response.iter_lines():
                        if not line or not line.startswith(b"data:") or line.strip() == b"data: [DONE]":
                            continue
                        delta = (json.loads(line[5:]).get("choices") or [{}])[0].get("delta") or {}
                        if delta.get("content"):
                            record["chunks"] += 1
                            if record["ttft_s"] is None:
                                record["ttft_s"] = time.perf_counter() - started
                    response.success()
                else:
                    response.failure(f"HTTP {response.status_code}")
        except Exception as exc:  # noqa: BLE001 - a connection error is a measured failure
            record["error"] = f"{type(exc).__name__}: {exc}"[:300]
        record["latency_s"] = time.perf_counter() - started
        record["t"] = time.time()
        RECORDS.append(record)


@events.test_stop.add_listener
def _write_records(**_kwargs) -> None:
    path = os.environ.get("LOAD_TEST_RECORDS")
    if path:
        with open(path, "w") as fh:
            json.dump(RECORDS, fh)
