"""Streamlit page: ask a SQL database in plain language; see the SQL, the table, a chart, every attempt,
and the session's earlier questions. Start it with `python -m apps.sql`."""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project root (see apps/ui/__init__.py)

import models  # noqa: E402,F401  (offline switches first)
from models.settings import configured_model  # noqa: E402
import streamlit as st  # noqa: E402

from tools.sql.sample_business import ensure_sample_database  # noqa: E402
from tools.sql.database import SQLConnectionError, SQLDatabase  # noqa: E402
from tools.sql.tool import SQLAnswer, answer_database_question  # noqa: E402

MODEL_PRESETS = ["local", "ollama:llama3.2", "openai:local@http://127.0.0.1:8008/v1", "custom…"]
# Held-out questions (none is a stored example: tests/unit/test_text2sql_questions.py checks it).
SAMPLE_QUESTIONS = ["How many customers do we have in each region?", "How many orders were placed in March 2024?",
                    "How many products does each category have?", "How many customers are in the Central region?"]


@st.cache_data(show_spinner=False, ttl=60)
def database_tables(url: str) -> list[str]:
    with SQLDatabase.open(url) as db:
        return db.tables()


def sidebar() -> tuple[str, str, int]:
    with st.sidebar:
        st.header("Settings")
        default_db = os.environ.get("HEARTH_SQL_DATABASE") or str(ensure_sample_database())
        database = st.text_input("Database", value=default_db, key="database",
                                 help="SQLite path, sqlite:///PATH, postgresql://USER:PASS@HOST/DB or a SQLAlchemy URL")
        try:
            tables = database_tables(database)
            st.caption(f"{len(tables)} tables: {', '.join(tables)}")
        except (SQLConnectionError, ValueError) as exc:
            st.error(str(exc))
        default_model = configured_model("sql")
        presets = MODEL_PRESETS if default_model in MODEL_PRESETS else [default_model, *MODEL_PRESETS]
        choice = st.selectbox("Model", presets, index=presets.index(default_model), key="model_choice")
        model = st.text_input("Model spec", value="local", key="model_custom") if choice == "custom…" else choice
        max_attempts = st.slider("Attempts per question", 1, 5, 3, key="max_attempts")
        if st.button("Clear history"):
            st.session_state.history = []
    return database, model, max_attempts


def result_frame(result: SQLAnswer):
    import pandas as pd

    rows = [[float(v) if isinstance(v, Decimal) else v for v in row] for row in result.rows]
    return pd.DataFrame(rows, columns=result.columns)


def show_chart(result: SQLAnswer, frame) -> None:
    chart = result.chart
    if not chart or chart.get("x") not in frame.columns or chart.get("y") not in frame.columns:
        return
    if chart.get("kind") == "line":
        st.line_chart(frame, x=chart["x"], y=chart["y"])
    else:
        st.bar_chart(frame, x=chart["x"], y=chart["y"], sort=False)  # keep the query's ORDER BY


def show_attempts(result: SQLAnswer) -> None:
    failed = sum(1 for a in result.attempts if a.get("error"))
    with st.expander(f"Attempts ({len(result.attempts)}, {failed} failed)", expanded=bool(result.error)):
        if not result.attempts:
            st.caption("No attempt was recorded.")
        for number, attempt in enumerate(result.attempts, start=1):
            kind = attempt.get("error_kind")
            source = f" · {attempt['source']}" if attempt.get("source") else ""
            st.markdown(f"**Attempt {number}**{source} · {'ok' if not attempt.get('error') else kind or 'error'}")
            st.code(attempt.get("sql") or "(no SQL)", language="sql", wrap_lines=True)
            if attempt.get("error"):
                st.text(attempt["error"])


def show_answer(result: SQLAnswer) -> None:
    if result.error:
        st.error(result.error)
    else:
        st.markdown(result.answer or "(no answer text)")
    if result.sql:
        st.code(result.sql, language="sql", wrap_lines=True)
    if result.columns:
        frame = result_frame(result)
        st.dataframe(frame, hide_index=True)
        if result.truncated:
            st.caption("The result reached the row cap.")
        show_chart(result, frame)
    show_attempts(result)


def main() -> None:
    st.set_page_config(page_title="Hearth · ask your data", page_icon="🔥", layout="wide")
    st.title("Ask your data")
    st.session_state.setdefault("history", [])
    database, model, max_attempts = sidebar()
    for turn in st.session_state.history:
        with st.chat_message("user"):
            st.markdown(turn.question)
        with st.chat_message("assistant"):
            show_answer(turn)
    question = st.chat_input("Ask a question about the data…")
    if not st.session_state.history and not question:
        st.caption("Try: " + " · ".join(SAMPLE_QUESTIONS))
    if not question:
        return
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        try:
            with st.spinner("Writing and checking SQL…"):
                result = answer_database_question(question, database, model, max_attempts=max_attempts)
        except ValueError as exc:  # a database that does not open, a bad model spec: the message names the fix
            st.error(f"{type(exc).__name__}: {exc}")
            return
        show_answer(result)
    st.session_state.history.append(result)


main()
