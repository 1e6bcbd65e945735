"""When a stored example, adapted to a question (values, periods and 'top N' swapped by code), can
answer it: `example_fits` compares the two questions' numbers, periods and table/column words, and
`ungrounded_conditions` names the filters of the adapted SQL that the question never asks for (an
adapted example with one is refused: "orders in March 2024" is not "orders from the East region in
March 2024").

    example_fits("How many customers do we have in each segment?", "How many customers in each segment?", url)  # True
    example_fits("How many customers do we have in each segment?", "... in each region?", url)                 # False
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

import sqlglot
from sqlglot import exp

from tools.sql.catalog import database_profile
from tools.sql.linking import ValueMatch, singular, words
from tools.sql.periods import Period, find_periods, mask_numbers


def example_fits(example_question: str, question: str, url: str, example_sql: str = "", dialect: str = "") -> bool:
    """Whether adapting the example (values, periods, 'top N' swapped) can answer the question:
    other numbers must be equal, a question naming a period needs an example with one, every
    table/column the example question names must be named by the question, and every one the
    question names must be named by the example question or used by its SQL ('customers per
    region' is not 'customers per segment'; 'top customers by revenue' is not 'by number of orders')."""
    if _numbers(mask_numbers(example_question)) != _numbers(mask_numbers(question)):
        return False
    if find_periods(question, "2000-01-01") and not find_periods(example_question, "2000-01-01"):
        return False
    asked, shown = schema_words(question, url), schema_words(example_question, url)
    if not shown <= asked:
        return False
    return covers_question(example_question, question, url, example_sql, dialect)


_COUNTING = re.compile(r"\b(how many|number of|count)\b", re.IGNORECASE)


def covers_question(example_question: str, question: str, url: str, example_sql: str = "", dialect: str = "") -> bool:
    """Both questions count ('how many', 'number of') or neither does, and every table/column the
    question names is named by the example question or used by its SQL (an example counting
    customers per segment cannot answer 'customers in each region'; an average order value is not
    'how many orders')."""
    if bool(_COUNTING.search(question)) != bool(_COUNTING.search(example_question)):
        return False
    asked, shown = schema_words(question, url), schema_words(example_question, url)
    used = sql_words(example_sql, dialect) if example_sql else frozenset()
    return all(phrase in shown or set(phrase.split()) <= used for phrase in asked)


def _numbers(text: str) -> set[str]:
    """Tokens holding a digit: `_numbers("sales in Q2 2025") -> {"q2", "2025"}`."""
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if any(ch.isdigit() for ch in w)}


def name_phrase(name: str) -> str:
    """A table or column name as singular words: `name_phrase("order_dates") -> "order date"`."""
    return " ".join(singular(w) for w in re.split(r"[_\W]+", name.lower()) if w)


@lru_cache(maxsize=8)
def schema_phrases(url: str) -> frozenset[str]:
    """Table and column names as singular word phrases ('order_date' -> 'order date'), less 'id' and 'name'."""
    columns = database_profile(url)[0]
    names = list(columns) + [c.name for cols in columns.values() for c in cols]
    return frozenset(name_phrase(n) for n in names) - {"id", "name", ""}


def schema_words(question: str, url: str) -> frozenset[str]:
    """The table/column names a question mentions (as phrases), its cell values counted as their
    columns: `schema_words("orders from the West region")` -> {'order', 'region'}."""
    masked = database_profile(url)[2].mask(question)
    text = f" {' '.join(singular(w) for w in words(masked.replace('_', ' ')))} "
    return frozenset(p for p in schema_phrases(url) if f" {p} " in text)


def sql_words(sql: str, dialect: str) -> frozenset[str]:
    """The words of the table and column names an SQL query uses."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect or None)
    except Exception:  # noqa: BLE001 - unparsable SQL uses nothing we can see
        return frozenset()
    names = [t.name for t in tree.find_all(sqlglot.exp.Table)] + [c.name for c in tree.find_all(sqlglot.exp.Column)]
    return frozenset(w for n in names for w in name_phrase(n).split())


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.In, exp.Between)
_DATE_LIKE = re.compile(r"^(?:19|20)\d{2}(?:-\d{2}(?:-\d{2})?)?(?:[ T].*)?%?$")


def ungrounded_conditions(sql: str, question: str, values: Sequence[ValueMatch], periods: Sequence[Period],
                          dialect: str, constant_values: frozenset[str] = frozenset()) -> list[str]:
    """The WHERE/HAVING conditions of (adapted example) SQL that the question does not ask for: a
    value that is neither one of the question's linked values nor in its words, a date when the
    question names no period (or a date outside the question's periods), a number the question does
    not say. `constant_values` are values a filter cannot narrow (a column holding only that value).

        >>> ungrounded_conditions("SELECT COUNT(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
        ...     "WHERE c.region = 'East' AND o.order_date >= '2024-03-01' AND o.order_date < '2024-04-01'",
        ...     "How many orders were placed in March 2024?", [],
        ...     [Period("2024-03-01", "2024-04-01", "March 2024", 28)], "sqlite")
        ["c.region = 'East'"]
        >>> ungrounded_conditions("SELECT name FROM customers WHERE region = 'North'",
        ...                       "How many customers do we have in each region?", [], [], "sqlite")
        ["region = 'North'"]
    """
    tree = sqlglot.parse_one(sql, read=dialect or None)
    asked_text = " " + " ".join(words(question)) + " "
    asked_numbers = {w for w in re.findall(r"\d+(?:\.\d+)?", question.replace(",", ""))}
    linked = {str(m.value).lower() for m in values}
    found: list[str] = []
    for clause in [*tree.find_all(exp.Where), *tree.find_all(exp.Having)]:
        for literal in clause.find_all(exp.Literal):
            comparison = literal.parent
            if isinstance(comparison, exp.Tuple):  # x IN ('a', 'b') in some dialects
                comparison = comparison.parent
            if not isinstance(comparison, _COMPARISONS):
                continue  # a function's argument (strftime's format), arithmetic, ...
            text = literal.this
            if literal.is_string and _DATE_LIKE.match(text):
                day = text.rstrip("%")[:10]
                grounded = any(p.start[:len(day)] <= day <= p.end[:len(day)] for p in periods)
            elif literal.is_string:
                value = text.strip("%").lower()
                grounded = (not value or value in linked or value in constant_values
                            or f" {' '.join(words(value))} " in asked_text)
            else:
                number = text.rstrip("0").rstrip(".") if "." in text else text
                against = comparison.args.get("this") if comparison.args.get("this") is not literal else comparison.args.get("expression")
                counts = isinstance(against, exp.AggFunc)  # HAVING COUNT(*) > 1: 'more than one', said in words
                grounded = (counts and number in ("0", "1")) or number in asked_numbers or any(
                    p.start[:4] <= number <= p.end[:4] for p in periods if len(number) == 4)
            if not grounded:
                found.append(comparison.sql(dialect=dialect or None))
    return list(dict.fromkeys(found))


def ignored_values(sql: str, values: Sequence[ValueMatch], dialect: str,
                   constant_values: frozenset[str] = frozenset()) -> list[str]:
    """The question's exactly linked cell values that (adapted example) SQL never uses: an example that
    averages every category cannot answer 'the average price in the Networking category'.

        >>> from tools.sql.linking import ValueMatch
        >>> ignored_values("SELECT c.name, AVG(p.unit_price) FROM products p JOIN categories c ON c.id = p.category_id "
        ...                "GROUP BY c.name", [ValueMatch("categories", "name", "Networking", "networking", 6)], "sqlite")
        ["'Networking' (categories.name)"]
    """
    tree = sqlglot.parse_one(sql, read=dialect or None)
    used = {str(lit.this).strip("%").lower() for lit in tree.find_all(exp.Literal) if lit.is_string}
    by_span: dict[int, list[ValueMatch]] = {}
    for m in values:
        by_span.setdefault(m.start, []).append(m)
    ignored = []
    for matches in by_span.values():
        exact = [m for m in matches if m.score >= 100]
        names = {str(m.value).lower() for m in exact}
        if exact and not names & used and not names <= constant_values:
            ignored.append(f"'{exact[0].value}' ({exact[0].table}.{exact[0].column})")
    return ignored


_FORMAT_WORDS = {"%Y-%m": "month", "%m": "month", "%Y": "year", "%Y-%m-%d": "day", "%d": "day"}
_WORD_FORMS = {"monthly": "month", "yearly": "year", "annual": "year", "annually": "year", "quarterly": "quarter",
               "daily": "day", "per": ""}


def ungrounded_groups(sql: str, question: str, dialect: str) -> list[str]:
    """GROUP BY keys of (adapted example) SQL that the question does not ask to break down by: 'orders
    in March 2024' is one count, not a row per month.

        >>> ungrounded_groups("SELECT strftime('%Y-%m', order_date) AS month, COUNT(*) FROM orders GROUP BY month",
        ...                   "How many orders were placed in March 2024?", "sqlite")
        ['month']
        >>> ungrounded_groups("SELECT region, COUNT(*) FROM customers GROUP BY region", "Customers in each region", "sqlite")
        []
    """
    tree = sqlglot.parse_one(sql, read=dialect or None)
    asked = {_WORD_FORMS.get(w, singular(w)) for w in words(question)}
    found = []
    for select in tree.find_all(exp.Select):
        group = select.args.get("group")
        if not group:
            continue
        aliases = {e.alias: e.this for e in select.expressions if isinstance(e, exp.Alias)}
        for key in group.expressions:
            expression = aliases.get(key.name, key) if isinstance(key, exp.Column) and not key.table else key
            names = {key.name} if isinstance(key, exp.Column) and key.name in aliases else set()
            if isinstance(expression, exp.Column):
                names.add(expression.name)
                if expression.name.lower() in ("id", "name"):
                    table = next((t.name for t in tree.find_all(exp.Table) if t.alias_or_name == expression.table),
                                 expression.table)
                    names.add(table)
            else:  # strftime('%Y-%m', d) -> month; other expressions are left alone
                names |= {_FORMAT_WORDS.get(lit.this, "") for lit in expression.find_all(exp.Literal)}
            candidates = {singular(w) for n in names if n for w in name_phrase(n).split()} - {"id", "name", ""}
            if candidates and not candidates & asked:
                found.append(key.sql(dialect=dialect or None))
    return list(dict.fromkeys(found))
