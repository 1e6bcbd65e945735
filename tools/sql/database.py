"""Read-only access to a SQL database: schema, sample values, and queries with a timeout and a row cap.

    from tools.sql.database import SQLDatabase
    db = SQLDatabase.open(".hearth/sample_business.sqlite")        # or sqlite:///PATH, postgresql://...
    db.tables()                     # ['categories', 'customers', 'order_items', 'orders', 'products']
    print(db.ddl(["orders"]))       # CREATE TABLE orders (...) with primary and foreign keys
    result = db.run("SELECT region, COUNT(*) FROM customers GROUP BY region", timeout_s=5, max_rows=500)
    result.columns, result.rows, result.truncated

One protocol (SQLDatabase), one implementation per backend:
- SQLite (a path or sqlite:///PATH): opened with `mode=ro`, `PRAGMA query_only=ON`, a limit of zero
  attached databases, and an authorizer that only permits reads while a query runs; the timeout is a
  progress handler that interrupts the query.
- PostgreSQL (postgresql://...): psycopg 3; every statement runs in its own `BEGIN READ ONLY`
  transaction with `SET LOCAL statement_timeout`, always rolled back, through a server-side cursor
  (one query only, rows computed as fetched, so the row cap stops it); the session also defaults to
  read-only transactions.
- Any other SQLAlchemy URL: best effort (each query rolled back; MySQL sessions set READ ONLY; no
  server-side timeout).
`run()` first passes the SQL through tools.sql.safety.check_sql_read_only and executes the regenerated text:
an unsafe statement raises UnsafeSQLError, SQL that does not parse raises SQLExecutionError("syntax"),
and a failure in the database raises SQLExecutionError(kind) with kind one of ERROR_KINDS.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import quote

import sqlglot
from sqlglot import exp

from tools.sql.safety import SQLParseError, check_sql_read_only

# The one taxonomy of what went wrong with a query, shared by the database layer (execution errors),
# validation (before execution) and the text-to-SQL graph (the feedback a regeneration gets).
# ungrounded: an adapted example filters on something the question does not ask for, or leaves out a value
# the question names (refused unrun);
# not_in_database: the question names a table, column or value the database does not hold.
ERROR_KINDS = ("syntax", "unknown_identifier", "type", "empty_result", "timeout", "unsafe", "ungrounded",
               "not_in_database", "other")

# SQLAlchemy backend names -> sqlglot dialect names.
SQLGLOT_DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql",
                    "mssql": "tsql", "oracle": "oracle", "duckdb": "duckdb", "snowflake": "snowflake",
                    "bigquery": "bigquery", "trino": "trino", "clickhouse": "clickhouse"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    primary_key: bool = False
    references: str | None = None  # "table.column" of a foreign key


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]
    truncated: bool  # more rows existed than max_rows
    elapsed_s: float


class SQLExecutionError(RuntimeError):
    """The database refused or aborted a query; `kind` says what to fix (see ERROR_KINDS)."""

    def __init__(self, kind: str, message: str):
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {kind!r}; use one of {ERROR_KINDS}")
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class SQLConnectionError(ValueError):
    """The database could not be opened; the message names the fix."""


class SQLDatabase:
    """A read-only database. Open one with SQLDatabase.open(url_or_path); use it as a context manager."""

    dialect: str = ""
    display_url: str = ""
    _tables: list[str] | None = None  # schema caches, filled on first use
    _columns_by_table: dict[str, list[Column]] | None = None

    @classmethod
    def open(cls, url_or_path: str | Path) -> "SQLDatabase":
        """Open a SQLite file (path or sqlite:///PATH), a PostgreSQL server, or any SQLAlchemy URL."""
        text = str(url_or_path).strip()
        if not text:
            raise SQLConnectionError("No database given: pass a SQLite path, sqlite:///PATH or "
                                     "postgresql://USER:PASS@HOST/DB")
        if "://" not in text:
            return SQLiteDatabase(Path(text))
        scheme = text.split("://", 1)[0].lower()
        if scheme == "sqlite":
            path = text.split("://", 1)[1]
            if path in ("", "/", "/:memory:"):
                raise SQLConnectionError("An in-memory SQLite database is empty: give a file, sqlite:///PATH")
            return SQLiteDatabase(Path(path[1:] if path.startswith("/") else path))
        if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
            return PostgresDatabase(text)
        return SQLAlchemyDatabase(text)

    # --- schema -------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        """Tables and views, sorted (cached; refresh_schema() forgets the cache)."""
        if self._tables is None:
            self._tables = sorted(self._list_tables())
        return list(self._tables)

    def columns(self, table: str) -> list[Column]:
        """The table's columns in order; `table` is matched case-insensitively."""
        name = self._resolve_table(table)
        if self._columns_by_table is None:
            self._columns_by_table = {}
        if name not in self._columns_by_table:
            self._columns_by_table[name] = self._list_columns(name)
        return list(self._columns_by_table[name])

    def refresh_schema(self) -> None:
        self._tables = self._columns_by_table = None

    def ddl(self, tables: Sequence[str] | None = None) -> str:
        """CREATE TABLE statements (types, primary and foreign keys) for the given tables, or all of them."""
        return "\n\n".join(_create_table(self._resolve_table(t), self.columns(t)) for t in (tables or self.tables()))

    def distinct_values(self, table: str, column: str, limit: int = 50) -> list:
        """The column's non-null values, most frequent first (for linking literals in a question)."""
        table = self._resolve_table(table)
        names = {c.name.lower(): c.name for c in self.columns(table)}
        if column.lower() not in names:
            raise ValueError(f"unknown column {column!r} in {table}; columns: {', '.join(names.values())}")
        col = exp.column(names[column.lower()], quoted=True)
        query = (sqlglot.select(col).from_(exp.Table(this=exp.to_identifier(table, quoted=True)))
                 .where(col.copy().is_(exp.null()).not_()).group_by(col.copy())
                 .order_by(exp.Ordered(this=exp.Count(this=exp.Star()), desc=True), col.copy()).limit(int(limit)))
        return [row[0] for row in self.run(query.sql(dialect=self.dialect), max_rows=int(limit)).rows]

    def _resolve_table(self, table: str) -> str:
        tables = self.tables()
        if table in tables:
            return table
        by_lower = {t.lower(): t for t in tables}
        if table.lower() in by_lower:
            return by_lower[table.lower()]
        raise ValueError(f"unknown table {table!r}; tables: {', '.join(tables) or '(none)'}")

    # --- queries ------------------------------------------------------------------------------
    def run(self, sql: str, *, timeout_s: float = 5.0, max_rows: int = 500) -> QueryResult:
        """Check that `sql` is one read-only SELECT, then run it with a timeout and a row cap."""
        try:
            safe_sql = check_sql_read_only(sql, self.dialect)
        except SQLParseError as exc:
            raise SQLExecutionError("syntax", str(exc)) from exc
        return self._execute(safe_sql, timeout_s=timeout_s, max_rows=max_rows)

    def _execute(self, sql: str, *, timeout_s: float, max_rows: int) -> QueryResult:
        """Run `sql` on the read-only connection WITHOUT the safety check (tests prove the connection holds)."""
        raise NotImplementedError

    def _list_tables(self) -> list[str]:
        raise NotImplementedError

    def _list_columns(self, table: str) -> list[Column]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "SQLDatabase":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.display_url!r})"


def _create_table(table: str, columns: list[Column]) -> str:
    lines = []
    for c in columns:
        line = f"  {c.name} {c.type or 'TEXT'}"
        if c.primary_key:
            line += " PRIMARY KEY"
        if c.references:
            ref_table, _, ref_column = c.references.rpartition(".")
            line += f" REFERENCES {ref_table}({ref_column})"
        lines.append(line)
    return f"CREATE TABLE {table} (\n" + ",\n".join(lines) + "\n);"


def classify_error_message(message: str) -> str:
    """Map a database error message to one of ERROR_KINDS (used where no error code is available).

    >>> classify_error_message("no such column: revenue")
    'unknown_identifier'
    >>> classify_error_message('near "FORM": syntax error')
    'syntax'
    >>> classify_error_message("interrupted")
    'timeout'
    """
    text = message.lower()
    if re.search(r"interrupted|timeout|timed out|canceling statement|max_execution_time", text):
        return "timeout"
    if re.search(r"syntax error|incomplete input|unrecognized token|you have an error in your sql", text):
        return "syntax"
    if re.search(r"datatype mismatch|invalid input syntax for type|cannot be cast|cannot cast|operator does not exist"
                 r"|type mismatch|conversion failed", text):
        return "type"
    if re.search(r"no such (column|table|function)|does not exist|unknown (column|table)|doesn't exist"
                 r"|invalid (column|object) name|ambiguous column", text):
        return "unknown_identifier"
    return "other"


def redact_url(url: str) -> str:
    """Hide the password in a database URL.

    >>> redact_url("postgresql://hearth:secret@127.0.0.1:5432/db")
    'postgresql://hearth:***@127.0.0.1:5432/db'
    """
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# --- SQLite --------------------------------------------------------------------------------------
_SQLITE_READ_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, getattr(sqlite3, "SQLITE_RECURSIVE", 33)}


def _authorize_reads_only(action: int, arg1, arg2, database, source) -> int:
    from tools.sql.safety import _is_forbidden_function

    if action in _SQLITE_READ_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and not _is_forbidden_function(str(arg2).lower()):
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


class SQLiteDatabase(SQLDatabase):
    dialect = "sqlite"

    def __init__(self, path: Path):
        path = Path(path).expanduser()
        self.display_url = str(path)
        if not path.is_file():
            raise SQLConnectionError(
                f"No SQLite database at {path}: check the path, or create the sample with "
                "`python -c \"from tools.sql.sample_business import ensure_sample_database as e; print(e())\"`")
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        try:
            self._conn.execute("PRAGMA query_only = ON")
            self._conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)  # no ATTACH, not even of a new writable file
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise SQLConnectionError(f"{path} is not a readable SQLite database ({_first_line(exc)}): "
                                     "give the path of a .sqlite/.db file") from exc

    def _list_tables(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                                      "AND name NOT LIKE 'sqlite_%'").fetchall()
        return [r[0] for r in rows]

    def _list_columns(self, table: str) -> list[Column]:
        with self._lock:
            info = self._conn.execute("SELECT name, type, pk FROM pragma_table_info(?)", (table,)).fetchall()
            keys = self._conn.execute('SELECT "from", "table", "to" FROM pragma_foreign_key_list(?)',
                                      (table,)).fetchall()
        references = {}
        for source, target_table, target_column in keys:
            if target_column is None:  # REFERENCES t without a column means t's primary key
                target_column = next((c.name for c in self._list_columns(target_table) if c.primary_key), "rowid")
            references[source] = f"{target_table}.{target_column}"
        return [Column(name, type_, bool(pk), references.get(name)) for name, type_, pk in info]

    def _execute(self, sql: str, *, timeout_s: float, max_rows: int) -> QueryResult:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._conn.set_authorizer(_authorize_reads_only)
            self._conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
            start = time.perf_counter()
            try:
                cursor = self._conn.execute(sql)
                rows = cursor.fetchmany(max_rows + 1)
                columns = [d[0] for d in cursor.description or []]
                cursor.close()
            except sqlite3.Error as exc:
                message = _first_line(exc)
                kind = "timeout" if message == "interrupted" else classify_error_message(message)
                if kind == "timeout":
                    message = f"the query ran longer than {timeout_s:g} s and was stopped"
                raise SQLExecutionError(kind, message) from exc
            finally:
                self._conn.set_progress_handler(None, 0)
                self._conn.set_authorizer(None)
                if self._conn.in_transaction:
                    self._conn.rollback()
        return QueryResult(columns, [tuple(r) for r in rows[:max_rows]], len(rows) > max_rows,
                           time.perf_counter() - start)

    def close(self) -> None:
        self._conn.close()


# --- PostgreSQL ----------------------------------------------------------------------------------
_PG_KIND_BY_SQLSTATE = {"42601": "syntax", "42703": "unknown_identifier", "42P01": "unknown_identifier",
                        "42704": "unknown_identifier", "42702": "unknown_identifier", "42P02": "unknown_identifier",
                        "42804": "type", "42846": "type", "42P18": "type", "42725": "type", "57014": "timeout"}
_PG_BUILTIN_FUNCTIONS = {"sum", "avg", "min", "max", "count", "round", "abs", "extract", "date_trunc", "to_char",
                         "substr", "substring", "length", "lower", "upper", "coalesce", "strftime"}

_PG_TABLES = """SELECT DISTINCT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND n.nspname = ANY (current_schemas(false))"""
_PG_COLUMNS = """SELECT a.attname, format_type(a.atttypid, a.atttypmod),
  EXISTS (SELECT 1 FROM pg_constraint p
          WHERE p.conrelid = a.attrelid AND p.contype = 'p' AND a.attnum = ANY (p.conkey)),
  (SELECT r.relname || '.' || ra.attname FROM pg_constraint f
     JOIN pg_class r ON r.oid = f.confrelid
     JOIN pg_attribute ra ON ra.attrelid = f.confrelid AND ra.attnum = f.confkey[array_position(f.conkey, a.attnum)]
   WHERE f.conrelid = a.attrelid AND f.contype = 'f' AND a.attnum = ANY (f.conkey) LIMIT 1)
FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"""


def postgres_conninfo(url: str) -> str:
    """psycopg's form of a PostgreSQL URL: no SQLAlchemy driver suffix, a connect timeout by default.

    >>> postgres_conninfo("postgresql+psycopg://u:p@db/x")
    'postgresql://u:p@db/x?connect_timeout=5'
    """
    url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url.strip())
    if "connect_timeout=" not in url:
        url += ("&" if "?" in url else "?") + "connect_timeout=5"
    return url


class PostgresDatabase(SQLDatabase):
    dialect = "postgres"

    def __init__(self, url: str):
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        self.display_url = redact_url(url)
        self._lock = threading.Lock()
        try:
            params = conninfo_to_dict(postgres_conninfo(url))
            # Appended to the URL's own options (a search_path, say): later transactions default to read-only.
            params["options"] = f"{params.get('options') or ''} -c default_transaction_read_only=on".strip()
            self._conninfo = make_conninfo(**params)
            self._conn = self._connect()
        except psycopg.Error as exc:
            raise SQLConnectionError(f"Could not connect to PostgreSQL at {self.display_url} ({_first_line(exc)}): "
                                     "start the server (bash scripts/postgres.sh) or fix the URL") from exc

    def _connect(self):
        import psycopg

        return psycopg.connect(self._conninfo, autocommit=True)

    @contextmanager
    def _read_only_transaction(self, timeout_s: float):
        """BEGIN READ ONLY + SET LOCAL statement_timeout; always rolled back; errors become SQLExecutionError."""
        import psycopg

        with self._lock:
            try:
                self._conn.execute("BEGIN READ ONLY")
                self._conn.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
                yield self._conn
            except psycopg.Error as exc:
                raise SQLExecutionError(_classify_postgres(exc), _first_line(exc)) from exc
            finally:
                try:
                    self._conn.execute("ROLLBACK")
                except psycopg.Error:  # the statement left the connection unusable (a COPY, say): start afresh
                    self._conn.close()
                    self._conn = self._connect()

    def _read(self, sql: str, params: tuple | None = None, timeout_s: float = 10.0) -> list[tuple]:
        """All rows of one statement in a READ ONLY transaction (schema queries). prepare=True keeps it to
        exactly one statement even without parameters: "SELECT 1; COMMIT; DROP ..." is refused by the server."""
        with self._read_only_transaction(timeout_s) as conn:
            with conn.cursor() as cursor:
                cursor.execute(sql, params, prepare=True)
                return [tuple(r) for r in cursor.fetchall()] if cursor.description else []

    def _list_tables(self) -> list[str]:
        return [r[0] for r in self._read(_PG_TABLES)]

    def _list_columns(self, table: str) -> list[Column]:
        quoted = '"' + table.replace('"', '""') + '"'
        return [Column(name, type_, bool(pk), ref) for name, type_, pk, ref in self._read(_PG_COLUMNS, (quoted,))]

    def _execute(self, sql: str, *, timeout_s: float, max_rows: int) -> QueryResult:
        # A server-side cursor (DECLARE ... CURSOR FOR <sql>) admits only one query, and the server computes
        # rows as they are fetched, so the row cap also stops a query that would never end.
        with self._read_only_transaction(timeout_s) as conn:
            with conn.cursor(name="hearth_query") as cursor:
                start = time.perf_counter()
                cursor.execute(sql)
                rows = cursor.fetchmany(max_rows + 1)
                columns = [d.name for d in cursor.description or []]
                return QueryResult(columns, [tuple(r) for r in rows[:max_rows]], len(rows) > max_rows,
                                   time.perf_counter() - start)

    def close(self) -> None:
        self._conn.close()


def _classify_postgres(exc) -> str:
    state = getattr(exc, "sqlstate", None) or ""
    if state == "42883":  # "function sum(text) does not exist" is a type problem; foo(int) is an unknown name
        if "operator does not exist" in str(exc):
            return "type"
        match = re.search(r"function (\w+)\(", str(exc))
        return "type" if match and match.group(1).lower() in _PG_BUILTIN_FUNCTIONS else "unknown_identifier"
    if state in _PG_KIND_BY_SQLSTATE:
        return _PG_KIND_BY_SQLSTATE[state]
    if state.startswith("22"):  # data exceptions: invalid text for a type, out of range...
        return "type" if state != "22012" else "other"
    return classify_error_message(str(exc))


# --- any other SQLAlchemy URL ---------------------------------------------------------------------
class SQLAlchemyDatabase(SQLDatabase):
    """Best-effort read-only access through SQLAlchemy (every query rolled back; MySQL sessions READ ONLY)."""

    def __init__(self, url: str):
        import sqlalchemy
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

        self.display_url = redact_url(url)
        try:
            self._engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.StaticPool)
            self._conn = self._engine.connect()
        except (NoSuchModuleError, ArgumentError, ImportError) as exc:
            raise SQLConnectionError(
                f"Unknown database URL {self.display_url} ({_first_line(exc)}): use a SQLite path, sqlite:///PATH, "
                "postgresql://USER:PASS@HOST/DB, or a SQLAlchemy URL whose driver is installed") from exc
        except SQLAlchemyError as exc:
            raise SQLConnectionError(f"Could not connect to {self.display_url} ({_first_line(exc)}): "
                                     "start the server or fix the URL") from exc
        backend = self._engine.dialect.name
        self.dialect = SQLGLOT_DIALECTS.get(backend, backend)
        self._lock = threading.Lock()
        if backend in ("mysql", "mariadb"):
            self._conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
            self._conn.commit()

    def _list_tables(self) -> list[str]:
        import sqlalchemy

        with self._lock:
            inspector = sqlalchemy.inspect(self._conn)
            names = inspector.get_table_names() + inspector.get_view_names()
            self._conn.rollback()
        return names

    def _list_columns(self, table: str) -> list[Column]:
        import sqlalchemy

        with self._lock:
            inspector = sqlalchemy.inspect(self._conn)
            primary = set(inspector.get_pk_constraint(table).get("constrained_columns") or [])
            references = {}
            for fk in inspector.get_foreign_keys(table):
                for source, target in zip(fk["constrained_columns"], fk["referred_columns"]):
                    references[source] = f"{fk['referred_table']}.{target}"
            columns = [Column(c["name"], str(c["type"]), c["name"] in primary, references.get(c["name"]))
                       for c in inspector.get_columns(table)]
            self._conn.rollback()
        return columns

    def _execute(self, sql: str, *, timeout_s: float, max_rows: int) -> QueryResult:
        from sqlalchemy.exc import DBAPIError

        with self._lock:
            start = time.perf_counter()
            try:
                result = self._conn.exec_driver_sql(sql)
                columns = list(result.keys()) if result.returns_rows else []
                rows = result.fetchmany(max_rows + 1) if result.returns_rows else []
            except DBAPIError as exc:
                message = _first_line(exc.orig or exc)
                raise SQLExecutionError(classify_error_message(message), message) from exc
            finally:
                self._conn.rollback()
        return QueryResult(columns, [tuple(r) for r in rows[:max_rows]], len(rows) > max_rows,
                           time.perf_counter() - start)

    def close(self) -> None:
        self._conn.close()
        self._engine.dispose()


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], max_rows: int = 20) -> str:
    """A plain-text table for terminals and tool results.

    >>> print(format_table(["region", "orders"], [("West", 12), ("East", 3)]))
    region | orders
    -------+-------
    West   |     12
    East   |      3
    """
    if not columns:
        return "(no columns)"
    shown = [[_cell(v) for v in row] for row in rows[:max_rows]]
    values = [[row[i] for row in rows[:max_rows] if row[i] is not None] for i in range(len(columns))]
    numeric = [bool(column) and all(isinstance(v, (int, float)) or _is_decimal(v) for v in column) for column in values]
    widths = [max([len(str(c))] + [len(row[i]) for row in shown]) for i, c in enumerate(columns)]

    def line(cells):
        padded = (cell.rjust(w) if num else cell.ljust(w) for cell, w, num in zip(cells, widths, numeric))
        return " | ".join(padded).rstrip()

    out = [" | ".join(str(c).ljust(w) for c, w in zip(columns, widths)).rstrip(), "-+-".join("-" * w for w in widths)]
    out += [line(row) for row in shown]
    if len(rows) > max_rows:
        out.append(f"... {len(rows) - max_rows} more rows")
    if not rows:
        out.append("(no rows)")
    return "\n".join(out)


def _is_decimal(value) -> bool:
    return type(value).__name__ == "Decimal"


def _cell(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:,.2f}".replace(",", "") if abs(value) < 1e15 else repr(value)
    return str(value)
