"""Trying one candidate query: repair it with sqlglot, give it the question's periods, validate it
against the live schema, run it read-only, and record what happened (the text-to-SQL graph's
`attempts`).

    record = run_candidate("SELECT COUNT(*) FROM orders", "model", url=url, question="How many orders?",
                           dialect="sqlite")
    record["ok"], record["rows"], record["result"]["rows"]      # True, 1, [[500]]
"""

from __future__ import annotations

from typing import Sequence

from tools.sql.adaptation import ignored_values, ungrounded_conditions, ungrounded_groups
from tools.sql.catalog import constant_values, database_profile, date_columns, open_database
from tools.sql.linking import ValueMatch
from tools.sql.periods import Period, adapt_periods, add_period
from tools.sql.repair import repair_sql
from tools.sql.validation import Feedback, classify_execution_error, validate_sql


def run_candidate(sql: str, source: str, *, url: str, question: str, dialect: str, attempt: int = 0,
                  linked_values: Sequence[ValueMatch] = (), reference_date: str = "", periods: Sequence[Period] = (),
                  timeout_s: float = 5.0, max_rows: int = 500, repair: bool = True, grounded_only: bool = False) -> dict:
    """The attempt record {attempt, source, sql, ok, rows, error_kind, error, repairs} of one candidate,
    with `result` {columns, rows, truncated} when it ran; ok = it returned rows. `grounded_only`: SQL
    filtering on something the question does not ask for (any source), or, for an adapted example,
    leaving out a value the question names or grouping by what it does not ask, is refused unrun
    (error_kind 'ungrounded'; for the model's SQL the refusal is the feedback of its next attempt)."""
    _, mapping, _ = database_profile(url)
    record = {"attempt": attempt, "source": source, "sql": sql, "ok": False, "rows": None,
              "error_kind": None, "error": None, "repairs": []}
    if repair:
        sql, record["repairs"] = repair_sql(sql, mapping, list(linked_values), dialect)
        if source == "model" and reference_date:
            try:  # the model's dates and LIMIT become the question's periods and 'top N'
                adapted = adapt_periods(sql, question, reference_date, dialect)
                if len(periods) == 1:  # a period the model left out is added
                    adapted = add_period(adapted, periods[0], date_columns(url), dialect)
            except Exception:  # noqa: BLE001 - SQL sqlglot cannot parse is left to validation
                adapted = sql
            if adapted != sql:
                record["repairs"] = [*record["repairs"], "periods"]
                sql = adapted
        record["sql"] = sql
    if grounded_only:
        try:
            constants = constant_values(url)
            extra = [f"filters on {c}, which the question does not ask for"
                     for c in ungrounded_conditions(sql, question, linked_values, periods, dialect, constants)]
            if source != "model":
                extra += [f"leaves out {v}, which the question names"
                          for v in ignored_values(sql, linked_values, dialect, constants)]
                extra += [f"gives a row per {g}, which the question does not ask for"
                          for g in ungrounded_groups(sql, question, dialect)]
        except Exception:  # noqa: BLE001 - SQL sqlglot cannot parse is left to validation
            extra = []
        if extra:
            feedback = Feedback("ungrounded", "; ".join(extra))
            record.update(error_kind=feedback.kind, error=feedback.text())
            return record
    try:
        checked = validate_sql(sql, mapping, dialect)
        record["sql"] = checked
        result = open_database(url).run(checked, timeout_s=timeout_s, max_rows=max_rows)
    except Exception as err:  # noqa: BLE001 - every failure becomes feedback
        feedback = classify_execution_error(err)
        record.update(error_kind=feedback.kind, error=feedback.text())
        return record
    record["rows"] = len(result.rows)
    record["result"] = {"columns": list(result.columns), "rows": [list(r) for r in result.rows], "truncated": result.truncated}
    if result.rows:
        record["ok"] = True
    else:
        record.update(error_kind="empty_result", error=Feedback("empty_result", "").text())
    return record
