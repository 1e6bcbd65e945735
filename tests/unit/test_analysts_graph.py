"""The analyst teams' logic without a real model: the LangGraph supervisor's routing (fixed order,
and a scripted fake chat model's structured choice), the report, bad input, the CLI, and the
AutoGen team driven by AutoGen's scripted replay client. The Streamlit page is tested in
tests/integration/test_analysts_live.py."""

from __future__ import annotations

import asyncio
import json

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.runnables import RunnableLambda

import models
from tools.market_data import SampleMarketData, UnknownTickerError
from graphs.analysts.context import Context
from graphs.analysts.graph import graph

REQUEST = "Daily report for ACME and CLDX on 2026-11-27"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ScriptedFakeChatModel(FakeListChatModel):
    """Structured choices come from `choices`, in order; free text from `responses`. Remembers prompts."""

    choices: list = []
    prompts: list = []
    fail: bool = False

    def with_structured_output(self, schema, **kwargs):
        def choose(messages):
            self.prompts.append(messages[0].content)
            if self.fail:
                raise RuntimeError("scripted failure")
            return schema(next=self.choices.pop(0))

        return RunnableLambda(choose)

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        if self.fail:
            raise RuntimeError("scripted failure")
        return super()._call(messages, stop, run_manager, **kwargs)


@pytest.fixture
def stub_chart(monkeypatch):
    """Skips matplotlib (seconds on a busy machine) where a test is not about the chart."""
    import tools.market

    def write_stub_chart(source, tickers, end, days, path):
        from PIL import Image

        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 2), "white").save(path, format="PNG")
        return path

    monkeypatch.setattr(tools.market, "plot_prices", write_stub_chart)


def run_graph(request: str, tmp_path, **context) -> dict:
    return graph.invoke({"messages": [("human", request)]}, context=Context(out_dir=str(tmp_path), **context))


def test_fixed_order_routing_and_a_complete_report(tmp_path):
    state = run_graph(REQUEST, tmp_path, model_routing=False, model_notes=False)
    assert [r["next"] for r in state["routing"]] == ["news_collector", "sentiment_analyst", "price_analyst", "manager"]
    assert {r["decided_by"] for r in state["routing"]} == {"order"}
    assert state["routing"][0]["candidates"] == ["news_collector", "price_analyst"]  # both need nothing
    assert state["day"] == "2026-11-27" and state["tickers"] == ["ACME", "CLDX"]
    report = state["report"]
    rows = [line for line in report.splitlines() if line.startswith("| ") and not line.startswith("| ticker")]
    assert [row.split(" | ")[0] for row in rows] == ["| ACME", "| CLDX"]
    source = SampleMarketData()
    for ticker in ("ACME", "CLDX"):
        assert f"## {ticker} · {source.company(ticker)[0]}" in report
        for headline in source.headlines(ticker, "2026-11-27"):
            assert headline.title in report
    assert "Model note" not in report
    assert (tmp_path / "report-2026-11-27.md").read_text(encoding="utf-8") == report
    chart = tmp_path / "prices-2026-11-27.png"
    assert state["chart_path"] == str(chart) and chart.read_bytes()[:8] == PNG_MAGIC
    assert "![Closing prices](prices-2026-11-27.png)" in report


def test_scripted_model_choice_routes_the_team_and_writes_notes(tmp_path, monkeypatch, stub_chart):
    llm = ScriptedFakeChatModel(choices=["price_analyst"], prompts=[],
                                responses=["Acme looks steady today. More words here", "Cloudex dipped on the day."])
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: llm)
    state = run_graph(REQUEST, tmp_path)
    routing = state["routing"]
    assert [r["next"] for r in routing] == ["price_analyst", "news_collector", "sentiment_analyst", "manager"]
    assert routing[0]["decided_by"] == "model"
    assert [r["decided_by"] for r in routing[1:]] == ["order"] * 3  # one candidate left each time: no model call
    assert len(llm.prompts) == 1 and "Team members who can work next: news_collector, price_analyst" in llm.prompts[0]
    assert "*Model note:* Acme looks steady today." in state["report"]
    assert "More words" not in state["report"]  # a note is one sentence
    assert "*Model note:* Cloudex dipped on the day." in state["report"]


def test_a_failing_model_falls_back_to_order_and_the_report_stands(tmp_path, monkeypatch, stub_chart):
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: ScriptedFakeChatModel(responses=["x"], fail=True))
    state = run_graph("Daily report for ECOV on 2026-11-27", tmp_path)
    assert state["routing"][0]["decided_by"] == "order (model failed: RuntimeError)"
    assert "*Model note:* (no note: RuntimeError)" in state["report"]
    assert "| ECOV |" in state["report"]


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(UnknownTickerError, match="Unknown ticker ZZZZ. Pick from: ACME, BRGT, CLDX, DYNA, ECOV"):
        run_graph("Daily report for ZZZZ on 2026-11-27", tmp_path, model_routing=False)
    with pytest.raises(ValueError, match="'2026-13-45' is not a valid date: use YYYY-MM-DD"):
        run_graph("Daily report for ACME on 2026-13-45", tmp_path, model_routing=False)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_cli_prints_the_report_path_and_report_and_rejects_bad_input(tmp_path, monkeypatch, capsys, stub_chart):
    from apps.analysts import main

    llm = ScriptedFakeChatModel(choices=["news_collector"], responses=["Note."])
    monkeypatch.setattr(models, "load_chat_model", lambda spec=None: llm)
    assert main(["Daily report for DYNA on 2026-11-27", "--out", str(tmp_path), "--trace"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == str(tmp_path / "report-2026-11-27.md")
    assert out[1] == "# Daily market report, 2026-11-27"
    assert "supervisor -> news_collector (from news_collector, price_analyst; decided by model)" in out
    assert main(["Daily report for ACME and XYZQ", "--out", str(tmp_path)]) == 2
    assert "error: Unknown ticker XYZQ. Pick from: ACME" in capsys.readouterr().err


# -- the AutoGen team, with AutoGen's scripted replay client instead of a model ----------------------
def scripted_call(name: str, arguments: dict, n: int):
    from autogen_core import FunctionCall
    from autogen_core.models import CreateResult, RequestUsage

    return CreateResult(finish_reason="function_calls", usage=RequestUsage(prompt_tokens=0, completion_tokens=0),
                        cached=False,
                        content=[FunctionCall(id=f"call_{n}", name=name, arguments=json.dumps(arguments))])


def test_autogen_team_runs_the_four_roles_and_records_what_the_model_did(tmp_path, stub_chart):
    from autogen_ext.models.replay import ReplayChatCompletionClient

    from agents.market.autogen_team import build_team, served_model_info, tool_calls_in

    source = SampleMarketData()
    script = [("get_headlines", {"ticker": "ACME", "day": "2026-11-27"}),
              ("get_headlines", {"ticker": "ACME", "day": "2026-11-27"}),  # a small model repeating itself
              ("score_headlines", {"headlines": ["Acme beats estimates"]}),
              ("score_headlines", {"headlines": []}),
              ("get_price_statistics", {"ticker": "CLDX", "end": "2026-11-27", "days": 30}),
              ("get_price_statistics", {"ticker": "ZZZZ", "end": "2026-11-27", "days": 30}),  # a tool error
              ("write_daily_report", {"day": "2026-11-27", "tickers": ["ACME"]})]  # the wrong tickers
    client = ReplayChatCompletionClient([scripted_call(name, args, i) for i, (name, args) in enumerate(script)],
                                        model_info=served_model_info())
    written: dict = {}
    team = build_team(client, source, "2026-11-27", ["ACME", "CLDX"], 30, tmp_path, written)
    result = asyncio.run(team.run(task=REQUEST))

    assert result.stop_reason == "Text 'REPORT WRITTEN' mentioned"
    calls = tool_calls_in(result.messages)
    assert [(c["agent"], c["name"]) for c in calls] == [
        ("news_collector", "get_headlines"), ("news_collector", "get_headlines"),
        ("sentiment_analyst", "score_headlines"), ("sentiment_analyst", "score_headlines"),
        ("price_analyst", "get_price_statistics"), ("price_analyst", "get_price_statistics"),
        ("manager", "write_daily_report")]
    assert calls[2]["result"].startswith("mean sentiment +1.00 over 1 headlines")
    assert calls[5]["is_error"] and "Unknown ticker 'ZZZZ'" in calls[5]["result"]
    assert "as requested; the call asked for" in calls[6]["result"]
    # The report covers the request whatever the calls were.
    assert "| ACME |" in written["report"] and "| CLDX |" in written["report"]
    assert written["chart_path"] == str(tmp_path / "prices-2026-11-27.png")
    # Each model call ended with the next planned call: CLDX after ACME was done.
    prompts = [call["messages"][-1].content for call in client.create_calls]
    next_call = "Next, call the tool get_headlines with these arguments: "
    assert prompts[0] == next_call + '{"ticker": "ACME", "day": "2026-11-27"}'
    assert prompts[1] == next_call + '{"ticker": "CLDX", "day": "2026-11-27"}'
    assert prompts[-1].startswith('Next, call the tool write_daily_report with these arguments: {"day": "2026-11-27"')


def test_autogen_team_without_an_endpoint_names_the_fix(monkeypatch):
    from agents.market.autogen_team import ServeUrlMissing, served_url

    monkeypatch.delenv("HEARTH_SERVE_URL", raising=False)
    with pytest.raises(ServeUrlMissing, match="python -m apps.serve"):
        served_url()
    assert served_url("http://127.0.0.1:8008/v1/") == "http://127.0.0.1:8008"
    monkeypatch.setenv("HEARTH_SERVE_URL", "http://127.0.0.1:9000")
    assert served_url() == "http://127.0.0.1:9000"
