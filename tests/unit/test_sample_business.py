"""The sample business database: deterministic, covers the periods and regions business questions ask
about, and its few-shot examples and documentation hold."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest

from tools.sql.sample_business import (SAMPLE_DOCUMENTATION, SAMPLE_EXAMPLES, SAMPLE_TABLES, SAMPLE_VERSION,
                                   ensure_sample_database, generate_sample_rows)
from tools.sql.database import SQLDatabase
from tools.sql.safety import check_sql_read_only

# Pinned so an accidental change to the generator is caught; on a deliberate change, bump
# SAMPLE_VERSION (existing files are then regenerated) and update this digest.
ROWS_DIGEST = "14db562787ff6bca2746f09c5e24bfb130685696e6e3dc05930ee4e8561cdcb9"

# The roadmap's business questions, with SQL a person would write: the data must give them answers.
DEMO_QUESTIONS = {
    "What were our total sales in Q2 2025 by product category?":
        "SELECT c.name, SUM(oi.quantity * oi.unit_price) FROM order_items oi JOIN orders o ON o.id = oi.order_id "
        "JOIN products p ON p.id = oi.product_id JOIN categories c ON c.id = p.category_id "
        "WHERE o.order_date >= '2025-04-01' AND o.order_date < '2025-07-01' GROUP BY c.name",
    "Top 5 customers by revenue":
        "SELECT cu.name, SUM(oi.quantity * oi.unit_price) AS revenue FROM customers cu "
        "JOIN orders o ON o.customer_id = cu.id "
        "JOIN order_items oi ON oi.order_id = o.id GROUP BY cu.name ORDER BY revenue DESC LIMIT 5",
    "Monthly revenue in 2024":
        "SELECT strftime('%Y-%m', o.order_date) AS month, SUM(oi.quantity * oi.unit_price) FROM orders o "
        "JOIN order_items oi ON oi.order_id = o.id WHERE o.order_date LIKE '2024-%' GROUP BY month",
    "How many orders came from the West region last quarter?":
        "SELECT COUNT(*) FROM orders o JOIN customers cu ON cu.id = o.customer_id "
        "WHERE cu.region = 'West' AND o.order_date >= '2025-10-01' AND o.order_date < '2026-01-01'",
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return ensure_sample_database(tmp_path_factory.mktemp("sample") / "business.sqlite")


def _contents(path) -> dict:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in SAMPLE_TABLES}


def test_generation_is_deterministic_and_pinned():
    first, second = generate_sample_rows(), generate_sample_rows()
    assert first == second
    assert hashlib.sha256(json.dumps(first, sort_keys=True).encode()).hexdigest() == ROWS_DIGEST
    assert generate_sample_rows(seed=7) != first


def test_two_files_hold_the_same_rows(sample, tmp_path):
    other = ensure_sample_database(tmp_path / "again.sqlite")
    assert _contents(other) == _contents(sample)
    expected = {table: len(rows) for table, rows in generate_sample_rows().items()}
    assert {table: len(rows) for table, rows in _contents(sample).items()} == expected


def test_an_existing_file_is_reused_and_an_old_version_rebuilt(tmp_path):
    path = ensure_sample_database(tmp_path / "b.sqlite")
    stamp = path.stat().st_mtime_ns
    assert ensure_sample_database(path) == path and path.stat().st_mtime_ns == stamp
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SAMPLE_VERSION - 1}")
        conn.execute("DELETE FROM orders")
    conn.close()
    ensure_sample_database(path)
    assert len(_contents(path)["orders"]) == len(generate_sample_rows()["orders"])


def test_default_location_is_the_data_home(private_data_home):
    path = ensure_sample_database()
    assert path == private_data_home / "sample_business.sqlite" and path.is_file()


def test_orders_cover_every_quarter_and_region(sample):
    with SQLDatabase.open(sample) as db:
        cells = db.run("SELECT strftime('%Y', o.order_date) || '-Q' "
                       "|| ((CAST(strftime('%m', o.order_date) AS INTEGER) + 2) / 3) "
                       "AS quarter, cu.region, COUNT(*) FROM orders o JOIN customers cu ON cu.id = o.customer_id "
                       "GROUP BY quarter, cu.region").rows
        assert {q for q, _, _ in cells} == {f"{y}-Q{q}" for y in (2024, 2025) for q in (1, 2, 3, 4)}
        assert {r for _, r, _ in cells} == {"North", "South", "East", "West", "Central"}
        assert len(cells) == 8 * 5 and min(n for _, _, n in cells) >= 10
        segments = dict(db.run("SELECT segment, COUNT(*) FROM customers GROUP BY segment").rows)
        assert set(segments) == {"Enterprise", "SMB", "Consumer"}
        assert db.run("SELECT COUNT(*) FROM order_items WHERE quantity <= 0 OR unit_price <= 0").rows == [(0,)]
        assert db.run("SELECT COUNT(*) FROM orders o LEFT JOIN order_items oi ON oi.order_id = o.id "
                      "WHERE oi.id IS NULL").rows == [(0,)]  # every order has items


@pytest.mark.parametrize("question", list(DEMO_QUESTIONS))
def test_the_roadmap_questions_have_answers(sample, question):
    with SQLDatabase.open(sample) as db:
        rows = db.run(DEMO_QUESTIONS[question]).rows
    assert rows and all(value not in (None, 0) for row in rows for value in row)
    if "category" in question:
        assert len(rows) == 8
    if "Monthly" in question:
        assert len(rows) == 12
    if "Top 5" in question:
        revenues = [r[1] for r in rows]
        assert len(rows) == 5 and revenues == sorted(revenues, reverse=True) and revenues[0] > revenues[-1]


def test_few_shot_examples_are_valid_and_return_rows(sample):
    assert 10 <= len(SAMPLE_EXAMPLES) <= 20
    assert len({e["question"] for e in SAMPLE_EXAMPLES}) == len(SAMPLE_EXAMPLES)
    # The examples teach the patterns; the roadmap questions themselves stay out of the store.
    assert not set(DEMO_QUESTIONS) & {e["question"] for e in SAMPLE_EXAMPLES}
    with SQLDatabase.open(sample) as db:
        for example in SAMPLE_EXAMPLES:
            assert set(example) == {"question", "sql"}
            check_sql_read_only(example["sql"], "sqlite")
            assert db.run(example["sql"]).rows, example["question"]


def test_documentation_names_the_tables_and_the_revenue_rule():
    text = " ".join(SAMPLE_DOCUMENTATION)
    assert all(isinstance(d, str) and d for d in SAMPLE_DOCUMENTATION)
    assert "quantity * order_items.unit_price" in text and "Q4 2025" in text
    assert all(table in text for table in SAMPLE_TABLES)
