"""Deterministic SQL repairs driven by sqlglot: what code can fix, the model never has to.

- `substitute_literals`: a string compared with a column takes the question's linked value for
  that column (small models copy 'texas' from an example when asked about Arizona); this is
  also how a retrieved example's SQL is adapted to a new question (`adapt_example`).
- `fix_identifiers`: an unknown table or column becomes the closest real one; a double-quoted
  "value" that SQLite would read as a column becomes the string it was meant to be.

    >>> from tools.sql.linking import ValueMatch
    >>> values = [ValueMatch("state", "state_name", "arizona", "arizona", 6)]
    >>> substitute_literals("SELECT city_name FROM city WHERE state_name = 'texas'", values, "sqlite")
    "SELECT city_name FROM city WHERE state_name = 'arizona'"
    >>> schema = {"city": {"city_name": "text", "population": "int", "state_name": "text"}}
    >>> fix_identifiers("SELECT name FROM cities WHERE populaton > 1", schema, "sqlite")
    'SELECT city_name FROM city WHERE population > 1'
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from tools.sql.linking import ValueMatch

COMPARISONS = (exp.EQ, exp.NEQ, exp.Like, exp.ILike, exp.In)
TABLE_CUTOFF = 60
COLUMN_CUTOFF = 50


def _literal_comparisons(tree: exp.Expression) -> list[tuple[exp.Literal, str]]:
    """(string literal, name of the column it is compared with), in reading order."""
    found = []
    for node in tree.find_all(*COMPARISONS):
        column = next((c for c in (node.this, node.args.get("expression")) if isinstance(c, exp.Column)), None)
        if column is None:
            continue
        literals = node.expressions if isinstance(node, exp.In) else [node.args.get("expression"), node.this]
        for literal in literals:
            if isinstance(literal, exp.Literal) and literal.is_string:
                found.append((literal, column.name.lower()))
    order = {id(n): i for i, n in enumerate(tree.walk())}
    return sorted(found, key=lambda pair: order.get(id(pair[0]), 0))


def substitute_literals(sql: str, values: list[ValueMatch], dialect: str) -> str:
    """Give every string compared with a column the question's linked value for that column.

    A literal that already is a linked value keeps it (in the database's spelling). Otherwise it
    takes the first not-yet-used linked value held by a column of the same name; the same old
    literal always maps to the same new value, so a repeated 'texas' becomes one 'arizona'.
    Without linked values the SQL is returned unchanged.
    """
    if not values:
        return sql
    tree = sqlglot.parse_one(sql, read=dialect)
    by_text = {str(m.value).lower(): m for m in values}
    used_spans: set[int] = set()
    mapping: dict[str, object] = {}
    for literal, column in _literal_comparisons(tree):
        old = literal.this
        if old.lower() in by_text:
            match = by_text[old.lower()]
            used_spans.add(match.start)
            literal.replace(exp.Literal.string(str(match.value)))
            continue
        if old in mapping:
            literal.replace(exp.Literal.string(str(mapping[old])))
            continue
        same_column = [m for m in values if m.column.lower() == column]
        fresh = [m for m in same_column if m.start not in used_spans] or same_column
        if fresh:
            mapping[old] = fresh[0].value
            used_spans.add(fresh[0].start)
            literal.replace(exp.Literal.string(str(fresh[0].value)))
    return tree.sql(dialect=dialect)


def adapt_example(example_sql: str, values: list[ValueMatch], dialect: str) -> str:
    """A retrieved example's SQL with its literals swapped for the question's linked values."""
    return substitute_literals(example_sql, values, dialect)


def _closest(name: str, choices: list[str], cutoff: float, prefer: str = "") -> str | None:
    """The most similar choice; ties go to one containing `prefer` (city.name -> city_name, not state_name)."""
    from rapidfuzz import fuzz, process

    if not choices:
        return None
    ranked = process.extract(name.lower(), choices, scorer=fuzz.WRatio, score_cutoff=cutoff, limit=len(choices))
    if not ranked:
        return None
    return max(ranked, key=lambda r: (round(r[1], 1), bool(prefer) and prefer in r[0], -len(r[0])))[0]


def fix_identifiers(sql: str, schema: dict[str, dict[str, str]], dialect: str) -> str:
    """Unknown tables and columns replaced by the closest real ones (rapidfuzz), double-quoted
    strings that are no column turned into string literals. Scope-insensitive on purpose:
    a repair only has to give validation a better candidate."""
    tree = sqlglot.parse_one(sql, read=dialect)
    tables = list(schema)
    for table in tree.find_all(exp.Table):
        if table.name.lower() not in schema:
            closest = _closest(table.name, tables, TABLE_CUTOFF)
            if closest:
                table.set("this", exp.to_identifier(closest))
    alias_to_table = {}
    for table in tree.find_all(exp.Table):
        alias_to_table[(table.alias or table.name).lower()] = table.name.lower()
        alias_to_table[table.name.lower()] = table.name.lower()
    in_query = [t for t in dict.fromkeys(alias_to_table.values()) if t in schema] or tables
    all_columns = {c for t in in_query for c in schema[t]}
    output_aliases = {a.alias.lower() for a in tree.find_all(exp.Alias)}
    for column in list(tree.find_all(exp.Column)):
        name = column.name.lower()
        owner = alias_to_table.get(column.table.lower()) if column.table else None
        if column.table and owner is None:  # qualified by an unknown table name
            guess = _closest(column.table, in_query, TABLE_CUTOFF)
            if guess:
                column.set("table", exp.to_identifier(guess))
                owner = guess
        known = schema.get(owner, {}) if owner else all_columns
        if name in known or name in output_aliases:
            continue
        if column.this.quoted and not column.table and isinstance(column.parent, COMPARISONS):
            column.replace(exp.Literal.string(column.name))
            continue
        closest = _closest(name, list(known), COLUMN_CUTOFF, prefer=owner or (in_query[0] if len(in_query) == 1 else ""))
        if closest:
            column.set("this", exp.to_identifier(closest))
    return tree.sql(dialect=dialect)


def repair_sql(sql: str, schema: dict[str, dict[str, str]], values: list[ValueMatch], dialect: str) -> tuple[str, list[str]]:
    """Both repairs in turn; returns the SQL and what changed (for the attempts log)."""
    changes = []
    try:
        fixed = fix_identifiers(sql, schema, dialect)
        if fixed != sqlglot.parse_one(sql, read=dialect).sql(dialect=dialect):
            changes.append("identifiers")
        substituted = substitute_literals(fixed, values, dialect)
        if substituted != fixed:
            changes.append("literals")
        return substituted, changes
    except Exception:  # noqa: BLE001 - unparseable SQL is left for validation to report
        return sql, changes


def plain_style(sql: str, dialect: str) -> str:
    """Table aliases dropped and identifiers lower-cased, so every column reads `table.column`
    (the form the grammar admits): `SELECT CITYalias0.CITY_NAME FROM CITY AS CITYalias0` ->
    `SELECT city.city_name FROM city`. Aliases that a self-join needs are kept."""
    tree = drop_table_aliases(sqlglot.parse_one(sql, read=dialect))
    for node in tree.find_all(exp.Identifier):
        if not node.quoted:
            node.set("this", node.this.lower())
    return tree.sql(dialect=dialect)


def drop_table_aliases(tree: exp.Expression) -> exp.Expression:
    """`tree` (changed in place) with each table alias dropped and the columns that used it
    qualified by the table's name; the aliases a self-join needs are kept."""
    for select in list(tree.find_all(exp.Select)):
        own_tables = [t for t in select.find_all(exp.Table) if t.parent_select is select]
        names = [t.name.lower() for t in own_tables]
        for table in own_tables:
            alias = table.alias
            if not alias or names.count(table.name.lower()) > 1:
                continue
            for column in select.find_all(exp.Column):
                if column.table.lower() == alias.lower() and _scope_select(column, alias) is select:
                    column.set("table", exp.to_identifier(table.name))
            table.set("alias", None)
    return tree


def _scope_select(column: exp.Column, alias: str):
    """The nearest enclosing SELECT whose own FROM/JOIN defines `alias`."""
    node = column.parent_select
    while node is not None:
        if any(t.alias.lower() == alias.lower() for t in node.find_all(exp.Table) if t.parent_select is node):
            return node
        node = node.parent.parent_select if node.parent else None
    return None
