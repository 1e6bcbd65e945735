"""The Streamlit text-to-SQL app: question -> SQL -> table -> chart, with the attempts and the history.

    python -m apps.sql                                          # http://127.0.0.1:8502, sample business DB
    python -m apps.sql --db postgresql://hearth:hearth@127.0.0.1:5432/hearth_test --model ollama:qwen2.5:7b

The page itself is apps/ui/sql_page.py; this module starts Streamlit on it, offline and quiet.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from apps.chat import streamlit_command

PAGE = Path(__file__).parent / "ui" / "sql_page.py"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m apps.sql", description="Streamlit text-to-SQL app")
    parser.add_argument("--port", type=int, default=int(os.environ.get("HEARTH_SQL_PORT", 8502)))
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--db", default=None, metavar="URL",
                        help="database shown first (default: the sample business DB)")
    parser.add_argument("--model", default=None, help="chat model spec shown first in the picker (default: local)")
    args = parser.parse_args(argv)
    import models  # noqa: F401  (offline switches, inherited by Streamlit)

    if args.model:
        os.environ["HEARTH_MODEL"] = args.model
    if args.db:
        os.environ["HEARTH_SQL_DATABASE"] = args.db
    print(f"Starting the SQL app on http://{args.address}:{args.port} (Ctrl+C to stop)", flush=True)
    os.execv(sys.executable, streamlit_command(PAGE, args.port, args.address))


if __name__ == "__main__":
    main()
