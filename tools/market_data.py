"""Where the analysts' market data comes from: one small protocol, and offline sample data.

    from tools.market_data import SampleMarketData
    source = SampleMarketData()                       # deterministic, generated; no network
    source.tickers()                                  # ['ACME', 'BRGT', 'CLDX', 'DYNA', 'ECOV']
    source.prices("ACME", end="2026-11-27", days=30)  # [DailyPrice(day, open, high, low, close, volume), ...]
    source.headlines("ACME", day="2026-11-27")        # [Headline(day, ticker, title, source), ...]

A live feed implements the same two methods (`prices`, `headlines`) plus `tickers`, and the
tools and both teams use it unchanged. The sample companies and their news are invented for
this project; the prices are a seeded random walk, not market data.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Protocol


@dataclass(frozen=True)
class DailyPrice:
    day: str
    open: float
    high: float
    low: float
    close: float
    volume: int


@dataclass(frozen=True)
class Headline:
    day: str
    ticker: str
    title: str
    source: str


class MarketDataSource(Protocol):
    def tickers(self) -> list[str]: ...

    def prices(self, ticker: str, end: str, days: int = 30) -> list[DailyPrice]: ...

    def headlines(self, ticker: str, day: str) -> list[Headline]: ...


class UnknownTickerError(ValueError):
    pass


COMPANIES = {
    "ACME": ("Acme Robotics", "warehouse robots", 84.0, 0.018),
    "BRGT": ("Brightwater Energy", "offshore wind farms", 42.0, 0.022),
    "CLDX": ("Cloudex Software", "cloud accounting software", 130.0, 0.025),
    "DYNA": ("Dynamo Foods", "plant-based snacks", 27.0, 0.015),
    "ECOV": ("Ecovia Mobility", "electric delivery vans", 18.0, 0.035),
}
GOOD_NEWS = ["{name} beats quarterly earnings expectations", "{name} wins large contract for {product}",
             "Analysts upgrade {name} after strong {product} demand", "{name} raises full-year guidance",
             "{name} announces share buyback", "{name} expands {product} into Asia"]
BAD_NEWS = ["{name} misses revenue estimates", "{name} recalls part of its {product} line",
            "Regulators open inquiry into {name}", "{name} cuts guidance citing weak {product} sales",
            "{name} chief financial officer resigns", "Supply problems delay {name} {product} shipments"]
NEUTRAL_NEWS = ["{name} to present at industry conference", "{name} schedules annual shareholder meeting",
                "{name} names new head of {product} marketing"]
SOURCES = ["Daily Ledger", "Market Wire", "The Trading Desk", "Finance Post"]


class SampleMarketData:
    """Deterministic sample data: the same ticker and day always give the same prices and news."""

    def __init__(self, seed: int = 7):
        self.seed = seed

    def tickers(self) -> list[str]:
        return list(COMPANIES)

    def company(self, ticker: str) -> tuple[str, str]:
        name, product, _, _ = self._company(ticker)
        return name, product

    def _company(self, ticker: str):
        try:
            return COMPANIES[ticker.upper()]
        except KeyError:
            raise UnknownTickerError(f"Unknown ticker {ticker!r}. Sample tickers: {', '.join(COMPANIES)}.") from None

    def _mood(self, ticker: str, day: date) -> float:
        """The day's news tone in -1..1; it also nudges that day's return, so news and prices agree."""
        rng = random.Random(f"{self.seed}:{ticker}:{day.isoformat()}:mood")
        return max(-1.0, min(1.0, rng.gauss(0, 0.6)))

    def prices(self, ticker: str, end: str, days: int = 30) -> list[DailyPrice]:
        self._company(ticker)  # an unknown ticker fails here, with the list of known ones
        return list(_daily_prices(self.seed, ticker.upper(), end)[-days:])  # 'acme' is ACME

    def headlines(self, ticker: str, day: str) -> list[Headline]:
        name, product, _, _ = self._company(ticker)
        ticker = ticker.upper()  # the same headlines however the ticker is typed
        when = date.fromisoformat(day)
        mood = self._mood(ticker, when)
        rng = random.Random(f"{self.seed}:{ticker}:{day}:news")
        count = rng.randint(2, 4)
        out, seen = [], set()
        for _ in range(count * 3):
            roll = rng.random()
            pool = GOOD_NEWS if roll < 0.5 + mood / 2 - 0.1 else BAD_NEWS if roll > 0.6 + mood / 2 else NEUTRAL_NEWS
            title = rng.choice(pool).format(name=name, product=product)
            if title not in seen:
                seen.add(title)
                out.append(Headline(day, ticker, title, rng.choice(SOURCES)))
            if len(out) == count:
                break
        return out


@lru_cache(maxsize=64)
def _daily_prices(seed: int, ticker: str, end: str) -> tuple[DailyPrice, ...]:
    """Every trading day's prices from the start of the sample data to `end` (a random walk whose
    daily return follows that day's news tone); computed once per ticker and end day, since each
    day depends on all the days before it."""
    _, _, start_price, volatility = COMPANIES[ticker.upper()]
    source = SampleMarketData(seed)
    last = date.fromisoformat(end)
    first = date(2025, 1, 1)
    if last < first:
        raise ValueError(f"Sample data starts on {first}; pick a later end date.")
    price, out = start_price, []
    day = first
    while day <= last:
        if day.weekday() < 5:  # trading days only
            rng = random.Random(f"{seed}:{ticker}:{day.isoformat()}")
            change = rng.gauss(0.0004, volatility) + 0.01 * source._mood(ticker, day)
            open_ = price
            price = max(1.0, price * math.exp(change))
            high = max(open_, price) * (1 + abs(rng.gauss(0, volatility / 3)))
            low = min(open_, price) * (1 - abs(rng.gauss(0, volatility / 3)))
            out.append(DailyPrice(day.isoformat(), round(open_, 2), round(high, 2), round(low, 2), round(price, 2),
                                  int(rng.uniform(0.5, 1.5) * 1_000_000)))
        day += timedelta(days=1)
    return tuple(out)
