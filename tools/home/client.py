"""A small client for Home Assistant's REST API; the hub simulator speaks the same subset.

    from tools.home.client import HomeAssistantClient
    hub = HomeAssistantClient("http://127.0.0.1:8123", token="hearth-dev-token")   # or a real Home Assistant
    hub.states()                                       # every entity's state object
    hub.call_service("light", "turn_on", {"entity_id": "light.kitchen", "brightness_pct": 40})

Defaults come from HEARTH_HUB_URL and HEARTH_HUB_TOKEN. A real Home Assistant takes a
long-lived access token (Profile → Security → Long-lived access tokens).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

DEFAULT_HUB_URL = "http://127.0.0.1:8123"


class HomeHubError(RuntimeError):
    """The hub refused a request or could not be reached; the message names the fix."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class HomeAssistantClient:
    url: str = ""
    token: str = ""
    timeout_s: float = 10.0
    http: Any = None  # an httpx.Client to send through (tests pass FastAPI's TestClient); default: a new one per call

    def __post_init__(self):
        self.url = (self.url or os.environ.get("HEARTH_HUB_URL", DEFAULT_HUB_URL)).rstrip("/")
        if not self.token:
            from tools.home.hub_server import hub_token

            self.token = hub_token()

    def _request(self, method: str, path: str, body: dict | None = None):
        import httpx

        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            if self.http is not None:
                response = self.http.request(method, f"{self.url}{path}", json=body, headers=headers)
            else:
                response = httpx.request(method, f"{self.url}{path}", json=body, headers=headers, timeout=self.timeout_s)
        except httpx.ConnectError:
            raise HomeHubError(f"No home hub answers at {self.url}. Start the simulator with "
                               f"`python -m apps.home_hub`, or set HEARTH_HUB_URL to your Home Assistant.") from None
        except httpx.TimeoutException:
            raise HomeHubError(f"The home hub at {self.url} did not answer within {self.timeout_s:g} s.") from None
        if response.status_code == 401:
            raise HomeHubError("The home hub rejected the access token. Set HEARTH_HUB_TOKEN to a valid token "
                               "(the simulator prints its token when it starts).", 401)
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise HomeHubError(message.strip() or f"HTTP {response.status_code}", response.status_code)
        return response.json()

    def states(self) -> list[dict]:
        return self._request("GET", "/api/states")

    def state(self, entity_id: str) -> dict:
        return self._request("GET", f"/api/states/{entity_id}")

    def call_service(self, domain: str, service: str, data: dict) -> list[dict]:
        """Call a service; returns the state objects it changed."""
        return self._request("POST", f"/api/services/{domain}/{service}", data)
