"""Streamlit page: the market analysts' daily report (tickers, day, LangGraph or AutoGen team),
with the price chart and what the team did. Start it with `python -m apps.analysts --ui`."""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project root (see apps/ui/__init__.py)

import models  # noqa: E402,F401  (offline switches first)
from models.settings import configured_model  # noqa: E402
import streamlit as st  # noqa: E402

from tools.market_data import SampleMarketData  # noqa: E402
from apps.analysts import ENGINES, run_report, trace_lines  # noqa: E402

ENGINE_LABELS = {"langgraph": "LangGraph supervisor graph", "autogen": "AutoGen AgentChat team (via apps.serve)"}


def settings() -> tuple[str, str, str]:
    with st.sidebar:
        st.header("Settings")
        engine = st.radio("Engine", ENGINES, format_func=ENGINE_LABELS.get, key="engine")
        model = st.text_input("Model spec", value=configured_model(), key="model",
                              help="e.g. local, local?max_tokens=96, ollama:qwen2.5:7b")
        out_dir = st.text_input("Report folder", value=os.environ.get("HEARTH_REPORT_DIR", "out/analysts"), key="out")
    return engine, model, out_dir


def show_trace(result: dict) -> None:
    if result["engine"] == "langgraph":
        with st.expander(f"Supervisor's routing decisions ({len(result['routing'])})"):
            st.table([{"next": r["next"], "candidates": ", ".join(r["candidates"]), "decided by": r["decided_by"]}
                      for r in result["routing"]])
            for m in result["messages"][1:-1]:  # the analysts' notes between the request and the report
                st.markdown(f"**{m['name']}**: {m['content']}")
        return
    label = f"AutoGen transcript ({len(result['transcript'])} messages, {len(result['tool_calls'])} tool calls)"
    with st.expander(label):
        st.caption(f"Stopped: {result['stop_reason']} · manager called its tool: {result['manager_wrote_report']}")
        st.code("\n".join(trace_lines(result)) or "(no tool calls)", language="text")
        for m in result["transcript"]:
            content = m["content"] if isinstance(m["content"], str) else json.dumps(m["content"], indent=1)
            st.markdown(f"**{m['source']}** · `{m['type']}`")
            st.text(content[:1500])


def main() -> None:
    st.set_page_config(page_title="Hearth · market analysts", page_icon="📈")
    st.title("Market analysts")
    engine, model, out_dir = settings()
    source = SampleMarketData()
    tickers = st.multiselect("Tickers", source.tickers(), default=["ACME", "CLDX"],
                             format_func=lambda t: f"{t} · {source.company(t)[0]}")
    day = st.date_input("Day", value=date(2026, 11, 27), min_value=date(2025, 1, 2))
    st.caption("Sample data: invented companies, seeded prices and headlines (tools/market_data.py).")
    if not st.button("Write the daily report", type="primary"):
        return
    if not tickers:
        st.error("Pick at least one ticker.")
        return
    request = f"Daily report for {' and '.join(tickers)} on {day.isoformat()}"
    with st.spinner(f"{ENGINE_LABELS[engine]} at work on: {request}"):
        try:
            result = run_report(request, engine=engine, model=model, out_dir=out_dir)
        except Exception as exc:  # noqa: BLE001 - shown with its fix
            st.error(f"{type(exc).__name__}: {exc}")
            return
    st.caption(f"Saved to {result['report_path']}")
    chart_link = f"![Closing prices]({Path(result['chart_path']).name})"
    before, _, after = result["report"].partition(chart_link)
    st.markdown(before)
    st.image(result["chart_path"])
    st.markdown(after)
    show_trace(result)


main()
