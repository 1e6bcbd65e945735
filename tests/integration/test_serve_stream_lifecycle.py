"""Streams over real HTTP on loopback, with a SCRIPTED slow-streaming model (evals.scripted_server:
a word every 50-100 ms, no weights): a client that goes away mid-stream stops the generation and
frees its slot (the next request is served at once), and SIGTERM ends open streams with a proper
last event, finishes short ones, and leaves no traceback."""

from __future__ import annotations

import json
import signal
import threading
import time

import httpx
import pytest

from tests.integration.servers import free_port, python, running

pytestmark = pytest.mark.slow

CHAT = "/v1/chat/completions"


def _body(stream: bool = True, **extra) -> dict:
    return {"model": "scripted", "stream": stream, "messages": [{"role": "user", "content": "hello there"}], **extra}


def _events(lines) -> list:
    out = []
    for line in lines:
        if line.startswith("data: "):
            data = line[len("data: "):]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


@pytest.fixture
def scripted_server():
    """The gateway with a slow scripted model (100 words, 50 ms apart: 5 s to stream them all),
    one generation at once per key, in this process (so the test can read the model's counts)."""
    import uvicorn

    from evals.scripted_server import build_app

    app, model = build_app(reply_words=100, chunk_delay_ms=50, api_key="k-test", metrics=True, concurrency=1)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.1)
    yield url, app, model
    server.should_exit = True
    thread.join(10)


def test_client_disconnect_stops_generation_and_frees_the_slot(scripted_server):
    url, app, model = scripted_server
    headers = {"Authorization": "Bearer k-test"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        with client.stream("POST", CHAT, json=_body()) as response:
            assert response.status_code == 200
            pieces = 0
            for line in response.iter_lines():
                if line.startswith("data: ") and '"content"' in line:
                    pieces += 1
                if pieces >= 4:
                    break  # the client goes away with ~96 words still to come
        gone_at = time.monotonic()
        # the model stops at its next word: abandoned, far from the 100 chunks a full answer has
        while model.stats["abandoned"] == 0 and time.monotonic() - gone_at < 5:
            time.sleep(0.02)
        stopped_after = time.monotonic() - gone_at
        assert model.stats["abandoned"] == 1 and model.stats["finished"] == 0, model.stats
        assert stopped_after < 2.0, f"the model ran on for {stopped_after:.2f} s after the client left"
        chunks_then = model.stats["chunks"]
        assert chunks_then < 20, model.stats
        time.sleep(0.3)
        assert model.stats["chunks"] == chunks_then, "the model kept generating for nobody"
        assert app.state.gateway.slots.active == {}, "the generation slot was not released"
        assert len(app.state.gateway.streams) == 0
        # the key allows one generation at once: a held slot would answer 429 here
        started = time.monotonic()
        answer = client.post(CHAT, json=_body(stream=False))
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"].startswith("the quick brown fox")
        assert time.monotonic() - started < 5
        scrape = client.get("/metrics").text
        assert 'hearth_generations_in_flight 0.0' in scrape or "in_flight" not in scrape


def _server_command(port: int, *extra: str) -> list[str]:
    return python("-m", "evals.scripted_server", "--port", str(port), "--api-key", "k-test", *extra)


def _read_stream(url: str, body: dict, into: dict, ready: threading.Event) -> None:
    lines = []
    try:
        with httpx.stream("POST", f"{url}{CHAT}", json=body, headers={"Authorization": "Bearer k-test"},
                          timeout=60) as response:
            into["status"] = response.status_code
            for line in response.iter_lines():
                lines.append(line)
                if len(lines) >= 4:
                    ready.set()
        into["clean_end"] = True
    except httpx.HTTPError as exc:  # a reset or a truncated chunked body lands here
        into["error"] = repr(exc)
    finally:
        ready.set()
        into["events"] = _events(lines)


def test_sigterm_finishes_short_streams_and_ends_long_ones_with_a_final_event(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    # 60 words 100 ms apart (6 s) against a 2 s grace; 12 words (1.2 s) finish inside it
    command = _server_command(port, "--reply-words", "60", "--chunk-delay-ms", "100", "--grace-s", "2",
                              "--concurrency", "4")
    with running(command, f"{url}/health", log=log, timeout=180) as proc:
        long_out, short_out = {}, {}
        long_ready, short_ready = threading.Event(), threading.Event()
        long_reader = threading.Thread(target=_read_stream, args=(url, _body(), long_out, long_ready))
        short_reader = threading.Thread(target=_read_stream,
                                        args=(url, _body(max_tokens=12), short_out, short_ready))
        long_reader.start()
        assert long_ready.wait(30)
        short_reader.start()
        assert short_ready.wait(30)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        long_reader.join(30)
        short_reader.join(30)
        ended_after = time.monotonic() - signalled
        proc.wait(timeout=30)
    # the long stream: a proper last event (OpenAI's error shape), not a reset, within the grace + a little
    assert long_out.get("clean_end"), long_out
    assert long_out["events"], long_out
    last = long_out["events"][-1]
    assert isinstance(last, dict) and last["error"]["code"] == "server_shutting_down", long_out["events"][-3:]
    assert ended_after < 10, ended_after
    words = sum(1 for e in long_out["events"] if isinstance(e, dict) and e.get("choices")
                and e["choices"][0]["delta"].get("content"))
    assert 5 <= words < 60, words
    # the short stream finished normally inside the grace period
    assert short_out.get("clean_end"), short_out
    assert short_out["events"][-1] == "[DONE]"
    finishes = [e["choices"][0]["finish_reason"] for e in short_out["events"]
                if isinstance(e, dict) and e.get("choices") and e["choices"][0]["finish_reason"]]
    assert finishes == ["stop"] or finishes == ["length"], short_out["events"][-3:]
    text = log.read_text()
    assert "Traceback" not in text and "Cancel" not in text, text[-3000:]
    assert proc.returncode in (0, -signal.SIGTERM), proc.returncode
