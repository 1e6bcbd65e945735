"""Ask a SQL database in plain language: the text-to-SQL graph as a typed LangChain tool.

    from tools.sql.tool import SQL_TOOLS, ask_database
    ask_database.invoke({"question": "How many customers do we have in each region?"})  # sample business DB
    ask_database.invoke({"question": "How many states border texas?",
                         "database": "../shared/data/geoquery/geography.sqlite"})
    agent_model.bind_tools(SQL_TOOLS)

`answer_database_question` is the one entry point the apps share (apps/sql_ask.py, apps/ui/sql_page.py):
it calls graphs.text2sql.graph.answer_question and returns an SQLAnswer with the answer, the SQL,
the result table, the chart spec, every attempt, and an error message when nothing ran.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.tools import tool

from tools.sql.database import format_table

TOOL_ROWS = 10  # rows of the result a tool caller sees


@dataclass
class SQLAnswer:
    question: str
    answer: str = ""
    sql: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    truncated: bool = False
    chart: dict | None = None  # {"kind": "bar" | "line", "x": column, "y": column}
    attempts: list[dict] = field(default_factory=list)  # each {"sql", "error_kind", "error", ...}
    error: str | None = None  # set when no query ran
    elapsed_s: float | None = None

    def table(self, max_rows: int = 20) -> str:
        return format_table(self.columns, self.rows, max_rows=max_rows)

    def to_json(self) -> dict:
        data = asdict(self)
        data["rows"] = [[_jsonable(v) for v in row] for row in self.rows]
        data["attempts"] = [{k: _jsonable(v) for k, v in a.items()} for a in self.attempts]
        return data


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if type(value).__name__ == "Decimal":
        return float(value)
    return str(value)  # dates, times, bytes


def normalize_answer(question: str, raw: dict) -> SQLAnswer:
    """An SQLAnswer from answer_question's dict: the table either at the top level (columns, rows) or
    under `result` ({columns, rows, truncated}); `error` given, or derived when no query ran."""
    result = raw.get("result") or {}
    columns = list(raw.get("columns") or result.get("columns") or [])
    rows = [tuple(r) for r in (raw.get("rows") or result.get("rows") or [])]
    attempts = [dict(a) for a in raw.get("attempts") or []]
    error = raw.get("error")
    ran = bool(raw.get("result")) or bool(columns)
    if error is None and raw.get("missing"):  # the graph said what the database does not hold, and ran nothing
        error = str(raw.get("answer") or "the database does not hold what the question names")
    if error is None and not ran and "error" not in raw:
        last = next((a.get("error") for a in reversed(attempts) if a.get("error")), None)
        error = f"no query ran successfully after {len(attempts)} attempt(s)"
        error += f"; last error: {last}" if last else ""
    timings = raw.get("timings") or {}
    return SQLAnswer(question=raw.get("question") or question, answer=str(raw.get("answer") or ""),
                     sql=str(raw.get("sql") or ""), columns=columns, rows=rows,
                     truncated=bool(raw.get("truncated", result.get("truncated", False))), chart=raw.get("chart"),
                     attempts=attempts, error=error, elapsed_s=timings.get("total"))


def answer_database_question(question: str, database: str | None = None, model: str | None = None,
                             **options) -> SQLAnswer:
    """Run the text-to-SQL graph on `database` (a SQLite path, sqlite:///, postgresql://, any SQLAlchemy
    URL; None = the sample business database) with `model` (a model spec; None = $HEARTH_MODEL or local)."""
    if not question or not question.strip():
        raise ValueError("No question: ask something like 'Top 5 customers by revenue'")
    text2sql = importlib.import_module("graphs.text2sql.graph")  # imported on use: it loads sqlglot and the graph
    raw = text2sql.answer_question(question.strip(), database=database or "", model=model or "", **options)
    return normalize_answer(question.strip(), raw)


def describe_answer(result: SQLAnswer, max_rows: int = TOOL_ROWS) -> str:
    """The answer, the SQL and the first rows as plain text (what a tool caller or a terminal shows)."""
    if result.error:
        parts = [f"Could not answer: {result.error}"]
        if result.sql:
            parts.append(f"Last SQL:\n{result.sql}")
        return "\n\n".join(parts)
    parts = [result.answer or "(no answer text)", f"SQL:\n{result.sql}"]
    shown = min(len(result.rows), max_rows)
    more = " (capped by the row limit)" if result.truncated else ""
    parts.append(f"Rows ({shown} of {len(result.rows)}{more}):\n{result.table(max_rows)}")
    return "\n\n".join(parts)


@tool
def ask_database(question: str, database: str | None = None) -> str:
    """Answer a question about data in a SQL database by writing and running a read-only SQL query.

    Args:
        question: the question in plain language, e.g. "Total sales in Q2 2025 by product category".
        database: a SQLite file path, sqlite:///PATH, postgresql://USER:PASS@HOST/DB or another
            SQLAlchemy URL; leave empty for the sample business database (customers, products,
            categories, orders, order items; 2024-2025).
    """
    try:
        return describe_answer(answer_database_question(question, database))
    except ValueError as exc:  # a missing database, an unknown URL scheme, an empty question: the fix is in the text
        return f"Could not answer: {exc}"


SQL_TOOLS = [ask_database]
