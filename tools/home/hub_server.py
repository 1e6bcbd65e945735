"""A home hub simulator that speaks a subset of Home Assistant's REST API, for the home agent's
labs and tests. Device state persists in SQLite, so a restart keeps the house as it was.

    from tools.home.hub_server import create_app, start_in_thread
    app = create_app("/tmp/house.sqlite")              # a FastAPI app (tests drive it with TestClient)
    url = start_in_thread()                            # served from this process on a free loopback port

    python -m apps.home_hub                                   # http://127.0.0.1:8123, token "hearth-dev-token"
    python -m apps.home_hub --port 8124 --token s3cret --db /tmp/house.sqlite --reset

    curl -H 'Authorization: Bearer hearth-dev-token' http://127.0.0.1:8123/api/states
    curl -H 'Authorization: Bearer hearth-dev-token' -H 'Content-Type: application/json' \\
         -d '{"entity_id": "climate.thermostat", "temperature": 22}' \\
         http://127.0.0.1:8123/api/services/climate/set_temperature

Endpoints (as in Home Assistant): GET /api/ , GET /api/config, GET /api/states,
GET /api/states/<entity_id>, GET /api/services, POST /api/services/<domain>/<service>
(returns the states it changed). Every endpoint needs `Authorization: Bearer <token>`.
The alarm's code is "1234" unless --alarm-code says otherwise.
"""

from __future__ import annotations

import hmac
import json
import os
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

DEFAULT_PORT = 8123
DEFAULT_TOKEN = "hearth-dev-token"
DEFAULT_ALARM_CODE = "1234"


def hub_token(given: str | None = None) -> str:
    """The access token the simulator accepts and the client sends by default: `given`, else
    HEARTH_HUB_TOKEN, else the development token. Every start path and the client ask this one
    function, so a change of token policy happens here only."""
    return given or os.environ.get("HEARTH_HUB_TOKEN") or DEFAULT_TOKEN


def default_db_path() -> Path:
    from models.settings import data_home

    return data_home() / "home_hub.sqlite"


class HouseDatabase:
    """Entities in SQLite: one row per entity, attributes as JSON; safe across threads."""

    def __init__(self, path: str | Path, reset: bool = False):
        from tools.home.house import default_house

        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("""CREATE TABLE IF NOT EXISTS entities (entity_id TEXT PRIMARY KEY, state TEXT NOT NULL,
                            friendly_name TEXT NOT NULL, area TEXT NOT NULL, attributes TEXT NOT NULL,
                            risky_services TEXT NOT NULL, last_changed TEXT NOT NULL, last_updated TEXT NOT NULL)""")
        if reset:
            self._db.execute("DELETE FROM entities")
        if self._db.execute("SELECT COUNT(*) FROM entities").fetchone()[0] == 0:
            for entity in default_house():
                self.save(entity, changed=True)
        self._db.commit()

    def entities(self) -> dict:
        from tools.home.house import Entity

        with self._lock:
            rows = self._db.execute("SELECT entity_id, state, friendly_name, area, attributes, risky_services "
                                    "FROM entities ORDER BY entity_id").fetchall()
        return {r[0]: Entity(r[0], r[1], r[2], r[3], json.loads(r[4]), tuple(json.loads(r[5]))) for r in rows}

    def save(self, entity, changed: bool) -> None:
        now = datetime.now(timezone.utc).isoformat()
        with self._lock:
            previous = self._db.execute("SELECT last_changed FROM entities WHERE entity_id = ?", (entity.entity_id,)).fetchone()
            last_changed = now if changed or previous is None else previous[0]
            self._db.execute("INSERT OR REPLACE INTO entities VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (entity.entity_id, entity.state, entity.friendly_name, entity.area,
                              json.dumps(entity.attributes), json.dumps(list(entity.risky_services)), last_changed, now))
            self._db.commit()

    def state_object(self, entity_id: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT entity_id, state, friendly_name, area, attributes, last_changed, last_updated "
                                   "FROM entities WHERE entity_id = ?", (entity_id,)).fetchone()
        if row is None:
            return None
        attributes = {**json.loads(row[4]), "friendly_name": row[2], "area": row[3]}
        return {"entity_id": row[0], "state": row[1], "attributes": attributes, "last_changed": row[5],
                "last_updated": row[6], "context": {"id": None, "parent_id": None, "user_id": None}}

    def close(self) -> None:
        self._db.close()


def create_app(db_path: str | Path | None = None, token: str | None = None, alarm_code: str = DEFAULT_ALARM_CODE,
               reset: bool = False) -> FastAPI:
    """The hub's FastAPI app over the SQLite house at `db_path` (default .hearth/home_hub.sqlite);
    `token` defaults to `hub_token()`."""
    from tools.home.house import SERVICES, ServiceCallError, apply_service, validate_service_call

    token = hub_token(token)
    house = HouseDatabase(db_path or default_db_path(), reset=reset)
    app = FastAPI(title="Hearth home hub (Home Assistant REST subset)")
    app.state.house = house

    def authorised(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            raise Unauthorised()

    class Unauthorised(Exception):
        pass

    @app.exception_handler(Unauthorised)
    async def unauthorised(_request, _exc):
        return JSONResponse({"message": "401: Unauthorized. Send the header 'Authorization: Bearer <token>'."},
                            status_code=401)

    @app.get("/api/", dependencies=[Depends(authorised)])
    def api_running():
        return {"message": "API running."}

    @app.get("/api/config", dependencies=[Depends(authorised)])
    def config():
        return {"location_name": "Hearth demo house", "unit_system": {"temperature": "°C"}, "version": "hearth-sim",
                "components": sorted({s.domain for s in SERVICES.values()})}

    @app.get("/api/states", dependencies=[Depends(authorised)])
    def states():
        return [house.state_object(entity_id) for entity_id in house.entities()]

    @app.get("/api/states/{entity_id}", dependencies=[Depends(authorised)])
    def state(entity_id: str):
        found = house.state_object(entity_id)
        if found is None:
            return JSONResponse({"message": f"Entity not found: {entity_id}"}, status_code=404)
        return found

    @app.get("/api/services", dependencies=[Depends(authorised)])
    def services():
        by_domain: dict[str, dict] = {}
        for s in SERVICES.values():
            fields = {f.name: {"description": f.description, "required": f.required,
                               **({"selector": {"number": {"min": f.minimum, "max": f.maximum, "unit_of_measurement": f.unit}}}
                                  if f.kind in ("number", "integer") else {}),
                               **({"selector": {"select": {"options": list(f.choices)}}} if f.choices else {})}
                      for f in s.fields}
            by_domain.setdefault(s.domain, {})[s.name] = {"name": s.name, "description": s.description, "fields": fields}
        return [{"domain": d, "services": svc} for d, svc in sorted(by_domain.items())]

    @app.post("/api/services/{domain}/{service}", dependencies=[Depends(authorised)])
    async def call_service(domain: str, service: str, request: Request):
        body = await request.body()
        try:
            data = json.loads(body) if body.strip() else {}
        except json.JSONDecodeError as exc:
            return JSONResponse({"message": f"Invalid JSON body: {exc.msg} at position {exc.pos}."}, status_code=400)
        entities = house.entities()
        try:
            spec, targets, checked = validate_service_call(domain, service, data, entities)
            if domain == "alarm_control_panel" and str(checked.get("code", "")) != alarm_code:
                raise ServiceCallError("Invalid alarm code: the alarm was not changed.")
        except ServiceCallError as exc:
            return JSONResponse({"message": str(exc)}, status_code=400)
        changed = []
        for entity in targets:
            before = (entity.state, json.dumps(entity.attributes, sort_keys=True))
            apply_service(entity, spec, checked)
            after = (entity.state, json.dumps(entity.attributes, sort_keys=True))
            house.save(entity, changed=before[0] != after[0])
            if before != after:
                changed.append(house.state_object(entity.entity_id))
        return changed

    return app


def start_in_thread(db_path: str | Path | None = None, token: str | None = None, port: int = 0) -> str:
    """Serve the simulator from a daemon thread on loopback (a free port by default); returns the base URL."""
    from tools.local_server import serve_in_thread

    return serve_in_thread(create_app(db_path, token=token), port=port, name="home-hub-simulator")


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT, db_path: str | Path | None = None,
          token: str | None = None, alarm_code: str = DEFAULT_ALARM_CODE, reset: bool = False) -> None:
    """Serve the simulator in the foreground until interrupted; prints where and with which token."""
    import uvicorn

    token = hub_token(token)
    app = create_app(db_path, token=token, alarm_code=alarm_code, reset=reset)
    print(f"Home hub on http://{host}:{port}  (token: {token})", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
