"""Text-to-SQL with schema/value linking, retrieved examples, grammar-constrained generation,
sqlglot validation and repair, read-only execution, and self-correction.

    python -m evals.text2sql --data ../shared/data/geoquery --split dev     # benchmark
    langgraph dev --no-browser                                              # graph "text2sql"

    from graphs.text2sql.graph import answer_question
    answer_question("What were our total sales in Q2 by product category?")   # sample business DB

    list_tables -> link_schema --(names a value/thing the database lacks)--> answer (says so, runs nothing)
    link_schema -> retrieve_examples --(best example very similar)--> try_examples
                                                   \\--> generate_sql -> check_sql
    try_examples --(an adapted example ran with rows)--> answer, else --> generate_sql
    check_sql --(ran with rows, or out of attempts)--> answer, else (error fed back) --> generate_sql

The parts live in `tools/sql/` (catalog, linking, examples, periods, adaptation, prompt, grammar,
repair, validation, candidates, safety, database, charts). Periods ("Q2 2025", "last quarter",
"between March and May 2025") and "top N" are linked by code (`tools/sql/periods.py`, reference date = the `today` option, else the database documentation's end date,
else the latest date in the data): an example's dates and LIMIT are replaced by the question's, and
the model's SQL gets the question's period (replaced, or added when missing). The shortcut takes
an example only when, besides the similarity, its other numbers and its table/column words
(values counted as their columns) equal the question's (`example_fits`).

`check_sql` repairs each candidate with sqlglot (unknown identifiers -> closest real ones,
literals -> the question's linked values), validates it against the live schema, allows only a
single read-only SELECT (`tools.sql.safety.check_sql_read_only`), runs it read-only with a timeout
and a row cap, and keeps the first candidate that returns rows. Candidates: the model's SQL,
then the retrieved examples' SQL adapted to the question's values. An adapted example that filters
on a value, date or number the question does not ask for is refused unrun (`ungrounded`).

`sources` chooses who may answer: "model+examples" (default), "model" (the model's SQL only:
linking, few-shot and repairs, but no adapted example is ever run) or "examples" (retrieval and
adaptation only, no model call) — the benchmark's `full`, `model_only` and `examples_only` rows.
"""

from __future__ import annotations

import time
from typing import Literal

import sqlglot
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from graphs.text2sql import prompts
from graphs.text2sql.context import Context
from graphs.text2sql.state import InputState, State
from models.messages import last_human_text
from tools.sql.adaptation import covers_question, example_fits
from tools.sql.candidates import run_candidate
from tools.sql.catalog import database_profile, database_url, example_store, open_database, reference_date, vocabulary
from tools.sql.coverage import missing_mentions
from tools.sql.examples import ExampleStore
from tools.sql.linking import LinkedSchema, ValueMatch, link_schema
from tools.sql.periods import Period, adapt_periods, find_periods, has_period
from tools.sql.prompt import extract_sql, render_sql_messages
from tools.sql.repair import adapt_example, plain_style


def example_store_for(context: Context, url: str) -> ExampleStore:
    return context.example_store if context.example_store is not None else \
        example_store(context.examples, context.similarity, url)


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
    url = database_url(context.database)
    linked = _linked(state.question, context, url)
    missing = []
    if context.check_coverage:  # a value, or a thing to count, the database does not hold
        store = example_store_for(context, url)
        missing = missing_mentions(state.question, database_profile(url)[2], vocabulary(url, store))
    return {**_schema_update(linked), "missing": missing, "timings": _timed(state, "link_schema", start)}


def route_after_linking(state: State) -> Literal["retrieve_examples", "answer"]:
    return "answer" if state.missing else "retrieve_examples"


def retrieve_examples(state: State, runtime: Runtime[Context]) -> dict:
    start = time.perf_counter()
    context = runtime.context or Context()
    url = database_url(context.database)
    store = example_store_for(context, url)
    today = reference_date(context.today, url, store)
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


def route_after_examples(state: State, runtime: Runtime[Context]) -> Literal["try_examples", "generate_sql", "answer"]:
    context = runtime.context or Context()
    if context.sources == "examples":
        return "try_examples" if state.examples else "answer"
    if context.sources == "model":
        return "generate_sql"
    best = state.examples[0] if state.examples else None
    trusted = best is not None and best["score"] >= context.example_trust and \
        example_fits(best["question"], state.question, database_url(context.database), best["sql"], state.dialect)
    return "try_examples" if context.self_correction and trusted else "generate_sql"


def generate_sql(state: State, runtime: Runtime[Context]) -> dict:
    from models import load_chat_model
    from models.llamacpp import LlamaCppChatModel, complete_with_grammar

    start = time.perf_counter()
    context = runtime.context or Context()
    model = load_chat_model(context.model) if isinstance(context.model, str) else context.model  # a chat model object works too
    messages = render_sql_messages(state.schema_ddl, state.question, dialect=state.dialect, value_hints=state.value_hints,
                                   documentation=state.documentation,
                                   examples=[(e["question"], e["adapted_sql"]) for e in state.examples],
                                   previous_sql=state.generated if state.feedback else "", feedback=state.feedback)
    if context.grammar and isinstance(model, LlamaCppChatModel):
        from tools.sql.grammar import schema_grammar

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
    return run_candidate(sql, source, url=url, question=state.question, dialect=state.dialect, attempt=state.attempt,
                         linked_values=_as_matches(state.linked_values), reference_date=state.reference_date,
                         periods=[Period(**p) for p in state.periods], timeout_s=context.timeout_s,
                         max_rows=context.max_rows, repair=repair, grounded_only=repair)


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


def _example_candidates(state: State, tried: set[str], url: str) -> list[tuple[str, str]]:
    """Adapted example SQL not tried yet that uses every table/column the question names; when the
    question names a period, only SQL that filters dates (an example without one would answer for all time)."""
    def honours_period(sql: str) -> bool:
        try:
            return not state.periods or has_period(sql, state.dialect)
        except Exception:  # noqa: BLE001 - unparsable SQL is left to validation
            return True

    return [(e["adapted_sql"], f"example {i}") for i, e in enumerate(state.examples, start=1)
            if e["adapted_sql"] not in tried and honours_period(e["adapted_sql"])
            and covers_question(e["question"], state.question, url, e["sql"], state.dialect)]


def try_examples(state: State, runtime: Runtime[Context]) -> dict:
    start = time.perf_counter()
    context = runtime.context or Context()
    url = database_url(context.database)
    candidates = _example_candidates(state, set(), url)
    records = []
    # The trusted best example only; with sources="examples" (no model) every adapted example in turn.
    for sql, source in candidates if context.sources == "examples" else candidates[:1]:
        records.append(_run_candidate(sql, source, state, context, url, repair=True))
        if records[-1]["ok"]:
            break
    return {**_settle(records, state), "timings": _timed(state, "check_sql", start)}


def route_after_try_examples(state: State, runtime: Runtime[Context]) -> Literal["answer", "generate_sql"]:
    context = runtime.context or Context()
    return "answer" if any(a["ok"] for a in state.attempts) or context.sources == "examples" else "generate_sql"


def check_sql(state: State, runtime: Runtime[Context]) -> dict:
    start = time.perf_counter()
    context = runtime.context or Context()
    url = database_url(context.database)
    records = [_run_candidate(state.generated, "model", state, context, url, repair=context.self_correction)]
    if context.self_correction and context.sources != "model" and not records[0]["ok"] and state.attempt == 1:
        tried = {a["sql"] for a in state.attempts}
        records += [_run_candidate(sql, source, state, context, url, repair=True)
                    for sql, source in _example_candidates(state, tried, url)]
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

    from tools.sql.charts import chart_spec

    result, chart = state.result, None
    if state.missing:
        text = prompts.ANSWER_NOT_IN_DATABASE.format(missing="; ".join(state.missing))
        return {"answer": text, "chart": None, "messages": [AIMessage(content=text)]}
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
        from tools.sql.database import format_table

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
builder.add_conditional_edges("link_schema", route_after_linking)
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
    keys = ("question", "answer", "sql", "result", "chart", "attempts", "examples", "timings", "attempt", "missing")
    out = {k: final.get(k) for k in keys}
    out["timings"] = {**(out["timings"] or {}), "total": round(time.perf_counter() - start, 4)}
    out["ok"] = final.get("result") is not None and bool(final["result"]["rows"])
    return out
