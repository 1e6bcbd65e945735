"""A GBNF grammar for llama.cpp that only admits SELECTs over the linked schema.

Every column is written `table.column` and can only be one of the linked tables' real columns;
string literals can only be the question's linked values (or an ISO date) when there are any. So the model
cannot invent a column or copy 'texas' from an example when asked about Arizona.

    >>> gbnf = schema_grammar({"city": ["city_name", "population"]}, ["arizona"])
    >>> 'column ::= "city.city_name" | "city.population"' in gbnf
    True
    >>> "'arizona'" in gbnf
    True

The query may end with or without ";": were the ";" required, a model that learned to stop after
the SQL (as the fine-tuning data writes it) would have its end-of-text masked and be pushed on into
invented conditions until it thought of writing ";".

The subset: SELECT [DISTINCT] items FROM tables [JOIN .. ON ..] [WHERE conditions with AND/OR,
comparisons, IN/NOT IN (subquery), = (subquery)] [GROUP BY] [ORDER BY .. ASC|DESC] [LIMIT n].
"""

from __future__ import annotations

import json


AGGREGATES = ("COUNT", "SUM", "AVG", "MIN", "MAX")  # the only functions the grammar admits


def _literal(text: str) -> str:
    """A GBNF string literal (JSON escaping is valid GBNF escaping)."""
    return json.dumps(text)


def _choice(options: list[str]) -> str:
    return " | ".join(_literal(o) for o in options)


def schema_grammar(tables: dict[str, list[str]], values: list[str] | None = None, *, max_number_digits: int = 9) -> str:
    """GBNF for SELECTs over `tables` ({table: [column, ...]}), strings limited to `values` when given."""
    if not tables:
        raise ValueError("schema_grammar needs at least one table with columns.")
    columns = [f"{t}.{c}" for t, cols in tables.items() for c in cols]
    values = [v for v in dict.fromkeys(str(v) for v in (values or [])) if "'" not in v]
    date = "\"'\" [12] [0-9]{3} \"-\" [01] [0-9] \"-\" [0-3] [0-9] \"'\""
    string_rule = ("string ::= " + _choice([f"'{v}'" for v in values]) + " | " + date) if values else \
        "string ::= \"'\" [^'\\n]{0,40} \"'\""
    digits = "[0-9]{1,%d}" % max_number_digits
    return "\n".join([
        'root ::= select ";"?',  # optional: a model trained without the ";" must be free to stop
        'select ::= "SELECT " ("DISTINCT ")? items " FROM " tables where? group? order? limit?',
        'items ::= item (", " item){0,3}',
        'item ::= column | aggregate "(" measure ")" | "COUNT(*)" | "COUNT(DISTINCT " column ")"',
        'measure ::= column (" * " column)?',
        "aggregate ::= " + _choice(list(AGGREGATES)),
        'tables ::= table (" JOIN " table " ON " column " = " column){0,2}',
        'where ::= " WHERE " condition ((" AND " | " OR ") condition){0,3}',
        'condition ::= column " " op " " operand | column " IN (" subquery ")" | column " NOT IN (" subquery ")"',
        'operand ::= string | number | "(" subquery ")"',
        'op ::= "=" | "!=" | ">" | "<" | ">=" | "<="',
        'subquery ::= "SELECT " ("DISTINCT ")? item " FROM " tables subwhere? group?',
        'subwhere ::= " WHERE " subcondition (" AND " subcondition){0,2}',
        'subcondition ::= column " " op " " (string | number | "(" subquery ")") | column " IN (" subquery ")"',
        'group ::= " GROUP BY " column (" HAVING " aggregate "(" column ")" " " op " " number)?',
        'order ::= " ORDER BY " (column | aggregate "(" column ")" | "COUNT(*)") (" ASC" | " DESC")?',
        'limit ::= " LIMIT " [1-9] [0-9]{0,2}',
        f"number ::= \"-\"? {digits} (\".\" [0-9]{{1,4}})?",
        string_rule,
        "column ::= " + _choice(columns),
        "table ::= " + _choice(list(tables)),
    ])
