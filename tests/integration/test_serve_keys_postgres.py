"""Per-key limits hold across two apps.serve processes that share PostgreSQL: a key allowed N
requests per minute gets exactly N accepted out of a concurrent burst of 3N spread over both
servers (real servers on loopback, real MiniLM embeddings, real PostgreSQL; ./dev test sets TEST_POSTGRES_URL)."""

from __future__ import annotations

import asyncio
import os
import uuid
from contextlib import ExitStack
from urllib.parse import quote

import httpx
import pytest

from servers import free_port, python, running

pytestmark = pytest.mark.slow
URL = os.environ.get("TEST_POSTGRES_URL")


@pytest.fixture
def private_schema():
    if not URL:
        pytest.skip("TEST_POSTGRES_URL is not set: run the suite with ./dev test (it starts PostgreSQL)")
    import psycopg

    schema = f"gw_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in URL else "?"
    yield f"{URL}{separator}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_rate_limit_is_exact_across_two_processes(private_schema, tmp_path):
    from models.serving.keystore import open_key_store

    n = 5
    key, record = open_key_store(private_schema).create("shared", rpm=n)
    env = {"HEARTH_SERVE_CONCURRENCY": "100", "HEARTH_HOME": str(tmp_path)}
    with ExitStack() as stack:
        urls = []
        for i in range(2):
            port = free_port()
            stack.enter_context(running(python("-m", "apps.serve", "--port", str(port), "--keys-db", private_schema),
                                        f"http://127.0.0.1:{port}/health", env=env, timeout=120,
                                        log=tmp_path / f"serve{i}.log"))
            urls.append(f"http://127.0.0.1:{port}/v1/embeddings")

        async def burst():
            body = {"model": "local", "input": "How many days of annual leave do I get?"}
            async with httpx.AsyncClient(timeout=300, headers={"Authorization": f"Bearer {key}"}) as client:
                return await asyncio.gather(*[client.post(urls[i % 2], json=body) for i in range(3 * n)])

        responses = asyncio.run(burst())
    codes = [r.status_code for r in responses]
    assert sorted(codes) == [200] * n + [429] * (2 * n), [r.text[:200] for r in responses]
    limited = [r for r in responses if r.status_code == 429]
    assert all(int(r.headers["retry-after"]) >= 1 and r.json()["error"]["code"] == "rate_limit_exceeded" for r in limited)
    usage = open_key_store(private_schema).usage_today(record.id)
    assert usage > 0   # the accepted replies were charged to the shared daily counter


def test_one_transaction_admits_exactly_rpm_of_a_threaded_burst(private_schema):
    """store.admit (key check and request slot in one transaction) from 15 threads, each with its own
    connection, as 15 servers would: exactly rpm admitted, and a revoked key is refused at once."""
    import threading

    from models.serving.keystore import RateLimited, open_key_store

    key, record = open_key_store(private_schema).create("threads", rpm=5)
    outcomes: list[str] = []

    def admit() -> None:
        try:
            outcomes.append("ok" if open_key_store(private_schema).admit(key) is not None else "unknown")
        except RateLimited:
            outcomes.append("429")

    threads = [threading.Thread(target=admit) for _ in range(15)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["429"] * 10 + ["ok"] * 5, outcomes
    store = open_key_store(private_schema)
    store.revoke(record.id)
    assert store.admit(key) is None
