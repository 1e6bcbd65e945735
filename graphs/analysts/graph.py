"""Market analysts as a LangGraph supervisor graph.

    python -m apps.analysts "Daily report for ACME and CLDX on 2026-11-27"     # CLI, LangGraph team
    python -m apps.analysts --engine autogen "Daily report for ACME"          # the same tools as an AutoGen team
    python -m apps.analysts --ui                                              # Streamlit
    langgraph dev --no-browser                                                # graph "analysts" in Studio

    supervisor -> news_collector | sentiment_analyst | price_analyst | manager -> supervisor ... -> END

The supervisor picks the next analyst. With `model_routing` the model chooses among the analysts
whose inputs are ready (a constrained choice, so it can only name one of them); otherwise, or when
nobody else is left, it follows the natural order. The analysts call the market tools
(`tools.market`) over a data source (`tools.market_data`, sample data by default); the manager
writes a markdown report with a price chart and, with `model_notes`, one model-written sentence
per ticker, clearly marked as such.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, create_model

from graphs.analysts import prompts
from graphs.analysts.context import Context
from graphs.analysts.state import InputState, State
from models.messages import last_human_text

WORKERS = ["news_collector", "sentiment_analyst", "price_analyst", "manager"]
NEEDS = {"news_collector": [], "sentiment_analyst": ["news_collector"], "price_analyst": [],
         "manager": ["news_collector", "sentiment_analyst", "price_analyst"]}


def data_source():
    """The market data the analysts read; replace this function's result to use a live feed."""
    from tools.market_data import SampleMarketData

    return SampleMarketData()


def parse_request(text: str, context: Context) -> tuple[str, list[str]]:
    """(day, tickers) named in the request, else the context's defaults (see agents.market.report).

    >>> parse_request("report for acme and CLDX on 2026-11-20", Context(default_tickers="ACME,BRGT,CLDX"))
    ('2026-11-20', ['ACME', 'CLDX'])
    """
    from agents.market.report import parse_request as parse

    defaults = [t.strip() for t in context.default_tickers.split(",") if t.strip()]
    return parse(text, source=data_source(), default_tickers=defaults, default_day=context.default_day)


def ready(state: State) -> list[str]:
    return [w for w in WORKERS if w not in state.done and all(n in state.done for n in NEEDS[w])]


def supervisor(state: State, runtime: Runtime[Context]) -> Command:
    context = runtime.context or Context()
    update: dict = {}
    if not state.tickers:
        day, tickers = parse_request(last_human_text(state.messages), context)
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


def news_collector(state: State) -> dict:
    from agents.market.report import collect_headlines

    headlines = collect_headlines(data_source(), state.tickers, state.day)
    count = sum(map(len, headlines.values()))
    return {"headlines": headlines, "done": [*state.done, "news_collector"],
            "messages": [AIMessage(content=f"News collector: {count} headlines for {', '.join(state.tickers)} on {state.day}.",
                                   name="news_collector")]}


def sentiment_analyst(state: State) -> dict:
    from agents.market.report import score_sentiment

    sentiment = score_sentiment(state.headlines)
    summary = ", ".join(f"{t} {v['mean']:+.2f}" for t, v in sentiment.items())
    return {"sentiment": sentiment, "done": [*state.done, "sentiment_analyst"],
            "messages": [AIMessage(content=f"Sentiment analyst: {summary}.", name="sentiment_analyst")]}


def price_analyst(state: State, runtime: Runtime[Context]) -> dict:
    from agents.market.report import collect_price_statistics

    context = runtime.context or Context()
    prices = collect_price_statistics(data_source(), state.tickers, state.day, context.lookback_days)
    summary = ", ".join(f"{t} {p['change_pct']:+.1f}% ({p['trend']})" for t, p in prices.items())
    return {"prices": prices, "done": [*state.done, "price_analyst"],
            "messages": [AIMessage(content=f"Price analyst ({context.lookback_days} days): {summary}.", name="price_analyst")]}


def manager(state: State, runtime: Runtime[Context]) -> dict:
    from agents.market.report import Findings, write_report

    context = runtime.context or Context()
    findings = Findings(day=state.day, tickers=state.tickers, lookback_days=context.lookback_days,
                        headlines=state.headlines, sentiment=state.sentiment, prices=state.prices)
    note = (lambda ticker, company: _model_note(context, ticker, company, state)) if context.model_notes else None
    report, chart = write_report(data_source(), findings, context.out_dir, note)
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
