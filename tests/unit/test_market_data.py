"""Sample market data, the analysts' tools and findings: determinism, shapes, scoring, statistics."""

from __future__ import annotations

from datetime import date

import pytest

from tools.market_data import DailyPrice, Headline, MarketDataSource, SampleMarketData, UnknownTickerError
from agents.market.report import checked_day, parse_request, score_sentiment, signal
from tools.market import headline_sentiment, market_tools, price_statistics


class KnownSeriesSource:
    """A data source with a hand-written price series, so the statistics can be checked by hand."""

    def __init__(self, closes: list[float]):
        self.closes = closes

    def tickers(self) -> list[str]:
        return ["TEST"]

    def prices(self, ticker: str, end: str, days: int = 30) -> list[DailyPrice]:
        return [DailyPrice(f"2026-11-{i + 1:02d}", c, c, c, c, 1000) for i, c in enumerate(self.closes)][-days:]

    def headlines(self, ticker: str, day: str) -> list[Headline]:
        return []


def test_sample_data_is_deterministic_and_seeded():
    a, b, other = SampleMarketData(), SampleMarketData(), SampleMarketData(seed=8)
    day = "2025-03-31"  # early in the sample history: each call walks prices from 2025-01-01
    assert a.prices("ACME", day) == b.prices("ACME", day)
    assert a.headlines("CLDX", day) == b.headlines("CLDX", day)
    assert a.prices("ACME", day) != other.prices("ACME", day)
    # A later end date extends the same history rather than drawing a new one.
    assert a.prices("ACME", "2025-03-24", days=10)[-1] in a.prices("ACME", day, days=10)


def test_sample_data_has_the_protocol_shape():
    source: MarketDataSource = SampleMarketData()
    assert source.tickers() == ["ACME", "BRGT", "CLDX", "DYNA", "ECOV"]
    prices = source.prices("acme", end="2026-11-27", days=30)
    assert len(prices) == 30 and all(isinstance(p, DailyPrice) for p in prices)
    assert prices[-1].day == "2026-11-27"  # a Friday
    assert all(date.fromisoformat(p.day).weekday() < 5 for p in prices)  # trading days only
    assert all(p.low <= min(p.open, p.close) <= max(p.open, p.close) <= p.high and p.volume > 0 for p in prices)
    news = source.headlines("CLDX", day="2026-11-27")
    assert 2 <= len(news) <= 4 and len({h.title for h in news}) == len(news)
    assert all(isinstance(h, Headline) and h.ticker == "CLDX" and "Cloudex" in h.title for h in news)


def test_unknown_ticker_and_bad_dates_are_clear_errors():
    source = SampleMarketData()
    with pytest.raises(UnknownTickerError, match="Sample tickers: ACME, BRGT, CLDX, DYNA, ECOV"):
        source.prices("ZZZZ", "2026-11-27")
    with pytest.raises(ValueError, match="starts on 2025-01-01"):
        source.prices("ACME", "2024-06-01")
    with pytest.raises(ValueError, match="use YYYY-MM-DD"):
        checked_day("2026-13-45")
    tools = {t.name: t for t in market_tools(source)}
    with pytest.raises(ValueError, match="use YYYY-MM-DD"):
        tools["get_headlines"].invoke({"ticker": "ACME", "day": "27/11/2026"})


def test_headline_sentiment_counts_finance_terms():
    assert headline_sentiment("Acme beats expectations and raises guidance") == 1.0
    assert headline_sentiment("Acme misses estimates") == -1.0
    assert headline_sentiment("Acme wins contract but recalls vans and cuts guidance") == pytest.approx(-1 / 3)
    assert headline_sentiment("Acme to present at industry conference") == 0.0
    scored = score_sentiment({"ACME": ["Acme beats estimates", "Acme to present at conference"], "NONE": []})
    assert scored["ACME"] == {"mean": 0.5,
                              "scored": [[1.0, "Acme beats estimates"], [0.0, "Acme to present at conference"]]}
    assert scored["NONE"]["mean"] == 0.0


def test_score_headlines_tool_reports_mean_and_each_score():
    tool = {t.name: t for t in market_tools(SampleMarketData())}["score_headlines"]
    text = tool.invoke({"headlines": ["Acme beats estimates", "Acme misses estimates", "Acme raises guidance"]})
    assert text.splitlines() == ["mean sentiment +0.33 over 3 headlines", "+1.00 Acme beats estimates",
                                 "-1.00 Acme misses estimates", "+1.00 Acme raises guidance"]


def test_price_statistics_on_a_known_series():
    closes = [100.0] * 10 + [110.0] * 5  # flat, then a 10% step in the last five days
    stats = price_statistics(KnownSeriesSource(closes), "test", "2026-11-15", days=15)
    assert stats["ticker"] == "TEST" and stats["first_day"] == "2026-11-01" and stats["last_day"] == "2026-11-15"
    assert stats["last_close"] == 110.0 and stats["change_pct"] == 10.0 and stats["day_change_pct"] == 0.0
    assert stats["sma5"] == 110.0 and stats["sma_window"] == pytest.approx(103.33, abs=0.01)
    assert stats["trend"] == "up"
    # Returns: 13 zeros and one 10% jump -> population standard deviation sqrt(13)/14 * 10%.
    assert stats["volatility_pct"] == pytest.approx(100 * 0.1 * 13 ** 0.5 / 14, abs=0.01)
    down = price_statistics(KnownSeriesSource([100.0] * 6 + [90.0] * 5), "TEST", "2026-11-11", days=11)
    assert down["trend"] == "down" and down["change_pct"] == -10.0


def test_signal_rule_and_request_parsing():
    assert signal(0.5, {"trend": "up"}) == "positive" and signal(-0.5, {"trend": "down"}) == "negative"
    assert signal(0.5, {"trend": "down"}) == "mixed" and signal(0.0, {"trend": "flat"}) == "neutral"
    source = SampleMarketData()
    parsed = parse_request("Daily report for ACME and cldx on 2026-11-20", source=source)
    assert parsed == ("2026-11-20", ["ACME", "CLDX"])
    assert parse_request("Daily report, USD view", source=source, default_tickers=["ecov"]) == ("2026-11-27", ["ECOV"])
    with pytest.raises(UnknownTickerError, match="Unknown ticker ZZZZ. Pick from: ACME"):
        parse_request("Daily report for ACME and ZZZZ on 2026-11-27", source=source)
    with pytest.raises(ValueError, match="'2026-02-30' is not a valid date: use YYYY-MM-DD"):
        parse_request("Daily report for ACME on 2026-02-30", source=source)


def test_a_ticker_typed_in_lower_case_gives_the_same_series_and_news():
    from tools.market_data import SampleMarketData

    data = SampleMarketData()
    assert data.prices("acme", "2026-11-27", days=5) == data.prices("ACME", "2026-11-27", days=5)
    assert data.headlines("acme", "2026-11-27") == data.headlines("ACME", "2026-11-27")
