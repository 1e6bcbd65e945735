"""Both analyst teams on the real embedded model (SmolLM2-135M on llama.cpp): the LangGraph
supervisor graph in-process, and the AutoGen team through a real apps.serve on loopback HTTP;
and the Streamlit page (with the model switched off: routing by order, no notes).
The conftest's network guard fails the test if anything reaches beyond loopback (AutoGen included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.market_data import SampleMarketData

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ORDER_RULES = {"sentiment_analyst": "news_collector", "manager": "sentiment_analyst"}


def test_langgraph_team_on_the_embedded_model(tmp_path):
    from apps.analysts import run_langgraph_report

    result = run_langgraph_report("Daily report for ACME and CLDX on 2026-11-27", model="local?max_tokens=48",
                                  out_dir=tmp_path)
    routing = [r["next"] for r in result["routing"]]
    assert sorted(routing) == ["manager", "news_collector", "price_analyst", "sentiment_analyst"]
    for worker, needed in ORDER_RULES.items():  # the model chose, but only among analysts whose inputs were ready
        assert routing.index(needed) < routing.index(worker)
    assert routing[-1] == "manager" and result["routing"][0]["decided_by"] == "model"
    report = result["report"]
    assert "| ACME |" in report and "| CLDX |" in report
    notes = [line for line in report.splitlines() if line.startswith("*Model note:*")]
    assert len(notes) == 2 and not any("(no note" in n for n in notes)
    assert (tmp_path / "prices-2026-11-27.png").read_bytes()[:8] == PNG_MAGIC


def test_autogen_team_through_apps_serve_on_loopback(tmp_path, monkeypatch):
    from agents.market.autogen_team import run_autogen_report
    from apps.analysts import serve_model

    monkeypatch.delenv("HEARTH_SERVE_URL", raising=False)  # start apps.serve in-process on a free loopback port
    base_url, served_name = serve_model("local?max_tokens=96")
    result = run_autogen_report("Daily report for ACME on 2026-11-27", base_url=base_url, model=served_name,
                                out_dir=tmp_path)
    calls = result["tool_calls"]
    assert [(c["agent"], c["name"]) for c in calls] == [
        ("news_collector", "get_headlines"), ("sentiment_analyst", "score_headlines"),
        ("price_analyst", "get_price_statistics"), ("manager", "write_daily_report")]
    assert not any(c["is_error"] for c in calls)
    assert calls[0]["arguments"]["ticker"] == "ACME" and calls[2]["arguments"]["ticker"] == "ACME"
    headlines = [h.title for h in SampleMarketData().headlines("ACME", "2026-11-27")]
    copied = calls[1]["arguments"]["headlines"]  # the model copies from the plan, under the tool's schema
    assert copied and all(isinstance(h, str) for h in copied)
    assert calls[1]["result"].startswith("mean sentiment ") and f"over {len(copied)} headlines" in calls[1]["result"]
    assert result["manager_wrote_report"] and "REPORT WRITTEN" in result["stop_reason"]
    assert [m["source"] for m in result["transcript"] if m["type"] == "ToolCallSummaryMessage"] == [
        "news_collector", "sentiment_analyst", "price_analyst", "manager"]
    assert "| ACME |" in result["report"] and headlines[0] in result["report"]
    assert (tmp_path / "report-2026-11-27.md").exists()
    assert (tmp_path / "prices-2026-11-27.png").read_bytes()[:8] == PNG_MAGIC


def test_streamlit_page_shows_the_report_the_chart_and_the_routing(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("HEARTH_MODEL_ROUTING", "0")
    monkeypatch.setenv("HEARTH_MODEL_NOTES", "0")
    monkeypatch.setenv("HEARTH_REPORT_DIR", str(tmp_path))
    page = AppTest.from_file(str(ROOT / "apps" / "ui" / "analysts_page.py"), default_timeout=90).run()
    assert page.multiselect[0].value == ["ACME", "CLDX"] and page.radio[0].value == "langgraph"
    page.multiselect[0].set_value(["BRGT"])
    page.button[0].click().run()
    assert not page.exception and not page.error
    shown = "\n".join(m.value for m in page.markdown)
    assert "| BRGT |" in shown and "| ACME |" not in shown
    assert "![Closing prices]" not in shown  # the chart is shown as an image instead
    assert len(page.get("image")) == 1
    assert page.expander[0].label == "Supervisor's routing decisions (4)"
    assert (tmp_path / "report-2026-11-27.md").exists() and (tmp_path / "prices-2026-11-27.png").exists()
