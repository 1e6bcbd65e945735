"""check_sql_read_only: one read-only SELECT passes (regenerated, comments dropped); everything else is refused
with a message that says why. The full attack list against real databases is in
tests/integration/test_sql_attacks.py."""

from __future__ import annotations

import doctest

import pytest

import tools.sql.safety
from tools.sql.safety import SQLParseError, UnsafeSQLError, check_sql_read_only

DIALECTS = ["sqlite", "postgres"]

HARMLESS = [
    "SELECT name FROM customers WHERE region = 'West'",
    "select c.name, sum(oi.quantity * oi.unit_price) from customers c join orders o on o.customer_id = c.id "
    "join order_items oi on oi.order_id = o.id group by c.name order by 2 desc limit 5",
    "WITH recent AS (SELECT * FROM orders WHERE order_date >= '2025-10-01') SELECT COUNT(*) FROM recent",
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT SUM(i) FROM n",
    "SELECT region FROM customers UNION SELECT name FROM categories",
    "SELECT id FROM orders INTERSECT SELECT order_id FROM order_items",
    "SELECT id FROM products EXCEPT SELECT product_id FROM order_items",
    "(SELECT 1)",
    "SELECT name, RANK() OVER (ORDER BY unit_price DESC) AS r FROM products",
    "SELECT 'x; DROP TABLE orders; --' AS text_that_looks_dangerous",
    'SELECT "delete" FROM (SELECT 1 AS "delete") AS t',
    "SELECT * FROM customers WHERE name = 'O''Brien'",
    "SELECT pg_typeof(1)",
    "SELECT * FROM pg_tables",
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("sql", HARMLESS)
def test_read_only_queries_pass_and_parse_back_to_the_same_query(sql, dialect):
    import sqlglot

    checked = check_sql_read_only(sql, dialect)
    assert sqlglot.parse_one(checked, read=dialect) == sqlglot.parse_one(sql, read=dialect)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_comments_are_dropped_and_a_trailing_semicolon_is_fine(dialect):
    assert check_sql_read_only("SELECT 1 /* note */ -- more\n;", dialect) == "SELECT 1"


@pytest.mark.parametrize("sql, reason", [
    ("DROP TABLE orders", "a DROP statement (it changes the database)"),
    ("DELETE FROM orders", "a DELETE statement"),
    ("UPDATE products SET unit_price = 0", "an UPDATE statement"),
    ("INSERT INTO categories (id, name) VALUES (9, 'x')", "an INSERT statement"),
    ("ALTER TABLE customers ADD COLUMN x TEXT", "an ALTER statement"),
    ("CREATE TABLE copy AS SELECT * FROM customers", "a CREATE statement"),
    ("ATTACH DATABASE '/tmp/other.db' AS other", "an ATTACH statement"),
    ("DETACH DATABASE other", "a DETACH statement"),
    ("PRAGMA query_only = OFF", "a PRAGMA statement"),
    ("VACUUM", "a VACUUM command"),
    ("SELECT 1; DROP TABLE orders", "2 statements"),
    ("SELECT 1; -- DROP TABLE orders", "text after the statement's ';'"),
    ("SELECT 1 /* */; DELETE FROM orders", "2 statements"),
    ("WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone", "contains a DELETE statement"),
    ("SELECT * INTO stolen FROM customers", "SELECT INTO"),
    ("SELECT load_extension('/tmp/evil.so')", "function load_extension()"),
    ("SELECT writefile('/tmp/x', 'data')", "function writefile()"),
    ("SELECT * FROM fsdir('/etc')", "function fsdir()"),
])
def test_sqlite_refusals_say_why(sql, reason):
    with pytest.raises(UnsafeSQLError, match="refused") as refused:
        check_sql_read_only(sql, "sqlite")
    assert reason in str(refused.value)


@pytest.mark.parametrize("sql, reason", [
    ("COPY orders TO '/tmp/orders.csv'", "a COPY statement"),
    ("GRANT ALL ON orders TO PUBLIC", "a GRANT statement"),
    ("SET statement_timeout = 0", "a SET statement"),
    ("SELECT * FROM orders FOR UPDATE", "locking clause"),
    ("SELECT pg_sleep(10)", "function pg_sleep()"),
    ("SELECT pg_catalog.pg_sleep(10)", "function pg_sleep()"),
    ('SELECT "PG_SLEEP"(10)', "function pg_sleep()"),
    ("SELECT pg_read_file('/etc/passwd')", "function pg_read_file()"),
    ("SELECT pg_terminate_backend(1)", "function pg_terminate_backend()"),
    ("SELECT lo_import('/etc/passwd')", "function lo_import()"),
    ("SELECT * FROM dblink('dbname=x', 'SELECT 1') AS t(a INT)", "function dblink()"),
    ("SELECT set_config('default_transaction_read_only', 'off', false)", "function set_config()"),
    ("SELECT nextval('orders_id_seq')", "function nextval()"),
    ("SELECT pg_advisory_lock(1)", "function pg_advisory_lock()"),
    ("SELECT query_to_xml('DELETE FROM orders', true, false, '')", "function query_to_xml()"),
    ('SELECT U&"\\0070g_sleep"(1)', "unicode escapes"),
    ("DO $$ BEGIN DELETE FROM orders; END $$", "a DO command"),
    ("SELECT 1 /*! ; DROP TABLE orders */", "executable"),
])
def test_postgres_refusals_say_why(sql, reason):
    with pytest.raises(UnsafeSQLError, match="refused") as refused:
        check_sql_read_only(sql, "postgres")
    assert reason in str(refused.value)


@pytest.mark.parametrize("sql", ["ＤＲＯＰ TABLE orders", "D\u0415LETE FROM orders",
                                 "SELECT 1;\u200bDROP TABLE orders", "SELEC name FROM customers", ""])
def test_text_that_does_not_parse_is_refused_as_a_syntax_error(sql):
    with pytest.raises(SQLParseError, match="syntax error|empty"):
        check_sql_read_only(sql, "sqlite")


def test_parse_errors_are_also_refusals():
    assert issubclass(SQLParseError, UnsafeSQLError)  # `except UnsafeSQLError` never lets unparsed SQL through


def test_docstring_examples():
    result = doctest.testmod(tools.sql.safety, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
