"""Market analysts as a LangGraph supervisor graph.

    python -m apps.analysts "Daily report for ACME and CLDX on 2026-11-27"     # CLI, LangGraph team
    python -m apps.analysts --engine autogen "Daily report for ACME"          # the same tools as an AutoGen team
    python -m apps.analysts --ui                                              # Streamlit
    langgraph dev --no-browser                                                # graph "analysts" in Studio

    supervisor -> news_collector | sentiment_analyst | price_analyst | manager -> supervisor ... -> END

The supervisor picks the next analyst. With `model_routing` the model chooses among the analysts
whose inputs are ready (a constrained choice, so it can only name one of them); otherwise, or when
nobody else is left, it follows the natural order. The analysts call the market tools
(`tools.market`) over a data source (`agents.market.data`, sample data by default); the manager
writes a markdown report with a price chart and, with `model_notes`, one model-written sentence
per ticker, clearly marked as such.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, create_model

from graphs.analysts import prompts
from graphs.analysts.context import Context
from graphs.analysts.state import InputState, State

WORKERS = ["news_collector", "sentiment_analyst", "price_analyst", "manager"]
NEEDS = {"news_collector": [], "sentiment_analyst": ["news_collector"], "price_analyst": [],
         "manager": ["news_collector", "sentiment_analyst", "price_analyst"]}


def data_source():
    """The market data the analysts read; replace this function's result to use a live feed."""
    from agents.market.data import SampleMarketData

    return SampleMarketData()


def parse_request(text: str, context: Context) -> tuple[str, list[str]]:
    """(day, tickers) named in the request, else the context's defaults.

    >>> parse_request("report for acme and CLDX on 2026-11-20", Context(default_tickers="ACME,BRGT,CLDX"))
    ('2026-11-20', ['ACME', 'CLDX'])
    """
    known = [t.strip().upper() for t in context.default_tickers.split(",") if t.strip()]
    known += [t for t in data_source().tickers() if t not in known]
    named = [t for t in known if re.search(rf"\b{t}\b", text, flags=re.IGNORECASE)]
    defaults = [t.strip().upper() for t in context.default_tickers.split(",") if t.strip()]
    found = re.search(r"\d{4}-\d{2}-\d{2}", text)
    day = found.group(0) if found else context.default_day
    date.fromisoformat(day)  # raises ValueError naming the bad date
    return day, named or defaults


def ready(state: State) -> list[str]:
    return [w for w in WORKERS if w not in state.done and all(n in state.done for n in NEEDS[w])]


def supervisor(state: State, runtime: Runtime[Context]) -> Command:
    context = runtime.context or Context()
    update: dict = {}
    if not state.tickers:
        text = next((m.content for m in reversed(state.messages) if m.type == "human"), "")
        day, tickers = parse_request(str(text), context)
        update.update(day=day, tickers=tickers)
    candidates = ready(state)
    if not candidates:
        return Command(goto=END, update=update)
    choice, decided_by = candidates[0], "order"
    if context.model_routing and len(candidates) > 1:
        from models import load_chat_model

        Choice: type[BaseModel] = create_model("NextAnalyst", next=(Literal[tuple(candidates)], ...))
        try:
            picked = load_chat_model(context.model).with_structured_output(Choice).invoke(
                [HumanMessage(prompts.SUPERVISOR_PROMPT.format(done=", ".join(state.done) or "nobody",
                                                               candidates=", ".join(candidates)))])
            choice, decided_by = picked.next, "model"
        except Exception as exc:  # noqa: BLE001 - a failed choice falls back to the natural order
            decided_by = f"order (model failed: {type(exc).__name__})"
    update["routing"] = [*state.routing, {"next": choice, "candidates": candidates, "decided_by": decided_by}]
    return Command(goto=choice, update=update)


def _tools():
    from tools.market import market_tools

    return {t.name: t for t in market_tools(data_source())}


def news_collector(state: State) -> dict:
    tools = _tools()
    headlines = {}
    for ticker in state.tickers:
        text = tools["get_headlines"].invoke({"ticker": ticker, "day": state.day})
        headlines[ticker] = [line[2:].rsplit(" (", 1)[0] for line in text.splitlines() if line.startswith("- ")]
    count = sum(map(len, headlines.values()))
    return {"headlines": headlines, "done": [*state.done, "news_collector"],
            "messages": [AIMessage(content=f"News collector: {count} headlines for {', '.join(state.tickers)} on {state.day}.",
                                   name="news_collector")]}


def sentiment_analyst(state: State) -> dict:
    from tools.market import headline_sentiment

    sentiment = {}
    for ticker, titles in state.headlines.items():
        scored = [[headline_sentiment(t), t] for t in titles]
        mean = sum(s for s, _ in scored) / len(scored) if scored else 0.0
        sentiment[ticker] = {"mean": round(mean, 2), "scored": scored}
    summary = ", ".join(f"{t} {v['mean']:+.2f}" for t, v in sentiment.items())
    return {"sentiment": sentiment, "done": [*state.done, "sentiment_analyst"],
            "messages": [AIMessage(content=f"Sentiment analyst: {summary}.", name="sentiment_analyst")]}


def price_analyst(state: State, runtime: Runtime[Context]) -> dict:
    from tools.market import price_statistics

    context = runtime.context or Context()
    source = data_source()
    prices = {t: price_statistics(source, t, state.day, context.lookback_days) for t in state.tickers}
    summary = ", ".join(f"{t} {p['change_pct']:+.1f}% ({p['trend']})" for t, p in prices.items())
    return {"prices": prices, "done": [*state.done, "price_analyst"],
            "messages": [AIMessage(content=f"Price analyst ({context.lookback_days} days): {summary}.", name="price_analyst")]}


def signal(sentiment: float, price: dict) -> str:
    """A plain rule, stated in the report: news tone and price trend agreeing, or not."""
    trend = {"up": 1, "down": -1}.get(price["trend"], 0)
    tone = 1 if sentiment > 0.2 else -1 if sentiment < -0.2 else 0
    if tone and tone == trend:
        return "positive" if tone > 0 else "negative"
    return "mixed" if tone or trend else "neutral"


def manager(state: State, runtime: Runtime[Context]) -> dict:
    from tools.market import plot_prices

    context = runtime.context or Context()
    source = data_source()
    out = Path(context.out_dir)
    chart = plot_prices(source, state.tickers, state.day, context.lookback_days, out / f"prices-{state.day}.png")
    lines = [f"# Daily market report, {state.day}", "",
             f"Tickers: {', '.join(state.tickers)} · prices over {context.lookback_days} trading days · "
             f"signal = news tone and price trend agreeing", "",
             "| ticker | close | day | period | trend | volatility | news tone | signal |",
             "|---|---:|---:|---:|---|---:|---:|---|"]
    for t in state.tickers:
        p, s = state.prices[t], state.sentiment.get(t, {"mean": 0.0, "scored": []})
        lines.append(f"| {t} | {p['last_close']:.2f} | {p['day_change_pct']:+.2f}% | {p['change_pct']:+.2f}% | {p['trend']} | "
                     f"{p['volatility_pct']:.2f}% | {s['mean']:+.2f} | {signal(s['mean'], p)} |")
    lines += ["", f"![Closing prices]({chart.name})", ""]
    for t in state.tickers:
        company, _ = source.company(t) if hasattr(source, "company") else (t, "")
        lines.append(f"## {t} · {company}")
        for score, title in state.sentiment.get(t, {}).get("scored", []):
            lines.append(f"- {title} ({score:+.1f})")
        if context.model_notes:
            lines.append(f"\n*Model note:* {_model_note(context, t, company, state)}")
        lines.append("")
    report = "\n".join(lines)
    (out / f"report-{state.day}.md").write_text(report, encoding="utf-8")
    return {"report": report, "chart_path": str(chart), "done": [*state.done, "manager"],
            "messages": [AIMessage(content=report, name="manager")]}


def _model_note(context: Context, ticker: str, company: str, state: State) -> str:
    from models import load_chat_model

    p, s = state.prices[ticker], state.sentiment.get(ticker, {"mean": 0.0, "scored": []})
    headline = s["scored"][0][1] if s["scored"] else "none"
    price = f"{p['change_pct']:+.1f}% over the period, trend {p['trend']}"
    try:
        reply = load_chat_model(f"{context.model}" if "?" in context.model else f"{context.model}?max_tokens=48").invoke(
            [HumanMessage(prompts.NOTE_PROMPT.format(ticker=ticker, company=company, price=price,
                                                     sentiment=s["mean"], headline=headline))])
        text = " ".join(str(reply.content).split())
        return text[: text.find(".") + 1] if "." in text else text or "(no note)"
    except Exception as exc:  # noqa: BLE001 - the report stands without the note
        return f"(no note: {type(exc).__name__})"


builder = StateGraph(State, input_schema=InputState, context_schema=Context)
builder.add_node(supervisor, destinations=(*WORKERS, END))
builder.add_node(news_collector)
builder.add_node(sentiment_analyst)
builder.add_node(price_analyst)
builder.add_node(manager)
builder.add_edge(START, "supervisor")
for worker in WORKERS:
    builder.add_edge(worker, "supervisor")

graph = builder.compile(name="analysts")
