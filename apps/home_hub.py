"""Start the home hub simulator (`tools.home.hub_server`): a subset of Home Assistant's REST API,
device state in SQLite.

    python -m apps.home_hub                                   # http://127.0.0.1:8123, token "hearth-dev-token"
    python -m apps.home_hub --port 8124 --token s3cret --db /tmp/house.sqlite --reset

    curl -H 'Authorization: Bearer hearth-dev-token' http://127.0.0.1:8123/api/states

Endpoints and the alarm code are described in tools/home/hub_server.py.
"""

from __future__ import annotations

import argparse

from tools.home.hub_server import DEFAULT_ALARM_CODE, DEFAULT_PORT, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.home_hub", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--token", default=None, help="access token (default: HEARTH_HUB_TOKEN, else hearth-dev-token)")
    parser.add_argument("--alarm-code", default=DEFAULT_ALARM_CODE)
    parser.add_argument("--db", default=None, help="SQLite file for device state (default .hearth/home_hub.sqlite)")
    parser.add_argument("--reset", action="store_true", help="start from the default house again")
    args = parser.parse_args(argv)
    serve(args.host, args.port, db_path=args.db, token=args.token, alarm_code=args.alarm_code, reset=args.reset)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
