"""evals.load_test's aggregation of locust records (no servers started here)."""

from __future__ import annotations

import pytest

from evals.load_test import aggregate, main, ratios, to_markdown


def records():
    ok = [{"status": 200, "latency_s": 1.0 + i / 10, "ttft_s": 0.1 * (i + 1), "chunks": 5, "error": None}
          for i in range(10)]
    return ok + [{"status": 429, "latency_s": 0.01, "ttft_s": None, "chunks": 0, "error": None},
                 {"status": 503, "latency_s": 0.02, "ttft_s": None, "chunks": 0, "error": None},
                 {"status": None, "latency_s": 0.5, "ttft_s": None, "chunks": 0, "error": "ConnectionError: reset"}]


def test_aggregate_counts_percentiles_and_rss_growth():
    r = aggregate(records(), seconds=5.0, rss_mb=[200.0, 230.0, 210.0])
    assert (r["requests"], r["ok"], r["errors"]) == (13, 10, 3)
    assert (r["rate_limited_429"], r["server_errors_5xx"], r["connection_errors"]) == (1, 1, 1)
    assert r["throughput_rps"] == pytest.approx(2.0) and r["chunks_per_s"] == pytest.approx(10.0)
    assert r["latency_p50_s"] == pytest.approx(1.45)  # failures do not count in latency
    assert r["ttft_p95_s"] == pytest.approx(0.955)
    assert r["rss_max_mb"] == 230.0 and r["rss_growth_pct"] == pytest.approx(5.0)
    assert r["error_kinds"] == {"HTTP 429": 1, "HTTP 503": 1, "ConnectionError: reset": 1}


def test_ratios_and_markdown():
    ours, theirs = aggregate(records(), 5.0, [100.0]), aggregate(records()[:5], 5.0, [100.0])
    got = ratios(ours, theirs)
    assert got["throughput"] == pytest.approx(2.0)
    report = {"config": {"users": 2, "seconds": 5, "threads": 2, "max_tokens": 16, "gguf": "/m/x.gguf"},
              "servers": {"hearth": ours, "llama_cpp": theirs}, "ratios": got, "note": "shared machine"}
    text = to_markdown(report)
    assert "| hearth | 13 | 10 | 3 | 1 | 1 | 2.000 |" in text and "throughput 2.000x" in text
    assert aggregate([], 5.0, [])["latency_p50_s"] is None


def test_unbounded_or_unknown_settings_are_refused(capsys):
    assert main(["--users", "1000"]) == 2
    assert main(["--systems", "vllm"]) == 2
    assert "vllm" in capsys.readouterr().err
