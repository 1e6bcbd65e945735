"""A/B routing in apps.serve with scripted fake chat models (no weights): stickiness, shares,
the variant on headers / metrics / trace metadata / log, feedback, and evals.ab on a small log."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import SystemMessage

from apps.serve import main as serve_main
from evals.ab import build_report
from evals.ab import main as ab_main
from models.serving.ab import ABConfigError, ABRouter, Variant, parse_variant
from models.serving.app import create_app
from tests.unit.test_serve import ScriptedChatModel


def make_ab_client(tmp_path, variants, pins=None, replies=200):
    base = ScriptedChatModel(replies=["from A"] * replies, calls=[])
    router = ABRouter(variants, pins)
    app = create_app("local", "local", chat_model=base, embeddings=DeterministicFakeEmbedding(size=8),
                     ab=router, ab_log=tmp_path / "ab.jsonl")
    return TestClient(app), base, router


def ask(client, user=None, text="hi"):
    body = {"model": "local", "messages": [{"role": "user", "content": text}]}
    if user is not None:
        body["user"] = user
    return client.post("/v1/chat/completions", json=body)


def test_same_user_gets_the_same_variant_across_100_requests(tmp_path):
    client, _, _ = make_ab_client(tmp_path, [Variant("B", 50, system_prompt="Be brief.")])
    for user in ("u1", "u2", "u3"):
        seen = {ask(client, user).headers["x-hearth-variant"] for _ in range(100 if user == "u1" else 10)}
        assert len(seen) == 1, (user, seen)
    # a fresh router (a restart) keeps the assignment
    again = ABRouter([Variant("B", 50, system_prompt="Be brief.")])
    assert again.choose("u1").name == ask(client, "u1").headers["x-hearth-variant"]


def test_share_of_users_matches_the_percentage():
    router = ABRouter([Variant("B", 20, system_prompt="x")])
    users = [f"user-{i}" for i in range(20_000)]
    share = sum(router.choose(u).name == "B" for u in users) / len(users)
    assert abs(share - 0.20) < 0.01  # binomial sd at n=20000 is 0.0028


def test_pinned_key_and_prompt_variant_reaches_the_model(tmp_path):
    client, base, _ = make_ab_client(tmp_path, [Variant("B", 0, system_prompt="Answer in French.")],
                                     pins={"anonymous": "B"})
    response = ask(client, "anyone")
    assert response.status_code == 200 and response.headers["x-hearth-variant"] == "B"
    sent = base.calls[-1]["messages"]
    assert isinstance(sent[0], SystemMessage) and sent[0].content == "Answer in French."


def test_model_variant_answers_and_header_metrics_log_carry_it(tmp_path):
    other = ScriptedChatModel(replies=["from B"] * 50, calls=[])
    client, _, router = make_ab_client(tmp_path, [Variant("B", 50, model_spec="local", chat_model=other)])
    users = [f"u{i}" for i in range(40)]
    for user in users:
        response = ask(client, user)
        variant = response.headers["x-hearth-variant"]
        assert variant == router.choose(user).name
        assert response.json()["choices"][0]["message"]["content"] == f"from {variant}"
        assert response.headers["x-hearth-response-id"] == response.json()["id"]
    metrics = client.get("/metrics").text
    for name in ("A", "B"):
        n = sum(router.choose(u).name == name for u in users)
        assert f'hearth_ab_requests_total{{route="/v1/chat/completions",status="200",variant="{name}"}} {n}.0' in metrics
    lines = [json.loads(l) for l in (tmp_path / "ab.jsonl").read_text().splitlines()]
    assert len(lines) == 40 and {l["variant"] for l in lines} == {"A", "B"}
    assert all("u1" not in l["user"] for l in lines)  # users are hashed


def test_stream_carries_the_variant(tmp_path):
    client, _, _ = make_ab_client(tmp_path, [Variant("B", 100, system_prompt="x")])
    body = {"model": "local", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        text = "".join(response.iter_text())
    assert response.headers["x-hearth-variant"] == "B" and "[DONE]" in text


def test_variant_is_in_the_run_metadata_for_tracing(tmp_path):
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.tracers.context import register_configure_hook
    from contextvars import ContextVar

    seen = []

    class Spy(BaseCallbackHandler):
        def on_chat_model_start(self, serialized, messages, *, metadata=None, **kwargs):
            seen.append(dict(metadata or {}))

    var: ContextVar = ContextVar("ab_spy", default=None)
    register_configure_hook(var, inheritable=True)
    var.set(Spy())
    client, _, _ = make_ab_client(tmp_path, [Variant("B", 100, system_prompt="x")])
    response = ask(client, "u")
    var.set(None)
    assert seen and seen[-1]["variant"] == "B" and seen[-1]["request_id"] == response.json()["id"]


def test_feedback_round_trip_and_evals_ab(tmp_path):
    client, _, router = make_ab_client(tmp_path, [Variant("B", 50, system_prompt="x")])
    for i in range(30):
        response = ask(client, f"user{i}")
        variant = response.headers["x-hearth-variant"]
        fb = client.post("/v1/feedback", json={"response_id": response.json()["id"], "score": 1 if variant == "B" else 0})
        assert fb.status_code == 200 and fb.json()["variant"] == variant
    missing = client.post("/v1/feedback", json={"response_id": "chatcmpl-nope", "score": 1})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "response_not_found"
    assert client.post("/v1/feedback", json={"response_id": "x"}).status_code == 400
    assert 'hearth_ab_feedback_score_count{variant="B"}' in client.get("/metrics").text
    report = build_report(tmp_path / "ab.jsonl")
    a, b = report["variants"]["A"], report["variants"]["B"]
    assert a["requests"] + b["requests"] == 30 and a["feedback_mean"] == 0.0 and b["feedback_mean"] == 1.0
    versus = report["versus_baseline"]["B"]
    assert versus["feedback_diff"] == 1.0 and versus["feedback_p_value"] < 0.01
    assert ab_main(["--log", str(tmp_path / "ab.jsonl"), "--out", str(tmp_path / "out")]) == 0
    assert "| B |" in (tmp_path / "out" / "ab_report.md").read_text()


def test_evals_ab_statistics_on_a_written_log(tmp_path):
    log = tmp_path / "log.jsonl"
    rows = [{"event": "response", "response_id": f"r{i}", "variant": "A" if i % 2 else "B", "route": "/v1/chat/completions",
             "status": 500 if i == 1 else 200, "latency_s": 0.1 if i % 2 else 0.3, "user": str(i)} for i in range(40)]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    report = build_report(log)
    assert report["variants"]["A"]["errors"] == 1 and report["variants"]["A"]["error_rate"] == pytest.approx(1 / 20)
    assert report["variants"]["B"]["latency_p50_s"] == pytest.approx(0.3)
    assert report["versus_baseline"]["B"]["latency_p_value"] < 0.001  # every B slower than every A
    assert report["versus_baseline"]["B"]["error_p_value"] == pytest.approx(1.0)
    log.write_text("not json\n")
    assert ab_main(["--log", str(log), "--out", str(tmp_path / "o")]) == 2


def test_bad_flags_name_the_fix(tmp_path, capsys):
    with pytest.raises(ABConfigError, match="percentage"):
        parse_variant("B=local")
    with pytest.raises(ABConfigError, match="does not exist"):
        parse_variant(f"B=prompt:{tmp_path}/missing.txt@10%")
    with pytest.raises(ABConfigError, match="over 100"):
        ABRouter([Variant("B", 70), Variant("C", 40)])
    with pytest.raises(ABConfigError, match="no variant"):
        ABRouter.from_flags(["B=local@10%"], ["alice=C"])
    prompt = tmp_path / "b.txt"
    prompt.write_text("Be brief.\n")
    assert parse_variant(f"B=prompt:{prompt}@25%").system_prompt == "Be brief."
    assert parse_variant(f"B={prompt}@25%").system_prompt == "Be brief."
    explicit = ABRouter.from_flags([f"A=prompt:{prompt}@60%", "B=local@40%"])
    assert explicit.variants["A"].system_prompt == "Be brief." and explicit.variants["B"].model_spec == "local"
    with pytest.raises(ABConfigError, match="add up to 100"):
        ABRouter.from_flags([f"A=prompt:{prompt}@60%", "B=local@30%"])
    assert serve_main(["--ab", "B=nonsense-provider:x@10%"]) == 2
    assert "--ab" in capsys.readouterr().err


def test_docstring_examples_of_the_ab_and_load_test_modules():
    import doctest

    import evals.ab
    import evals.load_test
    import models.serving.ab

    for module in (models.serving.ab, evals.ab, evals.load_test):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
