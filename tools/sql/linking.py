"""Schema and value linking: only the tables, columns and cell values a question needs reach the prompt.

Value linking finds the question's n-grams that are cell values of the database, exactly or
within a small edit distance (rapidfuzz), and remembers which columns hold them:

    >>> index = ValueIndex({("state", "state_name"): ["arizona", "texas"], ("city", "city_name"): ["austin"]})
    >>> [(m.table, m.column, m.value) for m in index.match("what is the biggest city in arizona")]
    [('state', 'state_name', 'arizona')]
    >>> index.mask("what is the biggest city in arizona")
    'what is the biggest city in state_name'

Schema linking then keeps the tables whose name or column names the question mentions, the
tables holding a linked value, and any tables the caller adds (e.g. those of retrieved example
SQL); the other tables never reach the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

STOPWORDS = frozenset(
    "a an the of in on at to for by with and or is are was were be what which who whom whose how many much "
    "me give list show tell do does did there their it its that this these those from as all any each".split()
)
TEXT_TYPES = ("char", "text", "string", "clob", "varchar")
MAX_NGRAM = 4
FUZZY_CUTOFF = 90  # rapidfuzz ratio; below this "arizona" would start matching "arizonan"-like noise


def words(text: str) -> list[str]:
    """Lower-case word tokens: `words("What's New York?") -> ["what's", "new", "york"]`."""
    return re.findall(r"[a-z0-9][a-z0-9'.]*", text.lower().replace("?", " "))


def singular(word: str) -> str:
    """A crude English singular: cities -> city, states -> state, glass -> glass."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


@dataclass(frozen=True)
class ValueMatch:
    """A question span that is a cell value of `table.column` (score 100 = exact)."""

    table: str
    column: str
    value: object
    span: str
    start: int  # word position in the question
    score: float = 100.0


@dataclass
class LinkedSchema:
    """What the prompt shows: tables with their kept columns (name, type), and the linked values."""

    tables: dict[str, list[tuple[str, str]]]
    values: list[ValueMatch] = field(default_factory=list)

    def ddl(self) -> str:
        return "\n".join(f"CREATE TABLE {t} ({', '.join(f'{c} {ty}'.strip() for c, ty in cols)});"
                         for t, cols in self.tables.items())

    def value_hints(self) -> str:
        seen, lines = set(), []
        for m in self.values:
            if m.table in self.tables and (m.table, m.column, m.value) not in seen:
                seen.add((m.table, m.column, m.value))
                lines.append(f"{m.table}.{m.column} = '{m.value}'")
        return "\n".join(lines)


class ValueIndex:
    """Cell values of the text columns, looked up by question n-grams."""

    def __init__(self, values_by_column: dict[tuple[str, str], list]):
        self.by_text: dict[str, list[tuple[str, str, object]]] = {}
        for (table, column), values in values_by_column.items():
            for value in values:
                if isinstance(value, str) and value.strip():
                    key = " ".join(words(value))
                    if key and key not in STOPWORDS:
                        self.by_text.setdefault(key, []).append((table, column, value))
        self._keys = list(self.by_text)

    @classmethod
    def from_database(cls, db, limit: int = 2000) -> "ValueIndex":
        """Every distinct value (up to `limit` per column) of the text columns of `db`."""
        values = {}
        for table in db.tables():
            for column in db.columns(table):
                if any(t in str(column.type).lower() for t in TEXT_TYPES) or not column.type:
                    values[(table, column.name)] = db.distinct_values(table, column.name, limit=limit)
        return cls(values)

    def match(self, question: str) -> list[ValueMatch]:
        """Linked values, longest spans first, spans not overlapping (a span may hold several columns)."""
        from rapidfuzz import fuzz, process

        tokens = words(question)
        taken: set[int] = set()
        found: list[ValueMatch] = []
        for n in range(min(MAX_NGRAM, len(tokens)), 0, -1):
            for i in range(len(tokens) - n + 1):
                if taken & set(range(i, i + n)):
                    continue
                gram = " ".join(tokens[i:i + n])
                if all(t in STOPWORDS for t in tokens[i:i + n]) or gram.isdigit():
                    continue
                hits, score = self.by_text.get(gram), 100.0
                if hits is None and len(gram) >= 5:
                    best = process.extractOne(gram, self._keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
                    if best is not None:
                        hits, score = self.by_text[best[0]], float(best[1])
                if hits:
                    taken.update(range(i, i + n))
                    found.extend(ValueMatch(t, c, v, gram, i, score) for t, c, v in hits)
        return sorted(found, key=lambda m: m.start)

    def mask(self, question: str, matches: list[ValueMatch] | None = None) -> str:
        """The question with each linked value replaced by its column name (for finding
        examples with the same shape: 'cities in texas' ~ 'cities in ohio')."""
        matches = self.match(question) if matches is None else matches
        tokens = words(question)
        spans = {}
        for m in matches:
            spans.setdefault(m.start, m)
        out, i = [], 0
        while i < len(tokens):
            if i in spans:
                m = spans[i]
                out.append(m.column)
                i += len(m.span.split())
            else:
                out.append(tokens[i])
                i += 1
        return " ".join(out)


@lru_cache(maxsize=8)
def _name_words(name: str) -> frozenset[str]:
    return frozenset(singular(w) for w in re.split(r"[_\W]+", name.lower()) if w)


def link_schema(question: str, schema: dict[str, list], values: list[ValueMatch], *,
                extra_tables: tuple[str, ...] = (), max_columns_per_table: int = 12) -> LinkedSchema:
    """Keep the tables the question, its linked values or `extra_tables` point at.

    `schema` maps table -> list of Column (name, type, primary_key, references). With nothing
    linked every table is kept, so a vague question still sees the whole (small) schema.
    """
    question_words = {singular(w) for w in words(question)} - STOPWORDS
    lower = {t.lower(): t for t in schema}
    keep: list[str] = []

    def add(table: str) -> None:
        real = lower.get(table.lower())
        if real and real not in keep:
            keep.append(real)

    for table in schema:
        if _name_words(table) & question_words:
            add(table)
    for m in values:
        add(m.table)
    for table in extra_tables:
        add(table)
    for table, columns in schema.items():  # a mentioned column name ("population") links its table
        if table not in keep and any(_name_words(c.name) & question_words for c in columns
                                     if not (_name_words(c.name) <= {"name"})):
            add(table)
    if not keep:
        keep = list(schema)
    value_columns = {(m.table, m.column) for m in values}
    tables = {}
    for table in keep:
        columns = schema[table]
        if len(columns) > max_columns_per_table:
            columns = [c for c in columns if c.primary_key or getattr(c, "references", None)
                       or (table, c.name) in value_columns or _name_words(c.name) & question_words] or columns
        tables[table] = [(c.name, str(c.type or "").lower()) for c in columns]
    return LinkedSchema(tables=tables, values=[m for m in values if m.table in tables])
