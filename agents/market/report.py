"""The analysts' daily report: reading a request, each analyst's findings, and the written report.

Both teams (the LangGraph supervisor graph in graphs/analysts, the AutoGen team in
agents/market/autogen_team.py) use these functions, so they find the same things and write the
same report.

    from tools.market_data import SampleMarketData
    from agents.market.report import parse_request, collect_findings, write_report
    source = SampleMarketData()
    day, tickers = parse_request("Daily report for ACME and CLDX on 2026-11-27", source=source)
    findings = collect_findings(source, day, tickers, lookback_days=30)
    report, chart = write_report(source, findings, out_dir="out/analysts")   # report-<day>.md + prices-<day>.png
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

# Capitalised words in a request that are not tickers (so "Daily report for ACME, USD view" works).
NOT_TICKERS = {"USD", "EUR", "GBP", "CEO", "CFO", "IPO", "ETF", "NYSE", "AND", "FOR", "THE", "EOD", "YTD", "PNG", "UTC"}


def checked_day(day: str) -> str:
    """The day as YYYY-MM-DD, or a ValueError that says how to write it.

    >>> checked_day("2026-11-27")
    '2026-11-27'
    """
    try:
        return date.fromisoformat(str(day).strip()).isoformat()
    except ValueError:
        raise ValueError(f"{day!r} is not a valid date: use YYYY-MM-DD, e.g. 2026-11-27.") from None


def checked_tickers(tickers: list[str], source) -> list[str]:
    """Upper-cased tickers the source knows, in order, without repeats; an unknown one is an error."""
    from tools.market_data import UnknownTickerError

    known = source.tickers()
    wanted = list(dict.fromkeys(t.strip().upper() for t in tickers if t.strip()))
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise UnknownTickerError(f"Unknown ticker{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}. "
                                 f"Pick from: {', '.join(known)}.")
    if not wanted:
        raise ValueError(f"No tickers given. Pick from: {', '.join(known)}.")
    return wanted


def parse_request(text: str, *, source, default_tickers: list[str] | None = None,
                  default_day: str = "2026-11-27") -> tuple[str, list[str]]:
    """(day, tickers) named in a request, else the defaults. A ticker-like word (3-5 capitals) the
    source does not know, or a malformed date, is an error rather than a silent default.

    >>> from tools.market_data import SampleMarketData
    >>> parse_request("report for acme and CLDX on 2026-11-20", source=SampleMarketData())
    ('2026-11-20', ['ACME', 'CLDX'])
    """
    known = source.tickers()
    named = [t for t in known if re.search(rf"\b{t}\b", text, flags=re.IGNORECASE)]
    unknown = [w for w in re.findall(r"\b[A-Z]{3,5}\b", text) if w not in known and w not in NOT_TICKERS]
    if unknown:
        checked_tickers(unknown, source)  # raises, naming the known tickers
    found = re.search(r"\b\d{4}-\d{1,2}-\d{1,2}\b", text)
    day = checked_day(found.group(0) if found else default_day)
    return day, checked_tickers(named or default_tickers or known, source)


# -- what each analyst finds ---------------------------------------------------------------------
def collect_headlines(source, tickers: list[str], day: str) -> dict[str, list[str]]:
    """The news collector's work: ticker -> that day's headline titles."""
    return {t: [h.title for h in source.headlines(t, checked_day(day))] for t in tickers}


def score_sentiment(headlines: dict[str, list[str]]) -> dict[str, dict]:
    """The sentiment analyst's work: ticker -> {"mean": -1..1, "scored": [[score, title], ...]}."""
    from tools.market import headline_sentiment

    out = {}
    for ticker, titles in headlines.items():
        scored = [[headline_sentiment(t), t] for t in titles]
        out[ticker] = {"mean": round(statistics.fmean(s for s, _ in scored), 2) if scored else 0.0, "scored": scored}
    return out


def collect_price_statistics(source, tickers: list[str], day: str, lookback_days: int) -> dict[str, dict]:
    """The price analyst's work: ticker -> `tools.market.price_statistics`."""
    from tools.market import price_statistics

    return {t: price_statistics(source, t, day, lookback_days) for t in tickers}


@dataclass(kw_only=True)
class Findings:
    day: str
    tickers: list[str]
    lookback_days: int = 30
    headlines: dict[str, list[str]] = field(default_factory=dict)
    sentiment: dict[str, dict] = field(default_factory=dict)
    prices: dict[str, dict] = field(default_factory=dict)


def collect_findings(source, day: str, tickers: list[str], lookback_days: int = 30) -> Findings:
    """All three analysts' findings, straight from the data source."""
    headlines = collect_headlines(source, tickers, day)
    return Findings(day=day, tickers=tickers, lookback_days=lookback_days, headlines=headlines,
                    sentiment=score_sentiment(headlines),
                    prices=collect_price_statistics(source, tickers, day, lookback_days))


# -- the manager's report ------------------------------------------------------------------------
def signal(sentiment: float, price: dict) -> str:
    """A plain rule, stated in the report: news tone and price trend agreeing, or not.

    >>> signal(0.5, {"trend": "up"}), signal(-0.5, {"trend": "up"}), signal(0.0, {"trend": "flat"})
    ('positive', 'mixed', 'neutral')
    """
    trend = {"up": 1, "down": -1}.get(price["trend"], 0)
    tone = 1 if sentiment > 0.2 else -1 if sentiment < -0.2 else 0
    if tone and tone == trend:
        return "positive" if tone > 0 else "negative"
    return "mixed" if tone or trend else "neutral"


def render_report(source, findings: Findings, chart_name: str,
                  note: Callable[[str, str], str] | None = None) -> str:
    """The report's markdown: a table row per ticker, the chart, each ticker's scored headlines, and
    (when `note(ticker, company)` is given) one model-written sentence per ticker, marked as such."""
    f = findings
    lines = [f"# Daily market report, {f.day}", "",
             f"Tickers: {', '.join(f.tickers)} · prices over {f.lookback_days} trading days · "
             f"signal = news tone and price trend agreeing", "",
             "| ticker | close | day | period | trend | volatility | news tone | signal |",
             "|---|---:|---:|---:|---|---:|---:|---|"]
    for t in f.tickers:
        p, s = f.prices[t], f.sentiment.get(t, {"mean": 0.0, "scored": []})
        lines.append(f"| {t} | {p['last_close']:.2f} | {p['day_change_pct']:+.2f}% | {p['change_pct']:+.2f}% | "
                     f"{p['trend']} | {p['volatility_pct']:.2f}% | {s['mean']:+.2f} | {signal(s['mean'], p)} |")
    lines += ["", f"![Closing prices]({chart_name})", ""]
    for t in f.tickers:
        company = source.company(t)[0] if hasattr(source, "company") else t
        lines.append(f"## {t} · {company}")
        for score, title in f.sentiment.get(t, {}).get("scored", []):
            lines.append(f"- {title} ({score:+.1f})")
        if note is not None:
            lines.append(f"\n*Model note:* {note(t, company)}")
        lines.append("")
    return "\n".join(lines)


def write_report(source, findings: Findings, out_dir: str | Path,
                 note: Callable[[str, str], str] | None = None) -> tuple[str, Path]:
    """Writes `<out_dir>/report-<day>.md` and `<out_dir>/prices-<day>.png`; returns (markdown, chart path)."""
    from tools.market import plot_prices

    out = Path(out_dir)
    chart = plot_prices(source, findings.tickers, findings.day, findings.lookback_days,
                        out / f"prices-{findings.day}.png")
    report = render_report(source, findings, chart.name, note)
    (out / f"report-{findings.day}.md").write_text(report, encoding="utf-8")
    return report, chart
