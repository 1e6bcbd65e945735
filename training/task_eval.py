"""How well a model answers held-out rows of a task data set (the rows a fine-tune never saw).

    from training.task_eval import held_out_accuracy
    held_out_accuracy("registry:hearth-sql@production", rows)   # {"exact": 0.62, "execution": 0.70, ...}

Rows are the prompt/completion chat rows `training.sql_data` and `training.tool_data` write. The
model answers each prompt greedily; an answer counts as exact when it equals the reference
completion after normalisation (SQL through sqlglot, tool calls as parsed JSON, text by words).
SQL rows from GeoQuery are also executed on its database, and count as executed-right when
their result equals the reference SQL's result. This is the quick check a lab job runs after a
fine-tune; the benchmark with base and tuned side by side on GeoQuery dev and the home commands is
`python -m evals.finetune`.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Callable, Optional


def _normal_text(text: str) -> str:
    return " ".join(re.findall(r"\w+|[^\w\s]", text.lower()))


def normalized_answer(text: str, task: str) -> str:
    """The form two answers are compared in.

    >>> normalized_answer("select  COUNT(*) from city;", "sql") == normalized_answer("SELECT COUNT(*) FROM city", "sql")
    True
    >>> normalized_answer('{"tool_calls": [{"name": "x", "args": {"b": 1, "a": 2}}]}', "tools")
    '{"tool_calls": [{"args": {"a": 2, "b": 1}, "name": "x"}]}'
    """
    text = text.strip()
    if task == "sql":
        from training.sql_data import normalize_sql

        try:
            return normalize_sql(text.rstrip(";"))
        except Exception:  # noqa: BLE001 - SQL that does not parse is compared as text
            return _normal_text(text)
    if task == "tools":
        try:
            return json.dumps(json.loads(text), sort_keys=True)
        except ValueError:
            return _normal_text(text)
    return _normal_text(text)


def _rows(database: Path, sql: str):
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
            return Counter(map(tuple, db.execute(sql).fetchmany(5000)))
    except Exception:  # noqa: BLE001 - SQL that does not run does not match
        return None


def held_out_accuracy(spec: str, rows: list[dict], progress: Optional[Callable[[float, str], None]] = None,
                      max_tokens: int = 192) -> dict:
    """Greedy answers of model `spec` to `rows`' prompts, scored against their completions."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    from models import load_chat_model
    from models.settings import shared_data

    if not rows:
        raise ValueError("No rows to evaluate: pass held-out rows (a run's validation split or a JSONL of prompt/completion rows).")
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    model = load_chat_model(spec)
    geography = shared_data() / "geoquery" / "geography.sqlite"
    exact = executed = executable_items = 0
    records = []
    for number, row in enumerate(rows, 1):
        task = row.get("task", "text")
        reply = model.invoke([kinds[m["role"]](m["content"]) for m in row["prompt"]], max_tokens=max_tokens)
        answer = reply.content if isinstance(reply.content, str) else str(reply.content)
        reference = row["completion"][-1]["content"]
        same = normalized_answer(answer, task) == normalized_answer(reference, task)
        exact += same
        record = {"id": row.get("id"), "answer": answer, "reference": reference, "exact": same}
        if task == "sql" and str(row.get("source", "")).startswith("geoquery") and geography.is_file():
            gold = _rows(geography, reference)
            if gold is not None:
                executable_items += 1
                record["executed_right"] = _rows(geography, answer.strip().rstrip(";")) == gold
                executed += record["executed_right"]
        records.append(record)
        if progress:
            progress(number / len(rows), f"{number}/{len(rows)} answered, {exact} exact")
    result = {"model": spec, "n": len(rows), "exact": round(exact / len(rows), 4), "records": records}
    if executable_items:
        result["execution"] = round(executed / executable_items, 4)
        result["executed_items"] = executable_items
    return result
