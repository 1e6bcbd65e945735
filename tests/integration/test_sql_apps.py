"""The SQL apps: `python -m apps.sql_ask`, the `ask_database` tool and the Streamlit page (apps/ui/sql_page.py).

Most tests replace graphs.text2sql.graph with a scripted fake answer_question that runs fixed SQL on the
real sample database through SQLDatabase, so the apps' own behaviour (printing, exit codes, tables,
charts, attempts, history) is tested in under a second. The slow tests run the real graph with the
embedded model, and start the Streamlit server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import httpx
import pytest

from servers import ROOT, free_port, python, running
from tools.sql.sample_business import ensure_sample_database
from tools.sql.database import SQLDatabase
from tools.sql.tool import SQL_TOOLS, ask_database, normalize_answer

SCRIPTED_SQL = {
    "Break down Q2 2025 revenue per category":
        "SELECT c.name AS category, ROUND(SUM(oi.quantity * oi.unit_price), 2) AS revenue FROM order_items oi "
        "JOIN orders o ON o.id = oi.order_id JOIN products p ON p.id = oi.product_id "
        "JOIN categories c ON c.id = p.category_id WHERE o.order_date >= '2025-04-01' AND o.order_date < '2025-07-01' "
        "GROUP BY c.name ORDER BY revenue DESC",
    "What did we sell each month of 2024?":
        "SELECT strftime('%Y-%m', o.order_date) AS month, ROUND(SUM(oi.quantity * oi.unit_price), 2) AS revenue "
        "FROM orders o JOIN order_items oi ON oi.order_id = o.id WHERE o.order_date LIKE '2024-%' GROUP BY month "
        "ORDER BY month",
}
FIRST_TRY = "SELECT category, SUM(revenue) FROM sales GROUP BY category"  # the fake's failing first attempt


class ScriptedText2SQL(types.ModuleType):
    """Scripted fake of graphs.text2sql.graph: a failing first attempt, then the scripted SQL, run for real.
    Returns the engine's dict shape (result = {columns, rows, truncated})."""

    def __init__(self):
        super().__init__("graphs.text2sql.graph")
        self.calls = []

    def answer_question(self, question, database="", model="", **options):
        self.calls.append({"question": question, "database": database, "model": model, **options})
        with SQLDatabase.open(database or ensure_sample_database()) as db:
            if question not in SCRIPTED_SQL:
                return {"question": question, "answer": "", "sql": "", "result": None, "chart": None, "ok": False,
                        "attempts": [{"attempt": 1, "source": "model", "sql": FIRST_TRY, "ok": False,
                                      "error_kind": "unknown_identifier", "error": "no such table: sales"}]}
            result = db.run(SCRIPTED_SQL[question])
        kind = "line" if "month" in question else "bar"
        return {"question": question, "answer": f"Found {len(result.rows)} rows.", "sql": SCRIPTED_SQL[question],
                "result": {"columns": result.columns, "rows": [list(r) for r in result.rows], "truncated": False},
                "chart": {"kind": kind, "x": result.columns[0], "y": result.columns[1]}, "ok": True,
                "attempts": [{"attempt": 1, "source": "model", "sql": FIRST_TRY, "ok": False,
                              "error_kind": "unknown_identifier", "error": "no such table: sales"},
                             {"attempt": 2, "source": "model", "sql": SCRIPTED_SQL[question], "ok": True,
                              "error_kind": None, "error": None}],
                "timings": {"total": 0.01}}


@pytest.fixture
def fake_engine(monkeypatch):
    fake = ScriptedText2SQL()
    monkeypatch.setitem(sys.modules, "graphs.text2sql.graph", fake)
    return fake


@pytest.fixture
def sample():
    return ensure_sample_database()


# -- CLI -------------------------------------------------------------------------------------------
def test_cli_prints_sql_table_and_answer(fake_engine, sample, capsys):
    from apps.sql_ask import main

    question = "Break down Q2 2025 revenue per category"
    assert main([question, "--db", f"sqlite:///{sample}", "--model", "local?max_tokens=64"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SQL:\nSELECT c.name AS category")
    header, rule, *rows = out.split("\n\n")[1].splitlines()
    assert header.split(" | ")[0].strip() == "category" and set(rule) <= {"-", "+"}
    assert len(rows) == 8 and out.rstrip().endswith("Found 8 rows.")
    assert fake_engine.calls[-1]["database"] == f"sqlite:///{sample}"
    assert fake_engine.calls[-1]["model"] == "local?max_tokens=64"


def test_cli_json_carries_rows_chart_and_attempts(fake_engine, sample, capsys):
    from apps.sql_ask import main

    assert main(["What did we sell each month of 2024?", "--json", "--max-attempts", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["columns"] == ["month", "revenue"] and len(out["rows"]) == 12
    assert out["rows"][0][0] == "2024-01" and isinstance(out["rows"][0][1], float)
    assert out["chart"] == {"kind": "line", "x": "month", "y": "revenue"}
    assert [a["error_kind"] for a in out["attempts"]] == ["unknown_identifier", None]
    assert out["error"] is None and fake_engine.calls[-1]["max_attempts"] == 2


def test_cli_exits_1_and_shows_the_attempts_when_nothing_ran(fake_engine, capsys):
    from apps.sql_ask import main

    assert main(["Which warehouse ships fastest?"]) == 1
    captured = capsys.readouterr()
    assert "attempt 1 [unknown_identifier]: SELECT category" in captured.out and "no such table: sales" in captured.out
    assert "error: no query ran successfully after 1 attempt(s); last error: no such table: sales" in captured.err


def test_cli_exits_2_with_the_fix_for_a_missing_database(fake_engine, tmp_path, capsys):
    from apps.sql_ask import main

    assert main(["How many products are there?", "--db", str(tmp_path / "missing.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "No SQLite database at" in err and "check the path" in err


# -- the tool -------------------------------------------------------------------------------------
def test_tool_returns_answer_sql_and_first_rows(fake_engine, sample):
    assert SQL_TOOLS == [ask_database]
    schema = ask_database.args_schema.model_json_schema()
    assert schema["required"] == ["question"] and set(schema["properties"]) == {"question", "database"}
    text = ask_database.invoke({"question": "Break down Q2 2025 revenue per category",
                                "database": str(sample)})
    answer, sql, table = text.split("\n\n")
    assert answer == "Found 8 rows." and sql.startswith("SQL:\nSELECT c.name AS category")
    assert table.startswith("Rows (8 of 8):\ncategory") and len(table.splitlines()) == 1 + 2 + 8


def test_tool_explains_failures_instead_of_raising(fake_engine, tmp_path):
    assert ask_database.invoke({"question": "Which warehouse ships fastest?"}).startswith(
        "Could not answer: no query ran successfully")
    missing = ask_database.invoke({"question": "Top 5 customers", "database": str(tmp_path / "none.db")})
    assert missing.startswith("Could not answer: No SQLite database at")


def test_normalize_accepts_the_flat_result_shape_too():
    flat = {"answer": "Two regions.", "sql": "SELECT 1", "columns": ["region", "n"], "rows": [("West", 3), ("East", 1)],
            "attempts": [{"sql": "SELECT 1", "error_kind": None, "error": None}], "chart": None, "error": None}
    answer = normalize_answer("q", flat)
    assert answer.columns == ["region", "n"] and answer.rows == [("West", 3), ("East", 1)] and answer.error is None
    failed = normalize_answer("q", {**flat, "columns": [], "rows": [], "error": "timeout: stopped"})
    assert failed.error == "timeout: stopped"


# -- the Streamlit page (slow: Streamlit, pandas and Altair take seconds to import) ------------------
@pytest.mark.slow
def test_page_shows_sql_table_chart_attempts_and_history(fake_engine, sample):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "apps" / "ui" / "sql_page.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert at.sidebar.text_input(key="database").value == str(sample)
    assert any("5 tables: categories, customers, order_items, orders, products" in c.value for c in at.sidebar.caption)

    at.chat_input[0].set_value("Break down Q2 2025 revenue per category").run()
    assert not at.exception and not at.error
    assert at.code[0].value.startswith("SELECT c.name AS category")
    assert list(at.dataframe[0].value.columns) == ["category", "revenue"] and len(at.dataframe[0].value) == 8
    assert len(at.get("vega_lite_chart")) == 1  # the bar chart
    assert at.expander[0].label == "Attempts (2, 1 failed)"
    assert "no such table: sales" in [t.value for t in at.expander[0].text]

    at.chat_input[0].set_value("Which warehouse ships fastest?").run()
    assert [e.value for e in at.error] == [
        "no query ran successfully after 1 attempt(s); last error: no such table: sales"]
    at.chat_input[0].set_value("What did we sell each month of 2024?").run()
    assert [m.markdown[0].value for m in at.chat_message if m.name == "user"] == [
        "Break down Q2 2025 revenue per category", "Which warehouse ships fastest?",
        "What did we sell each month of 2024?"]
    assert len(at.dataframe) == 2 and len(at.get("vega_lite_chart")) == 2  # history keeps earlier answers
    assert [c["database"] for c in fake_engine.calls] == [str(sample)] * 3


@pytest.mark.slow
def test_page_explains_a_database_that_does_not_open(fake_engine, tmp_path):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "apps" / "ui" / "sql_page.py"), default_timeout=60)
    at.run()
    at.sidebar.text_input(key="database").set_value(str(tmp_path / "gone.sqlite")).run()
    assert any("No SQLite database at" in e.value for e in at.sidebar.error)


# -- slow: the real server and the real graph -----------------------------------------------------
@pytest.mark.slow
def test_streamlit_app_starts_and_serves_the_page(tmp_path):
    port = free_port()
    with running(python("-m", "apps.sql", "--port", str(port)), f"http://127.0.0.1:{port}/_stcore/health",
                 env={"HEARTH_HOME": str(tmp_path)}, timeout=120, log=tmp_path / "streamlit.log"):
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert page.status_code == 200 and "<title>Streamlit</title>" in page.text
    assert "Starting the SQL app on http://127.0.0.1" in (tmp_path / "streamlit.log").read_text()


@pytest.mark.slow
def test_cli_with_the_real_graph_and_embedded_model(tmp_path):
    """A held-out question (not a stored example): exit code 0 exactly when rows were printed, and then
    they are the gold rows; otherwise 1 with the error on stderr and no rows."""
    sample = ensure_sample_database(tmp_path / "sample_business.sqlite")
    question = "How many customers do we have in each region?"
    done = subprocess.run(python("-m", "apps.sql_ask", question, "--db", str(sample), "--json"),
                          cwd=ROOT, env={**os.environ, "HEARTH_HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=300)
    out = json.loads(done.stdout)
    with SQLDatabase.open(sample) as db:
        gold = db.run("SELECT region, COUNT(*) FROM customers GROUP BY region").rows
    assert out["question"] == question and out["attempts"]
    if out["rows"]:
        assert done.returncode == 0 and out["error"] is None, done.stderr
        assert sorted(map(tuple, out["rows"])) == sorted(gold)
    else:
        assert done.returncode == 1 and out["error"]


@pytest.mark.slow
def test_cli_exits_1_when_the_question_names_what_the_database_lacks(tmp_path):
    sample = ensure_sample_database(tmp_path / "sample_business.sqlite")
    done = subprocess.run(python("-m", "apps.sql_ask", "How many orders came from the Midwest region?", "--db", str(sample)),
                          cwd=ROOT, env={**os.environ, "HEARTH_HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "region 'Midwest'" in done.stderr and "Central, East, North, South, West" in done.stderr
