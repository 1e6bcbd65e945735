"""What the text-to-SQL pipeline knows about one database, built on first use and cached per URL:
the open read-only connection, the schema (for prompts and for sqlglot), the index of text cell
values, the date columns, the reference date for 'last quarter', and the example store.

    from tools.sql.catalog import database_profile, open_database
    url = database_url("")                       # "" = the sample business database (written on first use)
    columns, mapping, values = database_profile(url)
    values.mask("orders from the West region")   # 'orders from the region region'
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from pathlib import Path

from tools.sql.examples import Example, ExampleStore
from tools.sql.linking import ValueIndex
from tools.sql.periods import mask_numbers
from tools.sql.validation import schema_mapping


def database_url(database: str) -> str:
    """The database to open: `database` as given, or (empty) the sample business database's path."""
    if database:
        return database
    from tools.sql.sample_business import ensure_sample_database

    return str(ensure_sample_database())


@lru_cache(maxsize=8)
def open_database(url: str):
    from tools.sql.database import SQLDatabase

    return SQLDatabase.open(url)


@lru_cache(maxsize=8)
def database_profile(url: str) -> tuple[dict, dict, ValueIndex]:
    """(table -> Columns, table -> {column: type} for sqlglot, index of text cell values)."""
    db = open_database(url)
    columns = {t: db.columns(t) for t in db.tables()}
    return columns, schema_mapping(db), ValueIndex.from_database(db)


def _is_date_column(column) -> bool:
    return "date" in column.name.lower() or "date" in str(column.type or "").lower()


@lru_cache(maxsize=8)
def date_columns(url: str) -> dict[str, str]:
    """table -> its date column ('date' in the name or type; the first one), for adding a period filter."""
    found = {}
    for table, columns in database_profile(url)[0].items():
        for column in columns:
            if table not in found and _is_date_column(column):
                found[table] = column.name
    return found


@lru_cache(maxsize=8)
def latest_date_in_data(url: str) -> str:
    """The latest ISO date held by a date-like column ('...date...' in its name or type), or ''."""
    db = open_database(url)
    latest = ""
    for table, columns in database_profile(url)[0].items():
        for column in columns:
            if _is_date_column(column):
                try:
                    values = db.distinct_values(table, column.name, limit=100000)
                except Exception:  # noqa: BLE001 - a column we cannot read gives no date
                    continue
                dates = [str(v)[:10] for v in values if v is not None and re.match(r"\d{4}-\d{2}-\d{2}", str(v))]
                latest = max([latest, *dates])
    return latest


def reference_date(today: str, url: str, store: ExampleStore | None = None) -> str:
    """'Today' for 'last quarter', 'this year', ...: `today` when given, else the end date the
    database's documentation states ('covers 2024-01-01 to 2025-12-31'), else the latest date in the
    data, else the real date."""
    if today:
        return today
    for note in (e.text for e in (store.items if store else []) if e.kind == "documentation"):
        found = re.search(r"\bcovers\b.*?\bto\s+(\d{4}-\d{2}-\d{2})", note)
        if found:
            return found.group(1)
    return latest_date_in_data(url) or dt.date.today().isoformat()


class QuestionShape:
    """A question's shape for finding similar examples: cell values -> their column names, periods ->
    'period', the N of 'top N' -> 'n'. `shape("Top 5 customers in West in Q2 2025")` ->
    'top n customers in region in period'."""

    def __init__(self, values: ValueIndex):
        self.values = values

    def __call__(self, question: str) -> str:
        return self.values.mask(mask_numbers(question))


def is_sample_database(url: str) -> bool:
    from tools.sql.sample_business import default_sample_path

    try:
        return Path(url).resolve() == default_sample_path().resolve()
    except (OSError, ValueError):
        return False


def default_examples_path() -> Path:
    from models.settings import data_home

    return data_home() / "text2sql" / "examples.jsonl"


@lru_cache(maxsize=8)
def example_store(path: str, similarity: str, url: str) -> ExampleStore:
    """The example store of a database (`path` empty = $HEARTH_HOME/text2sql/examples.jsonl); an empty
    store on the sample business database gets its shipped documentation and worked examples (in memory)."""
    store = ExampleStore(path or str(default_examples_path()), similarity=similarity,
                         normalize=QuestionShape(database_profile(url)[2]))
    if not store.items and is_sample_database(url):
        from tools.sql.sample_business import SAMPLE_DOCUMENTATION, SAMPLE_EXAMPLES

        store.extend((e["question"], e["sql"]) for e in SAMPLE_EXAMPLES)
        for note in SAMPLE_DOCUMENTATION:
            store.items.append(Example("documentation", note))
    return store


@lru_cache(maxsize=8)
def constant_values(url: str) -> frozenset[str]:
    """Text values that are the only value of their column (GeoQuery's country_name = 'usa'): a filter on
    one narrows nothing, so an example may keep it though the question does not say it."""
    by_column: dict[tuple[str, str], set[str]] = {}
    for hits in database_profile(url)[2].by_text.values():
        for table, column, value in hits:
            by_column.setdefault((table, column), set()).add(str(value).lower())
    return frozenset(next(iter(v)) for v in by_column.values() if len(v) == 1)


def vocabulary(url: str, store: ExampleStore | None = None) -> frozenset[str]:
    """Words a question about this database may use without naming something it lacks: the singular
    words of table and column names, of the documentation and of the stored example questions."""
    from tools.sql.linking import singular, words

    columns = database_profile(url)[0]
    names = list(columns) + [c.name for cols in columns.values() for c in cols]
    texts = [re.sub(r"[_\W]+", " ", n) for n in names] + [e.text for e in (store.items if store else [])]
    return frozenset(singular(w) for text in texts for w in words(text))
