"""Smoke test of evals.bench_llm on the bundled model: one thread, idle, raw vs. framework, and
the tool-call check on a few requests (well under a minute on 2 cores)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_bench_llm_quick(tmp_path, capsys):
    pytest.importorskip("llama_cpp")
    from evals.bench_llm import main

    report = main(["--quick", "--out", str(tmp_path), "--threads", "1", "--loads", "idle",
                   "--skip-transformers", "--tool-requests", "5", "--tool-modes", "constrained_auto", "constrained_any"])

    data = json.loads((tmp_path / "bench_llm.json").read_text())
    markdown = (tmp_path / "bench_llm.md").read_text()
    assert "| condition |" in markdown and "## Tool calls" in markdown
    assert markdown in capsys.readouterr().out

    (condition,) = data["throughput"]["conditions"]
    assert data["throughput"]["prompt_tokens"] > 100
    for path in ("a", "b"):
        run = condition["runs"][path][0]
        assert run["completion_tokens"] == 32
        assert run["decode_tps"] > 0 and run["prefill_tps"] > 0
        assert condition["median"][path]["decode_tps"] > 0

    summary = data["tool_calls"]["summary"]
    for mode in ("constrained_auto", "constrained_any"):
        invalid = [(r["request"], r.get("error")) for r in data["tool_calls"]["results"][mode] if not r["valid"]]
        assert summary[mode]["n"] == 5
        assert summary[mode]["valid"] == 5, f"{mode}: {invalid}"
    assert summary["constrained_any"]["chose_tool"] == 5
    assert report["elapsed_s"] > 0
