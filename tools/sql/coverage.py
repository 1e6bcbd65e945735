"""Whether a question names something the database does not hold: a value (a region, a city, a
product) that is not in any text column, or a thing to count or list that is no table, column or
documented term. The graph then says so instead of running a near-miss query.

    >>> index = ValueIndex({("customers", "region"): ["North", "South", "East", "West", "Central"],
    ...                     ("products", "name"): ["Laptop Pro 14", "Phone X"]})
    >>> vocab = frozenset("customer region order product name revenue".split())
    >>> missing_mentions("How many orders came from the Midwest region?", index, vocab)
    ["region 'Midwest' (the database has: Central, East, North, South, West)"]
    >>> missing_mentions("Revenue of the Laptop Pro 15", index, vocab)
    ["'Laptop Pro 15' (closest: 'Laptop Pro 14')"]
    >>> missing_mentions("How many employees do we have?", index, vocab)
    ["'employees' (no table, column or documented term)"]
    >>> missing_mentions("How many orders came from the West region?", index, vocab)
    []

Rules, chosen to stay silent on answerable questions (measured on GeoQuery dev and the business
questions in `evals/data/sql_business.jsonl`): a capitalised or quoted phrase that is neither a
cell value nor a known word; a linked value whose near match differs in a number ('Laptop Pro 15'
is not 'Laptop Pro 14'); the noun after "how many", "number of", "list", "show" that is neither a
table/column word, a value, a documented or example word, nor a generic counting word.
"""

from __future__ import annotations

import re

from tools.sql.linking import STOPWORDS, ValueIndex, singular, words
from tools.sql.periods import MONTHS

GENERIC = frozenset(
    "people person item thing time row record day week month year quarter total number count amount average "
    "sum result entry unit kind type one other more most least many much all each every different distinct "
    "we our us you your i they them have has had do does did".split())
WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
_COUNT_NOUN = re.compile(r"\b(?:how many|number of|list(?: all| the| every)?|show(?: me)?(?: all| the| every)?)\s+"
                         r"(?:the\s+|of\s+|our\s+|distinct\s+|different\s+)?([a-z][a-z'-]+)")


def _column_of(index: ValueIndex, words_before: list[str], words_after: list[str]) -> tuple[str, list[str]] | None:
    """The text column a neighbouring word names ('the Midwest region' -> region), with its values."""
    columns: dict[str, tuple[str, list[str]]] = {}
    for hits in index.by_text.values():
        for table, column, value in hits:
            name = singular(table) if column.lower() == "name" else column.lower()
            columns.setdefault(singular(name.split("_")[-1]), (name, []))[1].append(str(value))
    for word in [*words_after[:1], *words_before[-1:]]:
        if singular(word) in columns:
            return columns[singular(word)]
    return None


def missing_mentions(question: str, index: ValueIndex, vocabulary: frozenset[str]) -> list[str]:
    """What the question names that the database does not hold, each with what it does hold; [] when nothing."""
    missing: list[str] = []
    matches = index.match(question)
    raw = re.findall(r"[A-Za-z0-9][A-Za-z0-9'.]*", question.replace("?", " "))  # words(), case kept
    # A near match that differs in a number names another thing.
    for m in matches:
        digits_asked, digits_held = re.findall(r"\d+", m.span), re.findall(r"\d+", str(m.value).lower())
        if m.score < 100 and digits_asked != digits_held:
            asked = " ".join(raw[m.start:m.start + len(m.span.split())]) or m.span
            missing.append(f"'{asked.strip('?.,!')}' (closest: '{m.value}')")
    covered = {i for m in matches for i in range(m.start, m.start + len(m.span.split()))}
    tokens = words(question)
    known = vocabulary | GENERIC | STOPWORDS | frozenset(MONTHS) | WEEKDAYS
    # Capitalised phrases (not the first word) and quoted strings that are no value.
    phrases: list[tuple[int, int]] = []
    i = 1
    while i < len(raw):
        if raw[i][:1].isupper() and not any(ch.isdigit() for ch in raw[i]) and i not in covered \
                and raw[i].lower() not in known and singular(raw[i].lower()) not in known:
            j = i
            while j + 1 < len(raw) and raw[j + 1][:1].isupper() and j + 1 not in covered:
                j += 1
            phrases.append((i, j + 1))
            i = j + 1
        else:
            i += 1
    for quoted in re.findall(r"['\"“‘]([^'\"”’]{2,})['\"”’]", question):
        key = " ".join(words(quoted))
        if key and key not in index.by_text:
            missing.append(f"'{quoted}'")
    for start, end in phrases:
        phrase = " ".join(raw[start:end])
        column = _column_of(index, [t.lower() for t in raw[:start]], [t.lower() for t in raw[end:]]) if len(raw) == len(tokens) else None
        if column:
            name, held = column
            shown = ", ".join(sorted(set(held))[:12]) + (", ..." if len(set(held)) > 12 else "")
            missing.append(f"{name} '{phrase}' (the database has: {shown})")
        else:
            missing.append(f"'{phrase}' (no such value in the database)")
    # The thing to count or list.
    for noun in _COUNT_NOUN.findall(question.lower()):
        word = singular(noun.strip("'"))
        if word not in known and noun not in known and not any(word in key.split() for key in index.by_text):
            missing.append(f"'{noun}' (no table, column or documented term)")
    return list(dict.fromkeys(missing))
