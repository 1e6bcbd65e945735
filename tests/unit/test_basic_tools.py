"""The basic toolset: calculator (safe arithmetic), the weather tool over the fixture service on
loopback, and the toolset registry."""

from __future__ import annotations

import pytest

from tools.calculator import CalculationError, calculator, evaluate
from tools.registry import load_toolset
from tools.weather import WeatherError, get_weather


@pytest.mark.parametrize("expression, value", [("2 * (3 + 4) ** 2 / 7", 14), ("sqrt(16) + 2^3", 12), ("-5 % 3", 1),
                                               ("max(2, 9, 4) // 2", 4), ("round(pi, 2)", 3.14)])
def test_calculator_evaluates_arithmetic(expression, value):
    assert evaluate(expression) == pytest.approx(value)


@pytest.mark.parametrize("expression, message", [("__import__('os').system('id')", "Only numbers"),
                                                 ("().__class__", "Only numbers"), ("9 ** 9 ** 9", "too large"),
                                                 ("1 / 0", "Division by zero"), ("2 +", "not an arithmetic expression")])
def test_calculator_refuses_anything_else(expression, message):
    with pytest.raises(CalculationError, match=message):
        evaluate(expression)


def test_calculator_tool_reports_expression_and_result():
    assert calculator.invoke({"expression": "6 * 7"}) == "6 * 7 = 42"


def test_weather_tool_talks_to_the_fixture_service(monkeypatch):
    monkeypatch.delenv("HEARTH_WEATHER_URL", raising=False)
    assert get_weather.invoke({"city": "Lisbon"}).startswith("Lisbon: sunny, 19°C")
    forecast = get_weather.invoke({"city": "berlin", "days": 2})
    assert forecast.startswith("Forecast for Berlin") and "day 2" in forecast and "day 3" not in forecast
    with pytest.raises(WeatherError, match="Known cities: Lisbon"):
        get_weather.invoke({"city": "Atlantis"})


def test_weather_tool_names_the_fix_when_the_service_is_down(monkeypatch):
    monkeypatch.setenv("HEARTH_WEATHER_URL", "http://127.0.0.1:9")
    with pytest.raises(WeatherError, match="python -m apps.weather_service"):
        get_weather.invoke({"city": "Lisbon"})


def test_toolsets_by_name():
    assert [t.name for t in load_toolset("basic").tools] == ["calculator", "get_weather", "search_knowledge", "ask_database"]
    assert {t.name for t in load_toolset("market").tools} == {"get_headlines", "score_headlines", "get_price_statistics"}
    with pytest.raises(ValueError, match="Choose one of: basic, home, market"):
        load_toolset("kitchen-sink")
