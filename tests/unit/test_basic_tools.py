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


@pytest.mark.parametrize("expression, value", [
    ("17% of 2,340", 397.8), ("What is 17% of 2,340?", 397.8), ("17 percent of 2340", 397.8), ("2,340 * 17%", 397.8),
    ("1,234,567 + 1", 1234568), ("$1,200 * 3", 3600), ("12 kg + 500 kg", 512), ("what is 12 times 7", 84),
    ("3 x 4", 12), ("100 divided by 8", 12.5), ("10 % 3", 1), ("15% of €80", 12), ("2.5 hours * 60", 150)])
def test_calculator_reads_numbers_as_people_write_them(expression, value):
    assert evaluate(expression) == pytest.approx(value)


@pytest.mark.parametrize("expression, message", [
    ("what is the capital of France?", "not an arithmetic expression"), ("two plus two", "'two' is not a number"),
    ("", "holds no arithmetic"), ("max(1,234)", "'1,234' is one number")])
def test_calculator_says_what_it_cannot_parse(expression, message):
    with pytest.raises(CalculationError, match=message):
        evaluate(expression)


def test_calculator_tool_rounds_floating_point_noise():
    assert calculator.invoke({"expression": "17% of 2,340"}) == "17% of 2,340 = 397.8"


def test_agent_cli_answers_a_percentage_question(capsys):
    from apps.agent import main

    assert main(["What is 17% of 2,340?"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "17% of 2,340 = 397.8"
    assert "→ calculator(expression='17% of 2,340')" in captured.err


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
