"""evals.soak, short: the gateway with every layer on and a SCRIPTED model (evals.scripted_server,
no weights) under 2 users for 25 s, with disconnects mid-stream; no request fails, memory, fds and
threads stay inside the bounds, and the curve is drawn."""

from __future__ import annotations

import json

import pytest

from evals.soak import main

pytestmark = pytest.mark.slow


def test_a_short_soak_passes_and_writes_its_curve(tmp_path):
    code = main(["--duration", "25", "--warmup", "8", "--users", "2", "--sample-s", "0.5",
                 "--max-rss-growth-pct", "10", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "soak.json").read_text())
    assert code == 0, report["failures"]
    counts = report["counts"]
    assert counts["errors"] == 0 and counts["requests"] >= 10, counts
    assert counts["abandon"] >= 1 and counts["stream"] >= 1 and counts["plain"] >= 1, counts
    assert report["growth"]["samples_after_warmup"] >= 6
    assert len(report["samples"]) >= 20 and all(s["rss_mb"] > 10 for s in report["samples"])
    assert (tmp_path / "soak.png").stat().st_size > 5000
    assert "Result: PASS" in (tmp_path / "soak.md").read_text()


def test_a_soak_refuses_an_unbounded_run(capsys):
    assert main(["--duration", "100000"]) == 2
    assert "--duration within 1-7200" in capsys.readouterr().err
