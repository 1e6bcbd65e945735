"""When a stored example, adapted to a question (values, periods and 'top N' swapped by code), can
answer it: `example_fits` compares the two questions' numbers, periods and table/column words.

    example_fits("How many customers do we have in each segment?", "How many customers in each segment?", url)  # True
    example_fits("How many customers do we have in each segment?", "... in each region?", url)                 # False
"""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot

from tools.sql.catalog import database_profile
from tools.sql.linking import singular, words
from tools.sql.periods import find_periods, mask_numbers


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
