"""The gateway's own cost, bounded loosely (no wall-clock bounds, which a busy machine would break):
how many SQL statements a keyed request runs, and the CPU time the layers add per request, with a
SCRIPTED model (evals.scripted_server, no weights). Plus the figures of evals.gateway_overhead and
evals.soak computed from known inputs."""

from __future__ import annotations

import doctest
import time

import pytest
from fastapi.testclient import TestClient

import evals.gateway_overhead
import evals.scripted_server
import evals.soak
from evals.gateway_overhead import summarize
from evals.scripted_server import build_app, layer_args
from evals.soak import growth

BODY = {"model": "scripted", "messages": [{"role": "user", "content": "How many days of annual leave do I get?"}]}


@pytest.mark.parametrize("module", [evals.gateway_overhead, evals.scripted_server, evals.soak])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def _client(tmp_path, layers):
    flags, key = layer_args(set(layers), tmp_path)
    options = {"keys_db": f"sqlite:///{tmp_path / 'keys.sqlite'}"} if "keys" in layers else {}
    if "metrics" in layers:
        options["metrics"] = True
    if "ab" in layers:
        options.update(ab=[f"B=prompt:{tmp_path / 'variant_b.txt'}@50%"], ab_log=str(tmp_path / "ab.jsonl"))
    app, model = build_app(**options)
    return TestClient(app), ({"Authorization": f"Bearer {key}"} if key else {}), app, model


def test_a_keyed_request_runs_a_bounded_number_of_sql_statements(tmp_path):
    """Key check, request bucket, token bucket, daily quota, charge: a handful of statements, not
    one per anything that grows (a lookup loop would show here long before it shows in latency)."""
    client, headers, app, _ = _client(tmp_path, {"keys", "metrics"})
    store = app.state.gateway.stores[-1]
    statements: list[str] = []
    connect = store._connect

    def traced_connect():
        conn = connect()
        conn.set_trace_callback(statements.append)
        return conn

    store._connect = traced_connect
    store._local.__dict__.clear()  # the creating thread's connection: reopen it traced
    for i in range(5):
        assert client.post("/v1/chat/completions", json={**BODY, "user": f"u{i}"}, headers=headers).status_code == 200
    statements.clear()
    for i in range(20):
        response = client.post("/v1/chat/completions", json={**BODY, "user": f"v{i}"}, headers=headers)
        assert response.status_code == 200
    per_request = len(statements) / 20
    selects = sum(1 for s in statements if s.lstrip().upper().startswith("SELECT")) / 20
    # admit: BEGIN IMMEDIATE, one SELECT (key, both buckets, today's usage), one upsert, COMMIT;
    # charge: BEGIN IMMEDIATE, one UPDATE (refill and spend in SQL), one upsert, COMMIT (was 19 and 5 SELECTs)
    assert per_request == 8, (per_request, statements[:16])
    assert selects == 1, selects
    begins = [s for s in statements if s.lstrip().upper().startswith("BEGIN")]
    assert len(begins) == 2 * 20, "two transactions per request: admit and charge"
    assert store.usage_today(store.list()[0].id) > 0  # tokens were charged, so the count covers the charge too


def test_the_layers_add_a_bounded_cpu_time_per_request(tmp_path):
    """Every layer on against none, in this process: CPU time (not wall time, which a loaded machine
    inflates) per request. Measured here on 2 shared cores: about 11 ms bare and 20-25 ms with every
    layer through TestClient; the bound is loose on purpose and fails on a per-request loop or a
    forgotten cache, not on a slow machine."""
    for name in ("bare", "all"):
        (tmp_path / name).mkdir()
    bare, bare_headers, _, _ = _client(tmp_path / "bare", set())
    full, full_headers, _, model = _client(tmp_path / "all", {"keys", "metrics", "ab"})

    def cpu_per_request(client, headers, n=40) -> float:
        for i in range(5):
            client.post("/v1/chat/completions", json={**BODY, "user": f"w{i}"}, headers=headers)
        t0 = time.process_time()
        for i in range(n):
            assert client.post("/v1/chat/completions", json={**BODY, "user": f"u{i}"}, headers=headers).status_code == 200
        return (time.process_time() - t0) / n * 1000

    bare_ms = min(cpu_per_request(bare, bare_headers) for _ in range(2))
    full_ms = min(cpu_per_request(full, full_headers) for _ in range(2))
    assert model.stats["invokes"] >= 80
    assert full_ms - bare_ms < 60, (bare_ms, full_ms)
    assert full_ms < 6 * bare_ms, (bare_ms, full_ms)


def test_summarize_reports_added_latency_against_the_in_process_baseline():
    times = {"in_process": [1.0] * 50, "bare": [3.0] * 50, "all": [4.0] * 45 + [40.0] * 5}
    rows = summarize(times, {"bare": 2.0, "all": 3.5})
    assert rows["bare"]["added_p50_ms"] == pytest.approx(2.0)
    assert rows["all"]["added_p50_ms"] == pytest.approx(3.0)
    assert rows["all"]["added_paired"]["median"] == pytest.approx(3.0)
    assert rows["all"]["layers_over_bare_paired"]["median"] == pytest.approx(1.0)
    assert rows["all"]["layers_cpu_ms_per_request"] == pytest.approx(1.5)
    assert rows["all"]["p95_ms"] > rows["all"]["p50_ms"]


def test_summarize_compares_each_client_and_checkout_with_its_own_bare():
    times = {"in_process": [1.0] * 20, "bare via stdlib": [2.0] * 20, "all via stdlib": [2.5] * 20,
             "bare@against via httpx": [3.0] * 20, "all@against via httpx": [5.0] * 20}
    rows = summarize(times, {}, {"in_process": 0.5, "all via stdlib": 0.3})
    assert rows["all via stdlib"]["layers_over_bare_paired"]["median"] == pytest.approx(0.5)
    assert rows["all@against via httpx"]["layers_over_bare_paired"]["median"] == pytest.approx(2.0)
    assert rows["all via stdlib"]["client_cpu_ms_per_request"] == pytest.approx(0.3)


def test_soak_growth_flags_a_leak_and_passes_a_plateau():
    leak = [{"t": t, "rss_mb": 100 + t * 0.05, "fds": 20 + t // 30, "threads": 8} for t in range(0, 600, 5)]
    flat = [{"t": t, "rss_mb": 100 + (3 if t > 60 else t / 20) + (t % 10) * 0.01, "fds": 20, "threads": 8}
            for t in range(0, 600, 5)]
    g = growth(leak, 120)
    assert g["rss_growth_pct"] > 5 and g["fds_growth"] > 10
    assert g["rss_slope_mb_per_10min"] == pytest.approx(30, rel=0.01)
    g = growth(flat, 120)
    assert abs(g["rss_growth_pct"]) < 1 and g["fds_growth"] == 0
    with pytest.raises(ValueError, match="run longer"):
        growth(flat[:3], 0)
