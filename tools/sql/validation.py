"""Check generated SQL against the live schema with sqlglot, and name what went wrong.

    >>> schema = {"city": {"city_name": "text", "population": "int"}}
    >>> validate_sql("select city_name from city where population > 5", schema, "sqlite")
    'SELECT city_name FROM city WHERE population > 5'
    >>> try:
    ...     validate_sql("select name from city", schema, "sqlite")
    ... except SQLValidationError as err:
    ...     print(err.kind)
    unknown_identifier

Error kinds (the feedback a regeneration gets) are `tools.sql.database.ERROR_KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError

from tools.sql.database import ERROR_KINDS, classify_error_message

FEEDBACK = {
    "syntax": "The SQL does not parse: {message}. Write one valid SELECT statement.",
    "unknown_identifier": "{message}. Use only the tables and columns listed in the schema.",
    "type": "Type error: {message}. Compare columns with values of the same type.",
    "empty_result": "The query ran but returned no rows. Check the values in the WHERE clause.",
    "timeout": "The query took too long: {message}. Write a simpler query.",
    "unsafe": "Refused: {message}. Write a single read-only SELECT.",
    "ungrounded": "Refused: the adapted example does not fit the question: it {message}.",
    "not_in_database": "The question names what the database does not hold: {message}.",
    "other": "The query failed: {message}.",
}


class SQLValidationError(ValueError):
    """SQL that cannot run on this schema; `kind` is one of ERROR_KINDS."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class Feedback:
    kind: str
    message: str

    def text(self) -> str:
        return FEEDBACK.get(self.kind, FEEDBACK["other"]).format(message=self.message.rstrip("."))


def schema_mapping(db) -> dict[str, dict[str, str]]:
    """{table: {column: type}} of a database, lower-cased, for sqlglot."""
    return {t.lower(): {c.name.lower(): str(c.type or "text").lower() or "text" for c in db.columns(t)}
            for t in db.tables()}


def parse_sql(sql: str, dialect: str) -> exp.Expression:
    sql = sql.strip().rstrip(";").strip()
    if not sql:
        raise SQLValidationError("syntax", "empty query")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as err:
        raise SQLValidationError("syntax", str(err).splitlines()[0]) from err
    if len(statements) != 1:
        raise SQLValidationError("unsafe", f"{len(statements)} statements; only one SELECT is allowed")
    return statements[0]


def validate_sql(sql: str, schema: dict[str, dict[str, str]], dialect: str, *, read_dialect: str | None = None) -> str:
    """The SQL transpiled to `dialect` once every table and column resolves against `schema`
    and it is a single read-only SELECT (`tools.sql.safety.check_sql_read_only`); otherwise
    SQLValidationError."""
    from sqlglot.optimizer.qualify import qualify

    from tools.sql.safety import UnsafeSQLError, check_sql_read_only

    tree = parse_sql(sql, read_dialect or dialect)
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        raise SQLValidationError("unsafe", f"{tree.key.upper()} is not a SELECT")
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if table.name.lower() not in schema and table.name.lower() not in ctes:
            raise SQLValidationError("unknown_identifier", f"no such table: {table.name}")
    try:
        qualify(tree.copy(), schema=schema, dialect=dialect, validate_qualify_columns=True, identify=False)
    except OptimizeError as err:
        message = str(err).split(". Line")[0]
        kind = "unknown_identifier" if "could not be resolved" in message or "Unknown" in message else "other"
        raise SQLValidationError(kind, message.replace("Column", "no such column:", 1) if kind == "unknown_identifier" else message) from err
    except Exception as err:  # noqa: BLE001 - sqlglot raises assorted errors on odd trees
        raise SQLValidationError("other", str(err).splitlines()[0] if str(err) else type(err).__name__) from err
    text = tree.sql(dialect=dialect)
    try:
        return check_sql_read_only(text, dialect)
    except UnsafeSQLError as err:
        raise SQLValidationError("unsafe", str(err)) from err


def classify_execution_error(error: Exception) -> Feedback:
    """Feedback for an exception from validation or `SQLDatabase.run`."""
    kind = getattr(error, "kind", None)
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    if kind not in ERROR_KINDS:
        from tools.sql.safety import SQLParseError, UnsafeSQLError

        kind = ("syntax" if isinstance(error, SQLParseError) else "unsafe" if isinstance(error, UnsafeSQLError)
                else classify_error_message(message))
    return Feedback(kind, message)
