"""The ReAct agent CLI on the real embedded model: semantic routing picks the tool, the constrained
call fills its arguments, the fixture weather service answers over loopback."""

from __future__ import annotations

import subprocess

import pytest

from servers import ROOT, python

pytestmark = pytest.mark.slow


def test_weather_question_is_answered_through_the_weather_tool():
    done = subprocess.run(python("-m", "apps.agent", "What's the weather in Lisbon?"), cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "→ get_weather(city='Lisbon')" in done.stderr
    assert "19°C" in done.stderr  # the tool's result, from the fixture service


def test_unknown_toolset_is_a_clear_error():
    done = subprocess.run(python("-m", "apps.agent", "--toolset", "kitchen-sink", "hi"), cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "Choose one of: basic, home, market" in done.stderr
