"""Period and number linking: the question's dates and limits, found by code, never guessed by the model.

    >>> import datetime as dt
    >>> today = dt.date(2025, 12, 31)
    >>> [(p.start, p.end) for p in find_periods("What were our total sales in Q2 2025 by category?", today)]
    [('2025-04-01', '2025-07-01')]
    >>> [(p.start, p.end) for p in find_periods("orders from the West region last quarter", today)]
    [('2025-10-01', '2026-01-01')]
    >>> mask_periods("Monthly revenue in March 2025")
    'Monthly revenue in period'
    >>> replace_periods("SELECT COUNT(*) FROM orders WHERE order_date >= '2024-01-01' AND order_date < '2024-04-01'",
    ...                 find_periods("in 2025", today), "sqlite")
    "SELECT COUNT(*) FROM orders WHERE order_date >= '2025-01-01' AND order_date < '2026-01-01'"

A period is a half-open range [start, end) of ISO dates. "Last quarter/month" is the latest
*complete* one ending on or before the reference date, "this year/quarter/month" the one holding
it and "last year" the calendar year before (the sample database's documentation: the data ends
2025-12-31, "last quarter" means Q4 2025, "this year" 2025 and "last year" 2024).
`replace_periods` rewrites the date range of SQL (an example's, or the model's) to the question's
period, `drop_periods` removes it when the question names none, `add_period` adds one the model left
out, `replace_limit` turns "Top 5" into LIMIT 5.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

MONTHS = {name: i for i, name in enumerate(
    "january february march april may june july august september october november december".split(), start=1)}
MONTHS.update({name[:3]: i for name, i in list(MONTHS.items())})
MONTHS["sept"] = 9
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                "ten": 10, "twenty": 20}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
PERIOD_TOKEN = "period"

_YEAR = r"(?:19|20)\d{2}"
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY_DATE = rf"{_YEAR}-\d{{2}}-\d{{2}}"
# One pattern per kind of phrase, most specific first; each yields (start, end) from its match.
_PATTERNS: list[tuple[str, str]] = [
    ("between", rf"\b(?:between|from)\s+(?P<a>.+?)\s+(?:and|to|until)\s+(?P<b>.+?)(?=$|[?.,;]|\s+(?:by|per|for|in|grouped)\b)"),
    ("quarter", rf"\bq(?P<q>[1-4])(?:\s+of)?\s*(?P<y>{_YEAR})\b"),
    ("quarter", rf"\b(?P<y>{_YEAR})\s*q(?P<q>[1-4])\b"),
    ("quarter_words", rf"\b(?:the\s+)?(?P<o>{'|'.join(ORDINALS)})\s+quarter(?:\s+of)?\s+(?P<y>{_YEAR})\b"),
    ("month", rf"\b(?P<m>{_MONTH})\.?(?:\s+of)?\s+(?P<y>{_YEAR})\b"),
    ("iso_month", rf"\b(?P<y>{_YEAR})-(?P<m>0[1-9]|1[0-2])\b(?!-)"),
    ("relative", r"\b(?P<which>last|previous|past|this|current)\s+(?P<unit>quarter|month|year)\b"),
    ("ytd", r"\b(?:year to date|ytd)\b"),
    ("year", rf"\b(?:fy\s*)?(?P<y>{_YEAR})\b"),
]


@dataclass(frozen=True)
class Period:
    """A date range [start, end) named by `text` in the question."""

    start: str
    end: str
    text: str
    position: int  # character offset in the question


def _quarter(year: int, q: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, 3 * q - 2, 1)
    return start, _add_months(start, 3)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _relative(which: str, unit: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """'last' = the latest complete unit ending on or before `today`; 'this' = the unit holding it."""
    if unit == "year":  # calendar years: 'this year' holds today, 'last year' is the one before
        year = today.year - (which == "last")
        return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    tomorrow = today + dt.timedelta(days=1)
    size = {"month": 1, "quarter": 3, "year": 12}[unit]
    first_month = (today.month - 1) // size * size + 1 if unit != "year" else 1
    current = dt.date(today.year, first_month, 1)
    if which in ("this", "current"):
        return current, _add_months(current, size)
    following = _add_months(current, size)
    if following == tomorrow:  # today closes its unit: that unit is complete
        return current, following
    return _add_months(current, -size), current


def _single(text: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """The range of one period phrase (used for both ends of 'between X and Y')."""
    text = text.strip().lower()
    if re.fullmatch(_DAY_DATE, text):
        day = dt.date.fromisoformat(text)
        return day, day + dt.timedelta(days=1)
    found = find_periods(text, today, allow_between=False)
    return (dt.date.fromisoformat(found[0].start), dt.date.fromisoformat(found[0].end)) if found else None


def find_periods(question: str, today: dt.date | str, *, allow_between: bool = True) -> list[Period]:
    """The date ranges the question names, in reading order, not overlapping.

    `today` is the reference date ('last quarter' is relative to it): a date or an ISO string.
    """
    if isinstance(today, str):
        today = dt.date.fromisoformat(today[:10])
    lower = question.lower()
    taken: list[tuple[int, int]] = []
    found: list[Period] = []
    for kind, pattern in _PATTERNS:
        if kind == "between" and not allow_between:
            continue
        for match in re.finditer(pattern, lower):
            if any(match.start() < b and a < match.end() for a, b in taken):
                continue
            groups = match.groupdict()
            span: tuple[dt.date, dt.date] | None = None
            if kind == "between":
                first, second = _single(groups["a"], today), _single(groups["b"], today)
                if first and second and first[0] < second[1]:
                    span = (first[0], second[1])
            elif kind == "quarter":
                span = _quarter(int(groups["y"]), int(groups["q"]))
            elif kind == "quarter_words":
                span = _quarter(int(groups["y"]), ORDINALS[groups["o"]])
            elif kind in ("month", "iso_month"):
                month = MONTHS[groups["m"]] if kind == "month" else int(groups["m"])
                span = (dt.date(int(groups["y"]), month, 1), _add_months(dt.date(int(groups["y"]), month, 1), 1))
            elif kind == "relative":
                which, unit = groups["which"], groups["unit"]
                span = _relative("this" if which in ("this", "current") else "last", unit, today)
            elif kind == "ytd":
                span = (dt.date(today.year, 1, 1), today + dt.timedelta(days=1))
            elif kind == "year":
                span = (dt.date(int(groups["y"]), 1, 1), dt.date(int(groups["y"]) + 1, 1, 1))
            if span is None:
                continue
            taken.append((match.start(), match.end()))
            found.append(Period(span[0].isoformat(), span[1].isoformat(), question[match.start():match.end()],
                                match.start()))
    return sorted(found, key=lambda p: p.position)


def mask_periods(question: str) -> str:
    """The question with each period phrase replaced by 'period' (so 'sales in Q1 2024' ~ 'sales in March 2025')."""
    periods = find_periods(question, dt.date(2000, 1, 1))
    out, last = [], 0
    for p in periods:
        out += [question[last:p.position], PERIOD_TOKEN]
        last = p.position + len(p.text)
    return "".join(out) + question[last:]


def requested_limit(question: str) -> int | None:
    """N of 'top N' / 'N best|largest|most ...' / 'first N': `requested_limit("Top 5 customers") -> 5`."""
    lower = question.lower()
    number = rf"(\d+|{'|'.join(NUMBER_WORDS)})"
    for pattern in (rf"\b(?:top|first|bottom|best|worst)\s+{number}\b",
                    rf"\b{number}\s+(?:best|top|largest|biggest|highest|lowest|smallest|most|least)\b"):
        match = re.search(pattern, lower)
        if match:
            word = match.group(1)
            return int(word) if word.isdigit() else NUMBER_WORDS[word]
    return None


def mask_numbers(question: str) -> str:
    """Periods -> 'period', and the N of 'top N' -> 'n': what an example and a question must share."""
    text = mask_periods(question)
    limit = requested_limit(text)
    if limit is not None:
        text = re.sub(rf"\b(top|first|bottom|best|worst)\s+(\d+|{'|'.join(NUMBER_WORDS)})\b", r"\1 n", text, count=1,
                      flags=re.IGNORECASE)
    return text


# -- rewriting SQL -----------------------------------------------------------------------
def _date_literal(node) -> bool:
    return isinstance(node, exp.Literal) and node.is_string and bool(ISO_DATE.match(node.this))


def _date_comparisons(tree: exp.Expression) -> list[exp.Expression]:
    """Comparisons (>=, >, <, <=, =, BETWEEN) of something with an ISO date literal."""
    found = []
    for node in tree.find_all(exp.GTE, exp.GT, exp.LT, exp.LTE, exp.EQ, exp.Between):
        if isinstance(node, exp.Between):
            if _date_literal(node.args.get("low")) or _date_literal(node.args.get("high")):
                found.append(node)
        elif _date_literal(node.this) or _date_literal(node.expression):
            found.append(node)
    return found


def _bound_kind(node: exp.Expression) -> str:
    """'low' or 'high': which end of the range a comparison sets (literal on the right or left)."""
    literal_right = _date_literal(node.expression)
    if isinstance(node, (exp.GTE, exp.GT)):
        return "low" if literal_right else "high"
    if isinstance(node, (exp.LT, exp.LTE)):
        return "high" if literal_right else "low"
    return "eq"


def replace_periods(sql: str, periods: list[Period], dialect: str) -> str:
    """The SQL's date range (a >= / < pair, BETWEEN, or an equality) rewritten to the question's period.

    With one period every range takes it; with several, the n-th range takes the n-th period.
    Ranges are always written half-open: `col >= 'start' AND col < 'end'`. SQL without date
    literals, or no periods, is returned unchanged.
    """
    if not periods:
        return sql
    tree = sqlglot.parse_one(sql, read=dialect)
    comparisons = _date_comparisons(tree)
    if not comparisons:
        return sql
    # Group the comparisons by the column they constrain, in reading order.
    groups: dict[str, list[exp.Expression]] = {}
    for node in comparisons:
        other = node.this if not isinstance(node, exp.Between) and _date_literal(node.expression) else \
            (node.expression if not isinstance(node, exp.Between) else node.this)
        groups.setdefault(other.sql(dialect=dialect), []).append(node)
    for index, (_, nodes) in enumerate(groups.items()):
        period = periods[min(index, len(periods) - 1)]
        for node in nodes:
            column = node.this if isinstance(node, exp.Between) or _date_literal(node.expression) else node.expression
            low = exp.GTE(this=column.copy(), expression=exp.Literal.string(period.start))
            high = exp.LT(this=column.copy(), expression=exp.Literal.string(period.end))
            kind = "eq" if isinstance(node, (exp.Between, exp.EQ)) else _bound_kind(node)
            node.replace(exp.paren(exp.and_(low, high), copy=False) if kind == "eq" else (low if kind == "low" else high))
    return tree.sql(dialect=dialect)


def drop_periods(sql: str, dialect: str) -> str:
    """The SQL without its date-range conditions (the question names no period): WHERE loses them."""
    tree = sqlglot.parse_one(sql, read=dialect)
    comparisons = _date_comparisons(tree)
    if not comparisons:
        return sql
    for node in comparisons:
        parent = node.parent
        if isinstance(parent, exp.And):
            other = parent.expression if parent.this is node else parent.this
            parent.replace(other)
        elif isinstance(parent, exp.Where):
            parent.pop()
        else:
            node.replace(exp.true())
    return tree.sql(dialect=dialect)


def replace_limit(sql: str, limit: int | None, dialect: str) -> str:
    """The outermost LIMIT set to `limit` (added when the query orders but has none); unchanged when None."""
    if limit is None:
        return sql
    tree = sqlglot.parse_one(sql, read=dialect)
    if isinstance(tree, exp.Select) and (tree.args.get("limit") or tree.args.get("order")):
        tree = tree.limit(limit, copy=False)
    return tree.sql(dialect=dialect)


def has_period(sql: str, dialect: str) -> bool:
    """Whether the SQL compares anything with an ISO date literal."""
    return bool(_date_comparisons(sqlglot.parse_one(sql, read=dialect)))


def add_period(sql: str, period: Period, date_columns: dict[str, str], dialect: str) -> str:
    """A filter on `period` added to the first SELECT (outermost first) reading a table that has a
    date column (`date_columns`: table -> column); unchanged when the SQL already filters dates or
    reads no such table.

        >>> p = Period("2024-01-01", "2025-01-01", "2024", 0)
        >>> add_period("SELECT COUNT(*) FROM orders AS o", p, {"orders": "order_date"}, "sqlite")
        "SELECT COUNT(*) FROM orders AS o WHERE o.order_date >= '2024-01-01' AND o.order_date < '2025-01-01'"
    """
    tree = sqlglot.parse_one(sql, read=dialect)
    if _date_comparisons(tree):
        return sql
    lower = {t.lower(): c for t, c in date_columns.items()}
    for select in tree.find_all(exp.Select):
        for table in select.find_all(exp.Table):
            if table.find_ancestor(exp.Select) is not select or table.name.lower() not in lower:
                continue
            column = exp.column(lower[table.name.lower()], table=table.alias_or_name)
            condition = exp.and_(exp.GTE(this=column, expression=exp.Literal.string(period.start)),
                                 exp.LT(this=column.copy(), expression=exp.Literal.string(period.end)))
            select.where(condition, copy=False)
            return tree.sql(dialect=dialect)
    return sql


def adapt_periods(sql: str, question: str, today: dt.date | str, dialect: str, *, drop_when_none: bool = False) -> str:
    """`replace_periods` + `replace_limit` for `question`; `drop_when_none` also removes a date range
    the question does not ask for (an example's 'in 2025' when the question has no period)."""
    periods = find_periods(question, today)
    if periods:
        sql = replace_periods(sql, periods, dialect)
    elif drop_when_none:
        sql = drop_periods(sql, dialect)
    return replace_limit(sql, requested_limit(question), dialect)
