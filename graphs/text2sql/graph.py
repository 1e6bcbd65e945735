"""Text-to-SQL with schema/value linking, retrieved examples, grammar-constrained generation,
sqlglot validation and repair, read-only execution, and self-correction.

    python -m evals.text2sql --data ../shared/data/geoquery --split dev     # benchmark
    langgraph dev --no-browser                                              # graph "text2sql"

    from graphs.text2sql.graph import answer_question
    answer_question("What were our total sales in Q2 by product category?")   # sample business DB

    list_tables -> link_schema -> retrieve_examples --(best example very similar)--> try_examples
                                                   \\--> generate_sql -> check_sql
    try_examples --(an adapted example ran with rows)--> answer, else --> generate_sql
    check_sql --(ran with rows, or out of attempts)--> answer, else (error fed back) --> generate_sql

Periods ("Q2 2025", "last quarter", "between March and May 2025") and "top N" are linked by code
(`periods.py`, reference date = the `today` option, else the database documentation's end date,
else the latest date in the data): an example's dates and LIMIT are replaced by the question's, and
the model's SQL gets the question's period (replaced, or added when missing). The shortcut takes
an example only when, besides the similarity, its other numbers and its table/column words
(values counted as their columns) equal the question's (`example_fits`).

`check_sql` repairs each candidate with sqlglot (unknown identifiers -> closest real ones,
literals -> the question's linked values), validates it against the live schema, allows only a
single read-only SELECT (`tools.sql_safety.check_read_only`), runs it read-only with a timeout
and a row cap, and keeps the first candidate that returns rows. Candidates: the model's SQL,
then the retrieved examples' SQL adapted to the question's values.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from functools import lru_cache
from typing import Literal

import sqlglot
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from graphs.text2sql import prompts
from graphs.text2sql.context import Context
from graphs.text2sql.examples import Example, ExampleStore
from graphs.text2sql.periods import Period, adapt_periods, add_period, find_periods, has_period, mask_numbers
from graphs.text2sql.repair import adapt_example, plain_style, repair_sql
from graphs.text2sql.schema_linking import LinkedSchema, ValueIndex, ValueMatch, link_schema, singular, words
from graphs.text2sql.state import InputState, State
from graphs.text2sql.validation import Feedback, classify_execution_error, schema_mapping, validate_sql
from models.messages import last_human_text


# -- shared resources (built on first use, never at import) -----------------------------
def database_url(database: str) -> str:
    if database:
        return database
    from tools.sample_business import ensure_sample_database

    return str(ensure_sample_database())


@lru_cache(maxsize=8)
def open_database(url: str):
    from tools.sql_database import SQLDatabase

    return SQLDatabase.open(url)


@lru_cache(maxsize=8)
def database_profile(url: str) -> tuple[dict, dict, ValueIndex]:
    """(table -> Columns, table -> {column: type} for sqlglot, index of text cell values)."""
    db = open_database(url)
    columns = {t: db.columns(t) for t in db.tables()}
    return columns, schema_mapping(db), ValueIndex.from_database(db)


class QuestionShape:
    """A question's shape for finding similar examples: cell values -> their column names, periods ->
    'period', the N of 'top N' -> 'n'. `shape("Top 5 customers in West in Q2 2025")` ->
    'top n customers in region in period'."""

    def __init__(self, values: ValueIndex):
        self.values = values

    def __call__(self, question: str) -> str:
        return self.values.mask(mask_numbers(question))


@lru_cache(maxsize=8)
def _example_store(path: str, similarity: str, url: str) -> ExampleStore:
    store = ExampleStore(path, similarity=similarity, normalize=QuestionShape(database_profile(url)[2]))
    if not store.items and _is_sample_database(url):
        # The sample business database ships with its documentation and worked examples (kept in memory).
        from tools.sample_business import SAMPLE_DOCUMENTATION, SAMPLE_EXAMPLES

        store.extend((e["question"], e["sql"]) for e in SAMPLE_EXAMPLES)
        for note in SAMPLE_DOCUMENTATION:
            store.items.append(Example("documentation", note))
    return store


def _is_sample_database(url: str) -> bool:
    from tools.sample_business import default_sample_path

    try:
        return Path(url).resolve() == default_sample_path().resolve()
    except (OSError, ValueError):
        return False


@lru_cache(maxsize=8)
def _latest_date_in_data(url: str) -> str:
    """The latest ISO date held by a date-like column ('...date...' in its name or type), or ''."""
    db = open_database(url)
    latest = ""
    for table, columns in database_profile(url)[0].items():
        for column in columns:
            if "date" in column.name.lower() or "date" in str(column.type or "").lower():
                try:
                    values = db.distinct_values(table, column.name, limit=100000)
                except Exception:  # noqa: BLE001 - a column we cannot read gives no date
                    continue
                dates = [str(v)[:10] for v in values if v is not None and re.match(r"\d{4}-\d{2}-\d{2}", str(v))]
                latest = max([latest, *dates])
    return latest


def reference_date(context: Context, url: str, store: ExampleStore | None = None) -> str:
    """'Today' for 'last quarter', 'this year', ...: the `today` option, else the end date the
    database's documentation states ('covers 2024-01-01 to 2025-12-31'), else the latest date in the data,
    else the real date."""
    if context.today:
        return context.today
    for note in (e.text for e in (store.items if store else []) if e.kind == "documentation"):
        found = re.search(r"\bcovers\b.*?\bto\s+(\d{4}-\d{2}-\d{2})", note)
        if found:
            return found.group(1)
    import datetime as dt

    return _latest_date_in_data(url) or dt.date.today().isoformat()


def example_store_for(context: Context, url: str) -> ExampleStore:
    if context.example_store is not None:
        return context.example_store
    from models.settings import data_home

    return _example_store(context.examples or str(data_home() / "text2sql" / "examples.jsonl"), context.similarity, url)


def _question(state: State) -> str:
    if state.question:
        return state.question.strip()
    return last_human_text(state.messages).strip()


def _timed(state: State, name: str, start: float) -> dict:
    return {**state.timings, name: round(state.timings.get(name, 0.0) + time.perf_counter() - start, 4)}


def _as_matches(values: list[dict]) -> list[ValueMatch]:
    return [ValueMatch(**v) for v in values]


# -- nodes ---------------------------------------------------------------------------------
def list_tables(state: State, runtime: Runtime[Context]) -> dict:
    start = time.perf_counter()
    context = runtime.context or Context()
    question = _question(state)
    if not question:
        raise ValueError("No question: pass {'question': '...'} or a human message.")
    url = database_url(context.database)
    db = open_database(url)
    columns, _, _ = database_profile(url)
    return {"question": question, "dialect": db.dialect, "tables": list(columns), "attempt": 0, "attempts": [],
            "timings": _timed(state, "list_tables", start)}


def _linked(question: str, context: Context, url: str, extra_tables=()) -> LinkedSchema:
    columns, _, values_index = database_profile(url)
    if not context.schema_linking:
        return LinkedSchema(tables={t: [(c.name, str(c.type or "").lower()) for c in cols] for t, cols in columns.items()})
    return link_schema(question, columns, values_index.match(question), extra_tables=tuple(extra_tables))


def _schema_update(linked: LinkedSchema) -> dict:
    return {"schema_ddl": linked.ddl(), "value_hints": linked.value_hints(),
            "linked_values": [vars(m) for m in linked.values], "linked_tables": {t: [c for c, _ in cols] for t, cols in linked.tables.items()}}


def link_schema_node(state: State, runtime: Runtime[Context]) -> dict:
    start = time.perf_counter()
    context = runtime.context or Context()
    linked = _linked(state.question, context, database_url(context.database))
    return {**_schema_update(linked), "timings": _timed(state, "link_schema", start)}


def retrieve_examples(state: State, runtime: Runtime[Context]) -> dict:
    start = time.perf_counter()
    context = runtime.context or Context()
    url = database_url(context.database)
    store = example_store_for(context, url)
    today = reference_date(context, url, store)
    periods = [vars(p) for p in find_periods(state.question, today)]
    if context.few_shot <= 0:
        return {"examples": [], "reference_date": today, "periods": periods,
                "timings": _timed(state, "retrieve_examples", start)}
    values = _as_matches(state.linked_values) if context.schema_linking else []
    examples, example_tables = [], []
    for example, score in store.get_similar_question_sql(state.question, k=context.few_shot):
        try:
            shown = plain_style(example.sql, state.dialect)
            adapted = adapt_example(shown, values, state.dialect) if values else shown
            # The question's periods and 'top N' replace the example's dates and LIMIT (a date range
            # the question does not ask for is dropped).
            adapted = adapt_periods(adapted, state.question, today, state.dialect, drop_when_none=True)
            example_tables += [t.name for t in sqlglot.parse_one(shown, read=state.dialect).find_all(sqlglot.exp.Table)]
        except Exception:  # noqa: BLE001 - an example in another dialect is shown as written
            shown = adapted = example.sql
        examples.append({"question": example.question, "sql": shown, "adapted_sql": adapted, "score": round(score, 4)})
    update = {"examples": examples, "documentation": store.get_related_documentation(state.question, k=2),
              "reference_date": today, "periods": periods}
    if context.schema_linking and example_tables:
        update.update(_schema_update(_linked(state.question, context, url, extra_tables=example_tables)))
    return {**update, "timings": _timed(state, "retrieve_examples", start)}


def route_after_examples(state: State, runtime: Runtime[Context]) -> Literal["try_examples", "generate_sql"]:
    context = runtime.context or Context()
    best = state.examples[0] if state.examples else None
    trusted = best is not None and best["score"] >= context.example_trust and \
        example_fits(best["question"], state.question, database_url(context.database), best["sql"], state.dialect)
    return "try_examples" if context.self_correction and trusted else "generate_sql"


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
    used = _sql_words(example_sql, dialect) if example_sql else frozenset()
    return all(phrase in shown or set(phrase.split()) <= used for phrase in asked)


def _numbers(text: str) -> set[str]:
    """Tokens holding a digit: `_numbers("sales in Q2 2025") -> {"q2", "2025"}`."""
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if any(ch.isdigit() for ch in w)}


def _name_phrase(name: str) -> str:
    return " ".join(singular(w) for w in re.split(r"[_\W]+", name.lower()) if w)


@lru_cache(maxsize=8)
def _schema_phrases(url: str) -> frozenset[str]:
    """Table and column names as singular word phrases ('order_date' -> 'order date'), less 'id' and 'name'."""
    columns = database_profile(url)[0]
    names = list(columns) + [c.name for cols in columns.values() for c in cols]
    return frozenset(_name_phrase(n) for n in names) - {"id", "name", ""}


def schema_words(question: str, url: str) -> frozenset[str]:
    """The table/column names a question mentions (as phrases), its cell values counted as their
    columns: `schema_words("orders from the West region")` -> {'order', 'region'}."""
    masked = database_profile(url)[2].mask(question)
    text = f" {' '.join(singular(w) for w in words(masked.replace('_', ' ')))} "
    return frozenset(p for p in _schema_phrases(url) if f" {p} " in text)


def _sql_words(sql: str, dialect: str) -> frozenset[str]:
    try:
        tree = sqlglot.parse_one(sql, read=dialect or None)
    except Exception:  # noqa: BLE001 - unparsable SQL uses nothing we can see
        return frozenset()
    names = [t.name for t in tree.find_all(sqlglot.exp.Table)] + [c.name for c in tree.find_all(sqlglot.exp.Column)]
    return frozenset(w for n in names for w in _name_phrase(n).split())


def _prompt_messages(state: State, context: Context) -> list[dict]:
    values = prompts.VALUES_BLOCK.format(hints=state.value_hints) if state.value_hints else ""
    notes = prompts.DOCUMENTATION_BLOCK.format(notes="\n".join(state.documentation)) if state.documentation else ""
    pairs = "\n\n".join(prompts.EXAMPLE_PAIR.format(question=e["question"], sql=e["adapted_sql"])
                        for e in reversed(state.examples))  # the most similar example last, next to the question
    examples = prompts.EXAMPLES_BLOCK.format(pairs=pairs) if pairs else ""
    user = prompts.USER_PROMPT.format(ddl=state.schema_ddl, values=values, documentation=notes, examples=examples,
                                      question=state.question)
    messages = [{"role": "system", "content": prompts.SYSTEM_PROMPT.format(dialect=state.dialect)},
                {"role": "user", "content": user}]
    if state.feedback and state.generated:
        messages += [{"role": "assistant", "content": state.generated},
                     {"role": "user", "content": prompts.FEEDBACK_PROMPT.format(sql=state.generated, feedback=state.feedback)}]
    return messages


def extract_sql(text: str) -> str:
    """The SQL inside a free-text reply: code fences removed, from the first SELECT/WITH to the
    first semicolon or blank line. `extract_sql("Sure:\\n```sql\\nSELECT 1;\\n```") -> "SELECT 1"`."""
    text = re.sub(r"```(?:sql)?", "\n", text, flags=re.IGNORECASE)
    found = re.search(r"\b(SELECT|WITH)\b", text, flags=re.IGNORECASE)
    if not found:
        return text.strip()
    body = text[found.start():]
    body = re.split(r";|\n\s*\n", body, maxsplit=1)[0]
    return body.strip()


def generate_sql(state: State, runtime: Runtime[Context]) -> dict:
    from models import load_chat_model
    from models.llamacpp import LlamaCppChatModel, complete_with_grammar

    start = time.perf_counter()
    context = runtime.context or Context()
    model = load_chat_model(context.model) if isinstance(context.model, str) else context.model  # a chat model object works too
    messages = _prompt_messages(state, context)
    if context.grammar and isinstance(model, LlamaCppChatModel):
        from graphs.text2sql.sql_grammar import schema_grammar

        tables = state.linked_tables
        values = [str(v["value"]) for v in state.linked_values] if context.schema_linking else []
        text = complete_with_grammar(model, messages, schema_grammar(tables, values), max_tokens=context.max_tokens)
    else:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
        reply = model.invoke([kinds[m["role"]](content=m["content"]) for m in messages], max_tokens=context.max_tokens)
        text = reply.text
    return {"generated": extract_sql(text), "attempt": state.attempt + 1, "timings": _timed(state, "generate_sql", start)}


def _run_candidate(sql: str, source: str, state: State, context: Context, url: str, repair: bool) -> dict:
    """Repair, validate and execute one candidate; the attempt record (with `result` when it ran)."""
    _, mapping, _ = database_profile(url)
    record = {"attempt": state.attempt, "source": source, "sql": sql, "ok": False, "rows": None,
              "error_kind": None, "error": None, "repairs": []}
    if repair:
        sql, record["repairs"] = repair_sql(sql, mapping, _as_matches(state.linked_values), state.dialect)
        if source == "model" and state.reference_date:
            try:  # the model's dates and LIMIT become the question's periods and 'top N'
                adapted = adapt_periods(sql, state.question, state.reference_date, state.dialect)
                if len(state.periods) == 1:  # a period the model left out is added
                    adapted = add_period(adapted, Period(**state.periods[0]), date_columns(url), state.dialect)
            except Exception:  # noqa: BLE001 - SQL sqlglot cannot parse is left to validation
                adapted = sql
            if adapted != sql:
                record["repairs"] = [*record["repairs"], "periods"]
                sql = adapted
        record["sql"] = sql
    try:
        checked = validate_sql(sql, mapping, state.dialect)
        record["sql"] = checked
        result = open_database(url).run(checked, timeout_s=context.timeout_s, max_rows=context.max_rows)
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


def _settle(records: list[dict], state: State) -> dict:
    """State update from a batch of attempt records: the first that returned rows wins."""
    attempts = state.attempts + [{k: v for k, v in r.items() if k != "result"} for r in records]
    winner = next((r for r in records if r["ok"]), None)
    if winner:
        return {"attempts": attempts, "sql": winner["sql"], "result": winner["result"], "feedback": ""}
    ran = next((r for r in records if r.get("result") is not None), None)
    update = {"attempts": attempts, "feedback": records[0]["error"] if records else ""}
    if ran and state.result is None:  # keep an empty-but-valid result in case nothing better comes
        update.update(sql=ran["sql"], result=ran["result"])
    return update


def _example_candidates(state: State, tried: set[str]) -> list[tuple[str, str]]:
    """Adapted example SQL not tried yet; when the question names a period, only SQL that filters dates
    (an example without one would answer for all time)."""
    def honours_period(sql: str) -> bool:
        try:
            return not state.periods or has_period(sql, state.dialect)
        except Exception:  # noqa: BLE001 - unparsable SQL is left to validation
            return True

    return [(e["adapted_sql"], f"example {i}") for i, e in enumerate(state.examples, start=1)
            if e["adapted_sql"] not in tried and honours_period(e["adapted_sql"])]


@lru_cache(maxsize=8)
def date_columns(url: str) -> dict[str, str]:
    """table -> its date column ('date' in the name or type; the first one), for adding a period filter."""
    found = {}
    for table, columns in database_profile(url)[0].items():
        for column in columns:
            if table not in found and ("date" in column.name.lower() or "date" in str(column.type or "").lower()):
                found[table] = column.name
    return found


def try_examples(state: State, runtime: Runtime[Context]) -> dict:
    start = time.perf_counter()
    context = runtime.context or Context()
    url = database_url(context.database)
    records = [_run_candidate(sql, source, state, context, url, repair=True)
               for sql, source in _example_candidates(state, set())[:1]]
    return {**_settle(records, state), "timings": _timed(state, "check_sql", start)}


def route_after_try_examples(state: State) -> Literal["answer", "generate_sql"]:
    return "answer" if any(a["ok"] for a in state.attempts) else "generate_sql"


def check_sql(state: State, runtime: Runtime[Context]) -> dict:
    start = time.perf_counter()
    context = runtime.context or Context()
    url = database_url(context.database)
    records = [_run_candidate(state.generated, "model", state, context, url, repair=context.self_correction)]
    if context.self_correction and not records[0]["ok"] and state.attempt == 1:
        tried = {a["sql"] for a in state.attempts}
        records += [_run_candidate(sql, source, state, context, url, repair=True)
                    for sql, source in _example_candidates(state, tried)]
    return {**_settle(records, state), "timings": _timed(state, "check_sql", start)}


def route_after_check(state: State, runtime: Runtime[Context]) -> Literal["answer", "generate_sql"]:
    context = runtime.context or Context()
    limit = context.max_attempts if context.self_correction else 1
    if any(a["ok"] for a in state.attempts) or state.attempt >= limit:
        return "answer"
    return "generate_sql"


def _cell(value) -> str:
    return f"{value:,.2f}" if isinstance(value, float) else str(value)


def answer(state: State) -> dict:
    from langchain_core.messages import AIMessage

    from graphs.text2sql.charts import chart_spec

    result, chart = state.result, None
    if result is None:
        last = state.attempts[-1]["error"] if state.attempts else "no query was generated"
        n = max(state.attempt, 1)
        text = prompts.ANSWER_FAILED.format(attempts=n, plural="" if n == 1 else "s", error=last)
    elif not result["rows"]:
        text = prompts.ANSWER_EMPTY
    elif len(result["rows"]) == 1 and len(result["columns"]) == 1:
        text = prompts.ANSWER_SINGLE.format(value=_cell(result["rows"][0][0]))
    else:
        rows = result["rows"]
        preview = "; ".join(", ".join(_cell(v) for v in r) for r in rows[:5]) + ("; ..." if len(rows) > 5 else "")
        text = prompts.ANSWER_ROWS.format(count=len(rows), plural="" if len(rows) == 1 else "s",
                                          truncated=" (capped)" if result["truncated"] else "", preview=preview)
        chart = chart_spec(result["columns"], [tuple(r) for r in rows])
    table = ""
    if result is not None and result["rows"]:
        from tools.sql_database import format_table

        table = "\n\n" + format_table(result["columns"], result["rows"], max_rows=20)
    message = text + table + (f"\n\nSQL:\n{state.sql}" if state.sql else "")
    return {"answer": text, "chart": chart, "messages": [AIMessage(content=message)]}


builder = StateGraph(State, input_schema=InputState, context_schema=Context)
builder.add_node(list_tables)
builder.add_node("link_schema", link_schema_node)
builder.add_node(retrieve_examples)
builder.add_node(try_examples)
builder.add_node(generate_sql)
builder.add_node(check_sql)
builder.add_node(answer)
builder.add_edge(START, "list_tables")
builder.add_edge("list_tables", "link_schema")
builder.add_edge("link_schema", "retrieve_examples")
builder.add_conditional_edges("retrieve_examples", route_after_examples)
builder.add_conditional_edges("try_examples", route_after_try_examples)
builder.add_edge("generate_sql", "check_sql")
builder.add_conditional_edges("check_sql", route_after_check)
builder.add_edge("answer", END)

graph = builder.compile(name="text2sql")


def answer_question(question: str, database: str = "", model: str = "", **options) -> dict:
    """Answer one question on a database: {question, answer, sql, result, chart, attempts, examples, timings}.

        answer_question("how many customers are in each region?")                   # sample business DB
        answer_question("what is the biggest city in arizona", "../shared/data/geoquery/geography.sqlite")

    `options` are Context fields (max_attempts, few_shot, schema_linking, self_correction,
    grammar, example_store, ...). Bad options raise TypeError naming the field.
    """
    fields = {"database": database, "model": model}  # model: a spec string or a LangChain chat model
    context = Context(**{k: v for k, v in fields.items() if v}, **options)
    start = time.perf_counter()
    final = graph.invoke({"question": question}, context=context)
    keys = ("question", "answer", "sql", "result", "chart", "attempts", "examples", "timings", "attempt")
    out = {k: final.get(k) for k in keys}
    out["timings"] = {**(out["timings"] or {}), "total": round(time.perf_counter() - start, 4)}
    out["ok"] = final.get("result") is not None and bool(final["result"]["rows"])
    return out
