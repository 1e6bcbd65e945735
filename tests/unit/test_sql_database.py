"""SQLDatabase on a small SQLite file: schema, values, read-only execution, timeout, row cap, error kinds,
and clear errors for databases that cannot be opened. PostgreSQL: tests/integration/test_sql_attacks.py."""

from __future__ import annotations

import doctest
import sqlite3
import time

import pytest

import tools.sql.database
from tools.sql.database import Column, SQLConnectionError, SQLDatabase, SQLExecutionError
from tools.sql.safety import UnsafeSQLError

ENDLESS_COUNT = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n"
ENDLESS_ROWS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n"


@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE regions (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            CREATE TABLE stores (id INTEGER PRIMARY KEY, city TEXT, region_id INTEGER REFERENCES regions(id));
            CREATE TABLE sales (id INTEGER PRIMARY KEY, store_id INTEGER REFERENCES stores, amount REAL, day DATE);
            INSERT INTO regions VALUES (1, 'West'), (2, 'East');
            INSERT INTO stores VALUES (1, 'Bristol', 1), (2, 'Bath', 1), (3, 'Norwich', 2);
            INSERT INTO sales VALUES (1, 1, 10.5, '2025-01-02'), (2, 1, 20, '2025-01-03'), (3, 3, 7, '2025-02-01');
        """)
    conn.close()
    return path


def test_opens_a_path_or_a_sqlite_url_read_only(shop):
    for target in (shop, str(shop), f"sqlite:///{shop}"):
        with SQLDatabase.open(target) as db:
            assert db.dialect == "sqlite"
            assert db.tables() == ["regions", "sales", "stores"]


def test_columns_carry_types_primary_and_foreign_keys(shop):
    with SQLDatabase.open(shop) as db:
        assert db.columns("stores") == [Column("id", "INTEGER", True, None), Column("city", "TEXT", False, None),
                                        Column("region_id", "INTEGER", False, "regions.id")]
        assert db.columns("SALES")[1].references == "stores.id"  # REFERENCES stores = its primary key
        ddl = db.ddl(["stores"])
        assert ddl.startswith("CREATE TABLE stores (") and "region_id INTEGER REFERENCES regions(id)" in ddl
        assert db.ddl().count("CREATE TABLE") == 3
        with pytest.raises(ValueError, match="unknown table 'shops'; tables: regions, sales, stores"):
            db.columns("shops")


def test_distinct_values_most_frequent_first(shop):
    with SQLDatabase.open(shop) as db:
        assert db.distinct_values("stores", "region_id") == [1, 2]
        assert db.distinct_values("sales", "store_id", limit=1) == [1]
        with pytest.raises(ValueError, match="unknown column 'town' in stores; columns: id, city, region_id"):
            db.distinct_values("stores", "town")


def test_run_returns_columns_rows_and_elapsed_time(shop):
    with SQLDatabase.open(shop) as db:
        result = db.run("SELECT s.city, SUM(x.amount) AS total FROM sales x JOIN stores s ON s.id = x.store_id "
                        "GROUP BY s.city ORDER BY total DESC")
    assert result.columns == ["city", "total"]
    assert result.rows == [("Bristol", 30.5), ("Norwich", 7.0)]
    assert result.truncated is False and result.elapsed_s >= 0


def test_row_cap_truncates_even_an_endless_result(shop):
    with SQLDatabase.open(shop) as db:
        result = db.run(ENDLESS_ROWS, max_rows=5)
    assert result.rows == [(1,), (2,), (3,), (4,), (5,)] and result.truncated


def test_timeout_stops_an_endless_query(shop):
    with SQLDatabase.open(shop) as db:
        start = time.monotonic()
        with pytest.raises(SQLExecutionError) as stopped:
            db.run(ENDLESS_COUNT, timeout_s=0.3)
        assert stopped.value.kind == "timeout" and time.monotonic() - start < 3
        assert db.run("SELECT COUNT(*) FROM sales").rows == [(3,)]  # the connection is still usable


@pytest.mark.parametrize("sql, kind", [
    ("SELECT revenue FROM sales", "unknown_identifier"),
    ("SELECT * FROM shops", "unknown_identifier"),
    ("SELEC * FROM sales", "syntax"),
    ("SELECT * FROM sales WHERE", "syntax"),
    ("SELECT * FROM sales s JOIN stores t ON t.id = s.store_id WHERE id = 1", "unknown_identifier"),  # ambiguous
])
def test_errors_are_classified(shop, sql, kind):
    with SQLDatabase.open(shop) as db, pytest.raises(SQLExecutionError) as failed:
        db.run(sql)
    assert failed.value.kind == kind and failed.value.message


def test_unsafe_sql_is_refused_before_execution(shop):
    with SQLDatabase.open(shop) as db:
        with pytest.raises(UnsafeSQLError, match="DELETE"):
            db.run("DELETE FROM sales")
        assert db.run("SELECT COUNT(*) FROM sales").rows == [(3,)]


@pytest.mark.parametrize("sql", ["DELETE FROM sales", "DROP TABLE sales", "INSERT INTO regions VALUES (3, 'North')",
                                 "ATTACH DATABASE ':memory:' AS other", "PRAGMA query_only = OFF",
                                 "SELECT load_extension('x')"])
def test_the_connection_refuses_writes_without_the_check(shop, sql):
    """Defence in depth: past check_sql_read_only, the authorizer refuses; past the authorizer, mode=ro does."""
    with SQLDatabase.open(shop) as db:
        with pytest.raises(SQLExecutionError, match="not authorized"):
            db._execute(sql, timeout_s=1, max_rows=10)
        if sql.startswith(("DELETE", "DROP", "INSERT")):
            db._conn.execute("PRAGMA query_only = OFF")  # even with query_only off, the file is opened read-only
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                db._conn.execute(sql)
    with sqlite3.connect(shop) as check:
        assert check.execute("SELECT COUNT(*) FROM sales").fetchone() == (3,)
        assert check.execute("SELECT COUNT(*) FROM regions").fetchone() == (2,)


@pytest.mark.parametrize("target, message", [
    ("/no/such/file.sqlite", "No SQLite database at /no/such/file.sqlite: check the path"),
    ("sqlite://", "in-memory SQLite database is empty"),
    ("nosuchdb://host/x", "Unknown database URL nosuchdb://host/x .*: use a SQLite path"),
    ("", "No database given"),
])
def test_databases_that_cannot_open_say_how_to_fix_it(target, message):
    with pytest.raises(SQLConnectionError, match=message):
        SQLDatabase.open(target)


def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello " * 200)
    with pytest.raises(SQLConnectionError, match="notes.txt is not a readable SQLite database"):
        SQLDatabase.open(text)


def test_an_unreachable_postgres_server_is_a_clear_error():
    message = r"Could not connect to PostgreSQL at postgresql://u:\*\*\*@127.0.0.1:1/db.*start the server"
    with pytest.raises(SQLConnectionError, match=message):
        SQLDatabase.open("postgresql://u:secret@127.0.0.1:1/db?connect_timeout=2")


def test_other_sqlalchemy_urls_work_best_effort(shop):
    with SQLDatabase.open(f"sqlite+pysqlite:///{shop}") as db:
        assert db.dialect == "sqlite" and db.tables() == ["regions", "sales", "stores"]
        assert db.columns("stores")[2] == Column("region_id", "INTEGER", False, "regions.id")
        assert db.run("SELECT COUNT(*) AS n FROM sales").rows == [(3,)]
        with pytest.raises(SQLExecutionError) as failed:
            db.run("SELECT nope FROM sales")
        assert failed.value.kind == "unknown_identifier"


def test_unknown_error_kinds_are_a_programming_error():
    with pytest.raises(ValueError, match="unknown error kind"):
        SQLExecutionError("mystery", "x")


def test_docstring_examples():
    result = doctest.testmod(tools.sql.database, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
