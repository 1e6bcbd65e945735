"""A small weather HTTP service with fixture data, so the ReAct-with-an-API lab runs offline.

    python -m apps.weather_service                    # http://127.0.0.1:8090 (the app only starts this)
    curl 'http://127.0.0.1:8090/v1/current?city=Lisbon'
    curl 'http://127.0.0.1:8090/v1/forecast?city=Berlin&days=3'

    from tools.weather_service import create_app, start_in_thread
    url = start_in_thread()                           # "http://127.0.0.1:<free port>"

The weather tool (`tools.weather`) talks to HEARTH_WEATHER_URL, and starts this service itself
on a free loopback port when that is unset. The figures are fixtures, not observations.
"""

from __future__ import annotations

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse

DEFAULT_PORT = 8090

# city: (country, latitude, longitude, conditions, temperature °C, humidity %, wind km/h)
CITIES = {
    "lisbon": ("Portugal", 38.72, -9.14, "sunny", 19, 62, 14),
    "porto": ("Portugal", 41.15, -8.61, "light rain", 15, 81, 20),
    "madrid": ("Spain", 40.42, -3.70, "clear", 17, 40, 9),
    "paris": ("France", 48.86, 2.35, "overcast", 11, 77, 12),
    "london": ("United Kingdom", 51.51, -0.13, "drizzle", 10, 85, 18),
    "berlin": ("Germany", 52.52, 13.40, "cloudy", 7, 72, 16),
    "new york": ("United States", 40.71, -74.01, "partly cloudy", 9, 58, 22),
    "san francisco": ("United States", 37.77, -122.42, "fog", 14, 88, 11),
    "tokyo": ("Japan", 35.68, 139.69, "clear", 13, 50, 8),
    "sydney": ("Australia", -33.87, 151.21, "sunny", 25, 55, 19),
}
FORECAST_PATTERN = [("sunny", 1), ("partly cloudy", 0), ("showers", -2), ("cloudy", -1), ("clear", 1)]


def current(city: str) -> dict | None:
    found = CITIES.get(city.strip().lower())
    if found is None:
        return None
    country, lat, lon, conditions, temperature, humidity, wind = found
    return {"city": city.strip().title(), "country": country, "latitude": lat, "longitude": lon,
            "conditions": conditions, "temperature_c": temperature, "humidity_pct": humidity, "wind_kmh": wind}


def forecast(city: str, days: int) -> list[dict] | None:
    now = current(city)
    if now is None:
        return None
    offset = sum(map(ord, city.lower())) % len(FORECAST_PATTERN)
    out = []
    for day in range(1, days + 1):
        conditions, delta = FORECAST_PATTERN[(offset + day) % len(FORECAST_PATTERN)]
        out.append({"day": day, "conditions": conditions, "high_c": now["temperature_c"] + delta + 3,
                    "low_c": now["temperature_c"] + delta - 4})
    return out


def create_app() -> FastAPI:
    app = FastAPI(title="Hearth weather fixtures")

    def unknown(city: str) -> JSONResponse:
        return JSONResponse({"error": f"Unknown city {city!r}. Known cities: {', '.join(c.title() for c in CITIES)}."},
                            status_code=404)

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/v1/current")
    def get_current(city: str = Query(..., min_length=1, max_length=80)):
        return current(city) or unknown(city)

    @app.get("/v1/forecast")
    def get_forecast(city: str = Query(..., min_length=1, max_length=80), days: int = Query(3, ge=1, le=5)):
        found = forecast(city, days)
        return {"city": city.strip().title(), "days": found} if found is not None else unknown(city)

    return app


def start_in_thread(port: int = 0) -> str:
    """Serve the fixtures from a daemon thread on loopback (a free port by default); returns the base URL."""
    from tools.local_server import serve_in_thread

    return serve_in_thread(create_app(), port=port, name="weather-fixture-service")


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    """Serve the fixtures in the foreground until interrupted."""
    import uvicorn

    uvicorn.run(create_app(), host=host, port=port, log_level="warning")
