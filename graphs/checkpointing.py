"""Checkpointers for multi-turn memory: SQLite by default, PostgreSQL by URL.

    with open_checkpointer() as saver:                                   # .hearth/checkpoints.sqlite
    with open_checkpointer("postgresql://user:pw@127.0.0.1:5432/db") as saver:
    with open_checkpointer("sqlite:////tmp/memory.sqlite") as saver:    # absolute: four slashes
        graph = compile_rag_graph(checkpointer=saver)
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class CheckpointerError(RuntimeError):
    """A checkpointer URL that cannot be opened."""


def default_checkpoint_url() -> str:
    from models.settings import data_home

    return os.environ.get("HEARTH_CHECKPOINTS") or f"sqlite:///{data_home() / 'checkpoints.sqlite'}"


@contextmanager
def open_checkpointer(url: str | None = None) -> Iterator:
    url = url or default_checkpoint_url()
    if url == ":memory:":
        from langgraph.checkpoint.memory import InMemorySaver

        yield InMemorySaver()
    elif url.startswith("sqlite:///") or url.endswith((".sqlite", ".db")):
        from langgraph.checkpoint.sqlite import SqliteSaver

        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False)
        try:
            saver = SqliteSaver(conn)
            saver.setup()
            yield saver
        finally:
            conn.close()
    elif url.startswith(("postgresql://", "postgres://")):
        from langgraph.checkpoint.postgres import PostgresSaver
        import psycopg

        try:
            manager = PostgresSaver.from_conn_string(url)
            saver = manager.__enter__()
        except psycopg.OperationalError as exc:
            raise CheckpointerError(f"Could not connect to PostgreSQL at {_redact(url)}: {exc}. Is the server running and the URL right?") from exc
        try:
            saver.setup()
            yield saver
        finally:
            manager.__exit__(None, None, None)
    else:
        raise CheckpointerError(
            f"Unknown checkpointer URL {url!r}. Use sqlite:///PATH, postgresql://USER:PASSWORD@HOST:PORT/DB or :memory:."
        )


def _redact(url: str) -> str:
    import re

    return re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", url)
