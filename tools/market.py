"""The market analysts' tools, over any `MarketDataSource` (sample data by default).

    from tools.market import market_tools
    tools = {t.name: t for t in market_tools()}
    tools["get_headlines"].invoke({"ticker": "ACME", "day": "2026-11-27"})
    tools["price_statistics"].invoke({"ticker": "ACME", "end": "2026-11-27", "days": 30})

Sentiment is scored with a small finance word list (positive / negative terms, in the spirit of
the Loughran-McDonald lists), so the score is reproducible and explainable; a larger model can
be asked to judge headlines instead.
"""

from __future__ import annotations

import re
import statistics
from datetime import date
from pathlib import Path

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

POSITIVE = {"beats", "beat", "wins", "win", "upgrade", "upgrades", "raises", "raise", "buyback", "expands", "growth",
            "record", "strong", "surge", "gains", "profit", "approval", "partnership"}
NEGATIVE = {"misses", "miss", "recalls", "recall", "inquiry", "cuts", "cut", "resigns", "delay", "delays", "weak",
            "lawsuit", "loss", "losses", "downgrade", "falls", "probe", "problems", "fraud"}


def headline_sentiment(title: str) -> float:
    """-1..1 from counts of positive and negative finance terms.

    >>> headline_sentiment("Acme beats expectations and raises guidance"), headline_sentiment("Acme misses estimates")
    (1.0, -1.0)
    """
    words = re.findall(r"[a-z]+", title.lower())
    good, bad = sum(w in POSITIVE for w in words), sum(w in NEGATIVE for w in words)
    return 0.0 if good == bad == 0 else (good - bad) / (good + bad)


def _checked_day(day: str) -> str:
    try:
        return date.fromisoformat(day).isoformat()
    except ValueError:
        raise ValueError(f"{day!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-27.") from None


class TickerDay(BaseModel):
    ticker: str = Field(description="Stock ticker, e.g. ACME")
    day: str = Field(description="Date as YYYY-MM-DD")


class TickerWindow(BaseModel):
    ticker: str = Field(description="Stock ticker, e.g. ACME")
    end: str = Field(description="Last day as YYYY-MM-DD")
    days: int = Field(30, ge=2, le=250, description="Trading days to look back")


class Headlines(BaseModel):
    headlines: list[str] = Field(description="Headlines to score", max_length=50)


def price_statistics(source, ticker: str, end: str, days: int = 30) -> dict:
    prices = source.prices(ticker, _checked_day(end), days)
    closes = [p.close for p in prices]
    returns = [b / a - 1 for a, b in zip(closes, closes[1:])]
    short = statistics.fmean(closes[-5:])
    long = statistics.fmean(closes)
    return {"ticker": ticker.upper(), "first_day": prices[0].day, "last_day": prices[-1].day, "last_close": closes[-1],
            "change_pct": round(100 * (closes[-1] / closes[0] - 1), 2),
            "day_change_pct": round(100 * returns[-1], 2) if returns else 0.0,
            "volatility_pct": round(100 * statistics.pstdev(returns), 2) if len(returns) > 1 else 0.0,
            "sma5": round(short, 2), "sma_window": round(long, 2),
            "trend": "up" if short > long * 1.005 else "down" if short < long * 0.995 else "flat"}


def plot_prices(source, tickers: list[str], end: str, days: int, path: str | Path) -> Path:
    """A PNG of the closing prices, each rebased to 100 on the first day so tickers compare."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for ticker in tickers:
        prices = source.prices(ticker, _checked_day(end), days)
        base = prices[0].close
        ax.plot([date.fromisoformat(p.day) for p in prices], [100 * p.close / base for p in prices], label=ticker.upper())
    ax.set_title(f"Closing prices, rebased to 100 ({days} trading days to {end})")
    ax.set_ylabel("index")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def market_tools(source=None) -> list[StructuredTool]:
    from tools.market_data import SampleMarketData

    source = source or SampleMarketData()

    def get_headlines(ticker: str, day: str) -> str:
        found = source.headlines(ticker, _checked_day(day))
        return "\n".join(f"- {h.title} ({h.source})" for h in found) or f"No headlines for {ticker} on {day}."

    def score_headlines(headlines: list[str]) -> str:
        scored = [(headline_sentiment(h), h) for h in headlines]
        mean = statistics.fmean(s for s, _ in scored) if scored else 0.0
        lines = [f"{s:+.2f} {h}" for s, h in scored]
        return f"mean sentiment {mean:+.2f} over {len(scored)} headlines\n" + "\n".join(lines)

    def get_price_statistics(ticker: str, end: str, days: int = 30) -> str:
        s = price_statistics(source, ticker, end, days)
        return (f"{s['ticker']}: close {s['last_close']} on {s['last_day']}, {s['change_pct']:+.2f}% over {days} days, "
                f"{s['day_change_pct']:+.2f}% on the day, daily volatility {s['volatility_pct']}%, "
                f"5-day average {s['sma5']} vs {days}-day {s['sma_window']} (trend {s['trend']})")

    return [
        StructuredTool.from_function(get_headlines, name="get_headlines", args_schema=TickerDay,
                                     description="News headlines about a company on one day."),
        StructuredTool.from_function(score_headlines, name="score_headlines", args_schema=Headlines,
                                     description="Score headlines' sentiment from -1 (negative) to +1 (positive)."),
        StructuredTool.from_function(get_price_statistics, name="get_price_statistics", args_schema=TickerWindow,
                                     description="Price change, volatility and trend of a stock over recent days."),
    ]
