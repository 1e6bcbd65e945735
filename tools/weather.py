"""The weather tool: current conditions and a forecast from a weather HTTP API.

    from tools.weather import get_weather
    get_weather.invoke({"city": "Lisbon"})
    get_weather.invoke({"city": "Berlin", "days": 3})

It calls HEARTH_WEATHER_URL; when that is unset it starts the project's fixture service
(`tools.weather_service`) in this process on a free loopback port, once.
"""

from __future__ import annotations

import os
import threading

from langchain_core.tools import tool
from pydantic import BaseModel, Field

_started_url: str | None = None
_lock = threading.Lock()


class WeatherError(RuntimeError):
    pass


def weather_service_url() -> str:
    """HEARTH_WEATHER_URL, or the URL of the bundled fixture service started on first use."""
    global _started_url
    if url := os.environ.get("HEARTH_WEATHER_URL"):
        return url.rstrip("/")
    with _lock:
        if _started_url is None:
            from tools.weather_service import start_in_thread

            _started_url = start_in_thread()
    return _started_url


class WeatherQuery(BaseModel):
    city: str = Field(description="City name, e.g. Lisbon")
    days: int = Field(0, ge=0, le=5, description="0 for the current weather, 1-5 for a forecast of that many days")


@tool(args_schema=WeatherQuery)
def get_weather(city: str, days: int = 0) -> str:
    """Current weather in a city, or its forecast for the next 1-5 days."""
    import httpx

    base = weather_service_url()
    path, params = ("/v1/forecast", {"city": city, "days": days}) if days else ("/v1/current", {"city": city})
    try:
        response = httpx.get(f"{base}{path}", params=params, timeout=10)
    except httpx.HTTPError as exc:
        raise WeatherError(f"The weather service at {base} is unreachable ({exc}). Start it with "
                           f"`python -m apps.weather_service` or unset HEARTH_WEATHER_URL.") from None
    data = response.json()
    if response.status_code != 200:
        raise WeatherError(data.get("error") or data.get("detail") or response.text)
    if days:
        lines = [f"day {d['day']}: {d['conditions']}, {d['low_c']}-{d['high_c']}°C" for d in data["days"]]
        return f"Forecast for {data['city']}: " + "; ".join(lines)
    return (f"{data['city']}: {data['conditions']}, {data['temperature_c']}°C, humidity {data['humidity_pct']}%, "
            f"wind {data['wind_kmh']} km/h")
