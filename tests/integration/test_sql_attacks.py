"""The attack list on real SQLite and PostgreSQL databases holding the sample business data.

Each attack is refused by check_sql_read_only and by SQLDatabase.run. Those that would write are also sent
straight to the read-only connection, past the check, to show the next layer holds on its own: on
SQLite the authorizer, then the read-only file (mode=ro); on PostgreSQL the query-only server-side
cursor, then the READ ONLY transaction. After every attack the data is compared with its state
before: the table list, row counts and a checksum of every row.

PostgreSQL needs TEST_POSTGRES_URL (./dev test sets it); the test creates a private schema, loads the
sample data into it and drops it afterwards.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass

import pytest

from tools.sql.sample_business import SAMPLE_TABLES, ensure_sample_database, load_sample_into_postgres
from tools.sql.database import SQLDatabase, SQLExecutionError
from tools.sql.safety import UnsafeSQLError, check_sql_read_only

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(
    not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set: run the suite with ./dev test"))]


@dataclass(frozen=True)
class Attack:
    name: str
    sql: str
    writes: bool  # would change data or schema if it ran: also sent past the check to the connection
    backends: tuple[str, ...] = ("sqlite", "postgres")
    # A SQLite PRAGMA that flips a connection setting: the bare connection accepts it, and
    # test_sqlite_file_stays_read_only_even_with_query_only_switched_off shows the file still refuses writes.
    connection_setting: bool = False


ATTACKS = [
    # statements that change data or schema
    Attack("drop", "DROP TABLE orders", True),
    Attack("delete", "DELETE FROM order_items", True),
    Attack("update", "UPDATE products SET unit_price = 0", True),
    Attack("insert", "INSERT INTO categories (id, name) VALUES (99, 'Stolen goods')", True),
    Attack("alter", "ALTER TABLE customers ADD COLUMN hacked TEXT", True),
    Attack("create", "CREATE TABLE stolen AS SELECT * FROM customers", True),
    Attack("create-index", "CREATE INDEX spy ON orders(customer_id)", True),
    Attack("truncate", "TRUNCATE orders", True, ("postgres",)),
    Attack("attach", "ATTACH DATABASE 'file:/tmp/hearth-attack.db?mode=rwc' AS spy", True, ("sqlite",)),
    Attack("detach", "DETACH DATABASE main", False, ("sqlite",)),
    Attack("pragma-query-only", "PRAGMA query_only = OFF", True, ("sqlite",), connection_setting=True),
    Attack("pragma-writable-schema", "PRAGMA writable_schema = ON", True, ("sqlite",), connection_setting=True),
    Attack("copy-to-file", "COPY orders TO '/tmp/hearth-orders.csv'", True, ("postgres",)),
    Attack("copy-from-program", "COPY orders FROM PROGRAM 'id'", True, ("postgres",)),
    Attack("vacuum", "VACUUM", True),
    Attack("grant", "GRANT ALL ON orders TO PUBLIC", True, ("postgres",)),
    Attack("set-timeout", "SET statement_timeout = 0", False, ("postgres",)),
    Attack("set-read-write", "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", False, ("postgres",)),
    Attack("do-block", "DO $$ BEGIN DELETE FROM orders; END $$", True, ("postgres",)),
    Attack("explain-analyze", "EXPLAIN ANALYZE DELETE FROM orders", True, ("postgres",)),
    Attack("select-into", "SELECT * INTO stolen FROM customers", True, ("postgres",)),
    Attack("cte-delete", "WITH gone AS (DELETE FROM orders RETURNING *) SELECT COUNT(*) FROM gone", True,
           ("postgres",)),
    Attack("cte-update", "WITH u AS (UPDATE products SET unit_price = 0 RETURNING id) SELECT COUNT(*) FROM u", True,
           ("postgres",)),
    Attack("for-update", "SELECT * FROM orders FOR UPDATE", False, ("postgres",)),
    # several statements, comment and quoting tricks
    Attack("stacked", "SELECT 1; DROP TABLE orders", True),
    Attack("stacked-commit", "SELECT 1; COMMIT; DROP TABLE orders", True),
    Attack("begin-drop", "BEGIN; DROP TABLE orders", True),
    Attack("trailing-comment", "SELECT 1; -- DROP TABLE orders", False),
    Attack("comment-hides-second", "SELECT 1 /* harmless */; DELETE FROM orders", True),
    Attack("comment-before-delete", "/* SELECT */ DELETE FROM orders", True),
    Attack("executable-comment", "SELECT 1 /*!50000 ; DROP TABLE orders */", False),
    Attack("zero-width-space", "SELECT 1;\u200bDROP TABLE orders", True),
    Attack("fullwidth-keyword", "ＤＲＯＰ TABLE orders", True),
    Attack("cyrillic-e", "D\u0415LETE FROM orders", True),
    Attack("quoted-keyword", '"DROP" TABLE orders', True),
    Attack("unicode-escape-name", 'SELECT U&"\\0070g_sleep"(5)', False, ("postgres",)),
    # functions with side effects or reach outside the query
    Attack("pg-sleep", "SELECT pg_sleep(30)", False, ("postgres",)),
    Attack("pg-sleep-qualified", "SELECT pg_catalog.pg_sleep(30)", False, ("postgres",)),
    Attack("pg-read-file", "SELECT pg_read_file('/etc/passwd')", False, ("postgres",)),
    Attack("pg-terminate", "SELECT pg_terminate_backend(pg_backend_pid())", False, ("postgres",)),
    Attack("lo-import", "SELECT lo_import('/etc/passwd')", True, ("postgres",)),
    Attack("lo-export", "SELECT lo_export(1, '/tmp/hearth-lo')", False, ("postgres",)),
    Attack("dblink", "SELECT * FROM dblink('dbname=postgres', 'DROP TABLE orders') AS t(a TEXT)", False, ("postgres",)),
    Attack("set-config", "SELECT set_config('default_transaction_read_only', 'off', false)", False, ("postgres",)),
    Attack("nextval", "SELECT nextval('hearth_sequence')", False, ("postgres",)),
    Attack("advisory-lock", "SELECT pg_advisory_lock(42)", False, ("postgres",)),
    Attack("dynamic-sql", "SELECT query_to_xml('DELETE FROM orders', true, false, '')", False, ("postgres",)),
    Attack("load-extension", "SELECT load_extension('/tmp/evil.so')", False, ("sqlite",)),
    Attack("writefile", "SELECT writefile('/tmp/hearth-attack.txt', 'x')", False, ("sqlite",)),
    Attack("readfile", "SELECT readfile('/etc/passwd')", False, ("sqlite",)),
    Attack("fsdir", "SELECT * FROM fsdir('/etc')", False, ("sqlite",)),
    Attack("dbpage", "SELECT * FROM sqlite_dbpage", False, ("sqlite",)),
    Attack("fts3-tokenizer", "SELECT fts3_tokenizer('simple')", False, ("sqlite",)),
]
# Files the attacks would create (the server runs on this machine too).
ATTACK_FILES = ["/tmp/hearth-attack.db", "/tmp/hearth-attack.txt", "/tmp/hearth-orders.csv", "/tmp/hearth-lo"]
ENDLESS_COUNT = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n"
ENDLESS_ROWS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n"


def attack_params(backend: str):
    return [pytest.param(a, id=a.name) for a in ATTACKS if backend in a.backends]


def test_the_attack_list_covers_every_category():
    assert len(ATTACKS) >= 25
    for backend in ("sqlite", "postgres"):
        assert sum(backend in a.backends for a in ATTACKS) >= 25, backend


# -- the two databases, and their fingerprints ----------------------------------------------
@pytest.fixture(scope="module")
def sqlite_sample(tmp_path_factory):
    path = ensure_sample_database(tmp_path_factory.mktemp("attacks") / "business.sqlite")
    yield path
    assert not any(path.parent.glob("*spy*"))


@pytest.fixture(scope="module")
def postgres_sample():
    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL is not set: run the suite with ./dev test")
    import psycopg

    schema = f"hearth_attacks_{uuid.uuid4().hex[:10]}"
    load_sample_into_postgres(POSTGRES_URL, schema=schema)
    admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    admin.execute(f"SET search_path TO {schema}")
    admin.execute("CREATE SEQUENCE hearth_sequence")
    url = POSTGRES_URL + ("&" if "?" in POSTGRES_URL else "?") + f"options=-csearch_path%3D{schema}"
    yield url, admin, schema
    admin.execute(f"DROP SCHEMA {schema} CASCADE")
    admin.close()


def _digest(rows) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def sqlite_fingerprint(path) -> dict:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        objects = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        tables = {t: _digest(conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall()) for t in SAMPLE_TABLES}
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in SAMPLE_TABLES}
    conn.close()
    return {"objects": objects, "rows": tables, "counts": counts}


def postgres_fingerprint(admin, schema) -> dict:
    objects = admin.execute("SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname = %s ORDER BY 1", (schema,)).fetchall()
    columns = admin.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s "
                            "ORDER BY 1, 2", (schema,)).fetchall()
    tables = {t: _digest(admin.execute(f"SELECT * FROM {t} ORDER BY id").fetchall()) for t in SAMPLE_TABLES}
    counts = {t: admin.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in SAMPLE_TABLES}
    sequence = admin.execute("SELECT last_value, is_called FROM hearth_sequence").fetchone()
    return {"objects": objects, "columns": columns, "rows": tables, "counts": counts, "sequence": sequence}


@pytest.fixture(scope="module")
def sqlite_before(sqlite_sample):
    return sqlite_fingerprint(sqlite_sample)


@pytest.fixture(scope="module")
def postgres_before(postgres_sample):
    _, admin, schema = postgres_sample
    return postgres_fingerprint(admin, schema)


def _no_files_written() -> None:
    written = [path for path in ATTACK_FILES if os.path.exists(path)]
    assert not written, f"an attack wrote {written}"


def _refused(db, attack: Attack) -> None:
    with pytest.raises(UnsafeSQLError):
        check_sql_read_only(attack.sql, db.dialect)
    try:
        db.run(attack.sql, timeout_s=2)
    except UnsafeSQLError:
        pass
    except SQLExecutionError as exc:
        assert exc.kind == "syntax", exc  # text that does not parse never reaches the database
    else:
        pytest.fail(f"{attack.name} ran: {attack.sql}")


# -- SQLite ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("attack", attack_params("sqlite"))
def test_sqlite_attack_is_refused_and_changes_nothing(attack, sqlite_sample, sqlite_before):
    with SQLDatabase.open(sqlite_sample) as db:
        _refused(db, attack)
        if attack.writes:
            with pytest.raises(SQLExecutionError):  # past the check: the authorizer (or the driver) refuses
                db._execute(attack.sql, timeout_s=2, max_rows=10)
            if not attack.connection_setting:
                # past the authorizer too: the connection itself (read-only file, query_only, no ATTACH)
                with pytest.raises(sqlite3.Error):
                    db._conn.execute(attack.sql).fetchall()
    assert sqlite_fingerprint(sqlite_sample) == sqlite_before
    _no_files_written()


def test_sqlite_file_stays_read_only_even_with_query_only_switched_off(sqlite_sample, sqlite_before):
    with SQLDatabase.open(sqlite_sample) as db:
        db._conn.execute("PRAGMA query_only = OFF")
        for sql in ("DELETE FROM orders", "DROP TABLE customers", "CREATE TABLE spy (a)"):
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                db._conn.execute(sql)
    assert sqlite_fingerprint(sqlite_sample) == sqlite_before


# -- PostgreSQL -----------------------------------------------------------------------------------
@pytest.mark.parametrize("attack", attack_params("postgres"))
def test_postgres_attack_is_refused_and_changes_nothing(attack, postgres_sample, postgres_before):
    url, admin, schema = postgres_sample
    with SQLDatabase.open(url) as db:
        _refused(db, attack)
        if attack.writes:
            with pytest.raises(SQLExecutionError):  # past the check: a server-side cursor admits one query
                db._execute(attack.sql, timeout_s=2, max_rows=10)
            with pytest.raises(SQLExecutionError):  # past the cursor: the READ ONLY transaction refuses
                db._read(attack.sql, timeout_s=2)
    assert postgres_fingerprint(admin, schema) == postgres_before
    _no_files_written()


def test_postgres_read_only_transaction_names_the_refusal(postgres_sample):
    url, _, _ = postgres_sample
    with SQLDatabase.open(url) as db:
        for sql in ("DELETE FROM orders", "CREATE TABLE spy (a INT)", "UPDATE products SET unit_price = 0"):
            with pytest.raises(SQLExecutionError, match="read-only transaction"):
                db._read(sql)


def test_postgres_sample_matches_the_sqlite_sample(postgres_sample, sqlite_sample):
    url, _, _ = postgres_sample
    query = ("SELECT cu.region, COUNT(DISTINCT o.id), ROUND(SUM(oi.quantity * oi.unit_price), 2) FROM orders o "
             "JOIN customers cu ON cu.id = o.customer_id JOIN order_items oi ON oi.order_id = o.id GROUP BY cu.region "
             "ORDER BY cu.region")
    with SQLDatabase.open(url) as pg, SQLDatabase.open(sqlite_sample) as lite:
        assert pg.tables() == lite.tables()
        assert [(r, n, float(v)) for r, n, v in pg.run(query).rows] == lite.run(query).rows
        assert pg.columns("order_items")[1].references == "orders.id"


# -- timeout and row cap on both backends ---------------------------------------------------------
@pytest.fixture(params=BACKENDS)
def database(request, sqlite_sample):
    if request.param == "sqlite":
        url = str(sqlite_sample)
    else:
        url = request.getfixturevalue("postgres_sample")[0]
    with SQLDatabase.open(url) as db:
        yield db


def test_endless_query_is_stopped_by_the_timeout(database):
    start = time.monotonic()
    with pytest.raises(SQLExecutionError) as stopped:
        database.run(ENDLESS_COUNT, timeout_s=0.5)
    assert stopped.value.kind == "timeout"
    assert time.monotonic() - start < 5
    assert database.run("SELECT COUNT(*) FROM categories").rows == [(8,)]  # usable afterwards


def test_row_cap_stops_an_endless_result(database):
    result = database.run(ENDLESS_ROWS, max_rows=25, timeout_s=5)
    assert result.truncated and [r[0] for r in result.rows] == list(range(1, 26))
    full = database.run("SELECT id FROM customers", max_rows=500)
    assert len(full.rows) == 200 and not full.truncated


def test_error_kinds_agree_across_backends(database):
    cases = {"SELECT revenue FROM orders": "unknown_identifier", "SELECT * FROM shipments": "unknown_identifier",
             "SELECT * FROM orders WHERE": "syntax"}
    for sql, kind in cases.items():
        with pytest.raises(SQLExecutionError) as failed:
            database.run(sql)
        assert failed.value.kind == kind, (sql, failed.value)
