"""Start the weather fixture service (`tools.weather_service`), so the weather tool runs offline.

    python -m apps.weather_service                    # http://127.0.0.1:8090
    python -m apps.weather_service --port 8091
    curl 'http://127.0.0.1:8090/v1/current?city=Lisbon'
"""

from __future__ import annotations

import argparse

from tools.weather_service import DEFAULT_PORT, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.weather_service", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    serve(args.host, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
