"""apps.serve keys (SQLite store): hashed at rest, per-key requests/min and tokens/min buckets
exact under concurrency, daily quotas, 429 with Retry-After, revocation, the admin CLI, and the
Prometheus scrape. Scripted chat model (no weights)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi.testclient import TestClient
from langchain_core.messages import AIMessage

from models.serving.app import create_app
from models.serving.keystore import open_key_store
from models.serving.limits import ServerLimits

from test_serve import ScriptedChatModel, user


def reply(tokens: int = 4) -> AIMessage:
    return AIMessage(content="ok", usage_metadata={"input_tokens": tokens - 1, "output_tokens": 1,
                                                   "total_tokens": tokens})


@pytest.fixture
def store(tmp_path):
    return open_key_store(f"sqlite:///{tmp_path / 'keys.sqlite'}")


def app_with(store, replies=()):
    model = ScriptedChatModel(replies=list(replies), calls=[])
    limits = ServerLimits(concurrent_per_key=100)   # only the key's rate limits apply here
    return create_app("local", "local", chat_model=model, key_store=store, limits=limits), model


def chat(client, key):
    return client.post("/v1/chat/completions", json={"model": "local", "messages": user("hi")},
                       headers={"Authorization": f"Bearer {key}"})


def test_keys_are_hashed_at_rest_listed_and_revoked(store, tmp_path):
    key, record = store.create("team-a", rpm=10)
    assert key.startswith("hk-") and len(key) > 40
    assert key.encode() not in (tmp_path / "keys.sqlite").read_bytes()
    assert store.verify(key) == record and store.verify("hk-wrong") is None
    assert [r.name for r in store.list()] == ["team-a"]
    store.revoke(record.id)
    assert store.verify(key) is None
    with pytest.raises(KeyError, match="apps.keys list"):
        store.revoke(record.id)

    app, _ = app_with(store, ["x"])
    r = chat(TestClient(app), key)
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]


def test_requests_per_minute_are_exact_under_a_concurrent_burst(store):
    key, _ = store.create("burst", rpm=5)
    app, _ = app_with(store, [reply() for _ in range(15)])

    async def burst():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await asyncio.gather(*[client.post("/v1/chat/completions", json={"model": "local", "messages": user("hi")},
                                                      headers={"Authorization": f"Bearer {key}"}) for _ in range(15)])

    responses = asyncio.run(burst())
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 5 + [429] * 10
    limited = next(r for r in responses if r.status_code == 429)
    assert limited.json()["error"]["code"] == "rate_limit_exceeded" and "5 requests per minute" in limited.text
    assert 1 <= int(limited.headers["retry-after"]) <= 12


def test_tokens_per_minute_and_daily_quota(store):
    key, _ = store.create("tokens", tpm=10)
    app, _ = app_with(store, [reply(8), reply(8), reply(8)])
    client = TestClient(app)
    assert chat(client, key).status_code == 200     # 10 -> 2 left
    assert chat(client, key).status_code == 200     # 2 > 0: allowed, then 8 spent -> -6
    third = chat(client, key)
    assert third.status_code == 429 and "10 tokens per minute" in third.text
    assert int(third.headers["retry-after"]) >= 36  # 7 tokens at 10/min

    quota_key, quota = store.create("daily", daily_tokens=10)
    app, _ = app_with(store, [reply(6), reply(6), reply(6)])
    client = TestClient(app)
    assert chat(client, quota_key).status_code == 200 and chat(client, quota_key).status_code == 200
    over = chat(client, quota_key)
    assert over.status_code == 429 and "12 of 10 tokens used today" in over.text
    assert store.usage_today(quota.id) == 12


def test_the_server_key_and_store_keys_work_side_by_side(store):
    key, _ = store.create("team")
    model = ScriptedChatModel(replies=["a", "b"], calls=[])
    client = TestClient(create_app("local", "local", api_key="server-key", chat_model=model, key_store=store))
    assert chat(client, "server-key").status_code == 200 and chat(client, key).status_code == 200
    assert chat(client, "nope").status_code == 401


def test_metrics_scrape_counts_requests_tokens_and_time_to_first_token(store):
    key, _ = store.create("metered")
    app, _ = app_with(store, [reply(4), "one two three"])
    client = TestClient(app)
    assert chat(client, key).status_code == 200
    streamed = client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                           json={"model": "local", "messages": user("hi"), "stream": True})
    assert streamed.status_code == 200
    client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                json={"model": "gpt-4o", "messages": user("hi")})
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).text
    assert 'hearth_requests_total{key="metered",model="local",route="/v1/chat/completions",status="200"} 2.0' in text
    assert 'hearth_errors_total{key="metered",model="-",route="/v1/chat/completions",status="404"} 1.0' in text
    assert 'hearth_tokens_total{key="metered",kind="prompt",model="local"} 4.0' in text   # 3 reported + 1 counted
    assert 'hearth_time_to_first_token_seconds_count{model="local"} 1.0' in text
    assert "hearth_request_seconds_bucket" in text and key not in text


def test_admin_cli_creates_lists_and_revokes(tmp_path, capsys):
    from apps.keys import main

    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    assert main(["--db", db, "create", "team-b", "--rpm", "60", "--daily-tokens", "1000"]) == 0
    created = capsys.readouterr().out
    key = created.strip().splitlines()[-1]
    key_id = created.split()[2]
    assert key.startswith("hk-")
    assert main(["--db", db, "list"]) == 0
    listed = capsys.readouterr().out
    assert "team-b" in listed and "rpm 60" in listed and key not in listed
    assert main(["--db", db, "revoke", key_id]) == 0 and "Revoked" in capsys.readouterr().out
    assert main(["--db", db, "revoke", key_id]) == 1 and "No active key" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--db", db, "create", "bad", "--rpm", "0"])


def test_the_grafana_dashboard_queries_only_metrics_the_server_exports(store):
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "hearth-gateway.json").read_text())
    queried = {name for p in dashboard["panels"] for t in p["targets"] for name in re.findall(r"hearth_[a-z_]+", t["expr"])}
    assert len(queried) == 8
    key, _ = store.create("scraper")
    app, _ = app_with(store, [reply(4)])
    text = TestClient(app).get("/metrics", headers={"Authorization": f"Bearer {key}"}).text
    exported = set(re.findall(r"^# TYPE (\S+) (\w+)", text, re.M))
    names = {n for n, _ in exported} | {f"{n}_total" for n, kind in exported if kind == "counter"} | \
        {f"{n}_bucket" for n, kind in exported if kind == "histogram"}
    assert queried <= names, queried - names


def test_a_revoked_key_is_refused_on_its_very_next_request(store):
    """The key is read inside the admitting transaction on every request (no cache), so revocation
    takes effect at once, in this server and in every other that shares the database."""
    key, record = store.create("leaver", rpm=100)
    app, _ = app_with(store, [reply(), reply()])
    client = TestClient(app)
    assert chat(client, key).status_code == 200
    store.revoke(record.id)
    refused = chat(client, key)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"


def test_a_request_refused_for_tokens_takes_no_request_slot(store):
    key, record = store.create("both", rpm=3, tpm=10)
    app, _ = app_with(store, [reply(30)] + [reply(1) for _ in range(5)])
    client = TestClient(app)
    assert chat(client, key).status_code == 200          # 30 tokens spent: the tokens bucket is at -20
    for _ in range(3):
        assert chat(client, key).status_code == 429       # refused for tokens, in the same transaction
    with store._transaction() as tx:
        (level,) = tx.execute("SELECT level FROM key_buckets WHERE key_id = ? AND kind = 'requests'",
                              (record.id,)).fetchone()
    assert level >= 2.0 - 1e-9, level  # the first request's slot only (refills only add)


def test_a_key_whose_bucket_row_is_missing_is_served_and_the_row_restored(store):
    key, record = store.create("old", rpm=2)
    with store._transaction() as tx:
        tx.execute("DELETE FROM key_buckets WHERE key_id = ?", (record.id,))
    app, _ = app_with(store, [reply() for _ in range(3)])
    client = TestClient(app)
    assert [chat(client, key).status_code for _ in range(3)] == [200, 200, 429]
