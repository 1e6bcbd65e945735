"""Execution accuracy of the text-to-SQL graph on GeoQuery: what the model adds, ablations and LangChain peers side by side.

    python -m evals.text2sql --data ../shared/data/geoquery --split dev
    python -m evals.text2sql --data ../shared/data/geoquery --split dev --model "gguf:/models/qwen.gguf" --limit 20
    python -m evals.text2sql --data ../shared/data/geoquery --model scripted:useless   # what is left without a model
    python -m evals.text2sql --business evals/data/sql_business.jsonl --split test     # held-out business questions

Systems, each on the same model, the same examples (GeoQuery train) and the same read-only
database, item by item (so a partial run compares all systems on the same questions; items are
shuffled with --seed first):

- examples_only    no model: the retrieved train examples adapted to the question's values and
                   periods, run in turn; the first that returns rows (grounded filters only) answers
- zero_shot        the model, the whole DDL, no examples, one attempt
- schema_linking   + only the linked tables and the question's cell values (+ grammar strings)
- few_shot         + the most similar train questions with their SQL adapted to the question's values
- model_only       + self-correction (sqlglot repairs, errors fed back, up to --max-attempts): the
                   model's SQL is the only candidate, no adapted example is ever run
- full             the graph's default: the model's SQL and adapted examples, first with rows wins
- few_shot_prompt  a plain baseline: one model call with the whole DDL and the same number of
                   examples (chosen by LangChain's SemanticSimilarityExampleSelector, MiniLM), no repair
- langchain_agent  the peer as LangChain documents it: `create_sql_agent(llm, db=..., agent_type=
                   "tool-calling")` with the SQLDatabaseToolkit, its default prompt and its default
                   correction loop of up to 15 iterations
- langchain_agent_few_shot  the same agent with the documented dynamic few-shot prompt: the train
                   pairs behind a SemanticSimilarityExampleSelector (MiniLM), --few-shot per question

Every system gets the same per-step token budget (--max-tokens). Each row says who answered:
"model" (the model's SQL returned the rows) or "example" (an adapted stored example did).
`--model scripted:useless` swaps the model for a scripted one that always writes SQL returning
nothing: the model-only rows fall to 0 and `full` shows what retrieval and adaptation alone give.

Execution accuracy: the predicted result equals the gold result as a multiset of rows (as a list
when the gold query has ORDER BY). Gold queries that fail on the SQLite file are skipped. Also
reported: executable rate, attempts histogram, latency p50/p95, mean time per graph stage, an exact
McNemar test of full against examples_only and model_only on the same items, and (model-free) how
often the best retrieved example's adapted SQL alone is right, for TF-IDF and MiniLM similarity.
Writes out/text2sql/<split>-<model>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
from collections import Counter
from pathlib import Path

from evals.ir_metrics import percentile
from training.significance import exact_mcnemar
from models.settings import PROJECT_ROOT, shared_data

DEFAULT_DATA = shared_data() / "geoquery"
ABLATION = {
    "examples_only": dict(schema_linking=True, self_correction=True, sources="examples"),
    "zero_shot": dict(few_shot=0, schema_linking=False, self_correction=False, sources="model"),
    "schema_linking": dict(few_shot=0, schema_linking=True, self_correction=False, sources="model"),
    "few_shot": dict(schema_linking=True, self_correction=False, sources="model"),
    "model_only": dict(schema_linking=True, self_correction=True, sources="model"),
    "full": dict(schema_linking=True, self_correction=True),
}
BASELINE = "few_shot_prompt"
PEER = "langchain_agent"
PEER_FEW_SHOT = "langchain_agent_few_shot"
OTHERS = (BASELINE, PEER, PEER_FEW_SHOT)
SCRIPTED_USELESS = "scripted:useless"
USELESS_SQL = "SELECT NULL WHERE 0"


def load_split(folder: Path, split: str) -> list[dict]:
    """GeoQuery items; double-quoted strings in the gold SQL become SQL string literals."""
    path = folder / f"{split}.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path} does not exist. Pass --data pointing at the geoquery folder (with {split}.jsonl).")
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for item in items:
        item["query"] = re.sub(r'"([^"]*)"', r"'\1'", item["query"]).strip().rstrip(";").strip()
    return items


def load_business(path: Path, split: str) -> list[dict]:
    """The business questions of `split` (test = frozen, never tuned on; tuning), gold SQL as `query`."""
    if not path.is_file():
        raise SystemExit(f"{path} does not exist. Pass --business evals/data/sql_business.jsonl.")
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = [dict(i, query=i["sql"]) for i in items if i["split"] == split or split == "all"]
    if not chosen:
        raise SystemExit(f"No items of split {split!r} in {path}; use --split test, tuning or all.")
    return chosen


def same_result(predicted: list | None, gold: list, ordered: bool) -> bool:
    if predicted is None:
        return False
    predicted = [tuple(r) for r in predicted]
    gold = [tuple(r) for r in gold]
    return predicted == gold if ordered else Counter(predicted) == Counter(gold)


def chat_model(spec: str, max_tokens: int):
    """The model every system uses: a spec with the per-step token budget, or the scripted useless one."""
    if spec == SCRIPTED_USELESS:
        from langchain_core.language_models.fake_chat_models import FakeListChatModel

        return FakeListChatModel(responses=[USELESS_SQL])  # scripted: always SQL that returns nothing
    from models import load_chat_model

    return load_chat_model(spec if "max_tokens=" in spec else f"{spec}{'&' if '?' in spec else '?'}max_tokens={max_tokens}")


def example_selector(train: list[dict], k: int):
    """LangChain's SemanticSimilarityExampleSelector over the train pairs, on the bundled MiniLM embeddings."""
    from langchain_core.example_selectors import SemanticSimilarityExampleSelector
    from langchain_core.vectorstores import InMemoryVectorStore

    from models import load_embeddings

    examples = [{"input": q["question"], "query": q["query"]} for q in train]
    return SemanticSimilarityExampleSelector.from_examples(examples, load_embeddings("local"), InMemoryVectorStore,
                                                           k=k, input_keys=["input"])


def run_langchain_agent(question: str, db_file: Path, llm, selector=None) -> dict:
    """A peer: LangChain's SQL agent (`create_sql_agent`, tool-calling, its default 15 iterations); with
    `selector`, the documented dynamic few-shot system prompt. Returns the SQL it ran last (None if none)."""
    from langchain_community.agent_toolkits import create_sql_agent
    from langchain_community.utilities import SQLDatabase as LangChainSQLDatabase

    database = LangChainSQLDatabase.from_uri(f"sqlite:///file:{db_file}?mode=ro&uri=true")
    options = dict(agent_type="tool-calling", agent_executor_kwargs={"return_intermediate_steps": True,
                                                                     "handle_parsing_errors": True})
    if selector is not None:
        options["prompt"] = few_shot_agent_prompt(selector)
    last_sql, steps = None, 0
    try:
        agent = create_sql_agent(llm, db=database, **options)
        out = agent.invoke({"input": question})
        for action, _ in out.get("intermediate_steps", []):
            steps += 1
            query = action.tool_input.get("query") if isinstance(action.tool_input, dict) else None
            if action.tool == "sql_db_query" and query:
                last_sql = query
    except Exception as err:  # noqa: BLE001 - a failing peer scores 0 on the item, the run goes on
        return {"sql": last_sql, "steps": steps, "error": f"{type(err).__name__}: {err}"[:300]}
    return {"sql": last_sql, "steps": steps, "error": None}


def few_shot_agent_prompt(selector):
    """The SQL agent's prompt with examples chosen per question (LangChain's documented pattern: its own
    SQL_PREFIX, then a FewShotPromptTemplate over an example selector, then the input and the scratchpad)."""
    from langchain_community.agent_toolkits.sql.prompt import SQL_PREFIX
    from langchain_core.prompts import (ChatPromptTemplate, FewShotPromptTemplate, MessagesPlaceholder, PromptTemplate,
                                        SystemMessagePromptTemplate)

    few_shot = FewShotPromptTemplate(
        example_selector=selector, example_prompt=PromptTemplate.from_template("User input: {input}\nSQL query: {query}"),
        prefix=SQL_PREFIX + "\n\nSimilar questions and the SQL that answers them:", suffix="",
        input_variables=["input", "dialect", "top_k"])
    return ChatPromptTemplate.from_messages([SystemMessagePromptTemplate(prompt=few_shot), ("human", "{input}"),
                                             MessagesPlaceholder("agent_scratchpad")])


def run_few_shot_prompt(question: str, db, llm, selector) -> dict:
    """The plain baseline: one call with the whole DDL and the selected examples; the SQL in the reply."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from tools.sql.prompt import extract_sql, render_sql_messages

    pairs = [(e["input"], e["query"]) for e in selector.select_examples({"input": question})]
    messages = render_sql_messages(db.ddl(db.tables()), question, dialect=db.dialect, examples=pairs)
    try:
        reply = llm.invoke([SystemMessage(messages[0]["content"]), HumanMessage(messages[1]["content"])])
    except Exception as err:  # noqa: BLE001
        return {"sql": None, "steps": 1, "error": f"{type(err).__name__}: {err}"[:300]}
    return {"sql": extract_sql(reply.text), "steps": 1, "error": None}


def retrieval_check(train: list[dict], items: list[dict], url: str, gold_rows: dict, per_item: dict | None = None) -> dict:
    """Model-free: accuracy of the best example's adapted SQL, per similarity (and with/without masking values).
    `per_item`, when given, is filled with variant -> {item id: right} for paired tests."""
    from tools.sql.examples import ExampleStore
    from tools.sql.catalog import database_profile, open_database
    from tools.sql.repair import adapt_example, plain_style

    db, index = open_database(url), database_profile(url)[2]
    out = {}
    for similarity in ("tfidf", "embeddings"):
        for masked in (False, True):
            store = ExampleStore(similarity=similarity, normalize=index.mask if masked else None)
            store.extend((q["question"], q["query"]) for q in train)
            right = 0
            variant = f"{similarity}{'+masked' if masked else ''}"
            for item in items:
                (example, _), = store.get_similar_question_sql(item["question"], k=1)
                try:
                    rows = db.run(adapt_example(plain_style(example.sql, db.dialect), index.match(item["question"]), db.dialect)).rows
                except Exception:  # noqa: BLE001
                    rows = None
                ok = same_result(rows, gold_rows[item["id"]], "order by" in item["query"].lower())
                right += ok
                if per_item is not None:
                    per_item.setdefault(variant, {})[item["id"]] = bool(ok)
            out[variant] = round(right / max(len(items), 1), 4)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="GeoQuery folder (train/dev jsonl, geography.sqlite)")
    parser.add_argument("--split", default="dev", help="GeoQuery: dev; --business: test (frozen) or tuning")
    parser.add_argument("--business", type=Path, default=None, metavar="JSONL",
                        help="score the sample business database's questions instead (evals/data/sql_business.jsonl)")
    parser.add_argument("--model", default="local", help=f"model spec for every system ({SCRIPTED_USELESS!r}: a scripted model "
                                                         "that always writes SQL returning nothing)")
    parser.add_argument("--limit", type=int, default=0, help="score only the first N items after shuffling (0 = all)")
    parser.add_argument("--seed", type=int, default=0, help="item order (a partial run is then a random sample)")
    parser.add_argument("--systems", default=",".join([*ABLATION, *OTHERS]), help="comma-separated subset")
    parser.add_argument("--max-attempts", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=120, help="token budget of one model step, every system")
    parser.add_argument("--few-shot", type=int, default=3)
    parser.add_argument("--similarity", default="embeddings", choices=("tfidf", "embeddings"))
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "out" / "text2sql")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    from graphs.text2sql.graph import answer_question
    from tools.sql.catalog import database_profile, open_database
    from tools.sql.examples import ExampleStore

    if args.business:
        from tools.sql.sample_business import SAMPLE_EXAMPLES, ensure_sample_database

        db_file = ensure_sample_database().resolve()
        train = [{"question": e["question"], "query": e["sql"]} for e in SAMPLE_EXAMPLES]
        items = load_business(args.business, args.split)
    else:
        db_file = (args.data / "geography.sqlite").resolve()
        if not db_file.is_file():
            raise SystemExit(f"{db_file} does not exist. Pass --data pointing at the geoquery folder.")
        train, items = load_split(args.data, "train"), load_split(args.data, args.split)
    url = str(db_file)
    db = open_database(url)
    gold_rows, skipped = {}, []
    for item in items:
        try:
            gold_rows[item["id"]] = [list(r) for r in db.run(item["query"], max_rows=100000).rows]
        except Exception:  # noqa: BLE001 - known broken gold queries (DERIVED_TABLE alias)
            skipped.append(item["id"])
    items = [i for i in items if i["id"] in gold_rows]
    random.Random(args.seed).shuffle(items)
    if args.limit:
        items = items[:args.limit]
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in ABLATION and s not in OTHERS]
    if unknown:
        raise SystemExit(f"Unknown systems {unknown}; choose from {[*ABLATION, *OTHERS]}.")

    llm = chat_model(args.model, args.max_tokens)
    selector = example_selector(train, args.few_shot) if {BASELINE, PEER_FEW_SHOT} & set(systems) else None
    if args.business:  # the graph's own store for the sample database: its examples and documentation
        from tools.sql.catalog import QuestionShape
        from tools.sql.examples import Example
        from tools.sql.sample_business import SAMPLE_DOCUMENTATION

        store = ExampleStore(similarity=args.similarity, normalize=QuestionShape(database_profile(url)[2]))
        store.items += [Example("documentation", note) for note in SAMPLE_DOCUMENTATION]
    else:
        store = ExampleStore(similarity=args.similarity, normalize=database_profile(url)[2].mask)
    store.extend((q["question"], q["query"]) for q in train)
    records: dict[str, list[dict]] = {s: [] for s in systems}
    slug = re.sub(r"[^A-Za-z0-9]+", "-", args.model).strip("-")[:60]
    args.out.mkdir(parents=True, exist_ok=True)
    prefix = f"business-{args.split}" if args.business else args.split
    json_path, md_path = args.out / f"{prefix}-{slug}.json", args.out / f"{prefix}-{slug}.md"
    report = {}
    for item in tqdm(items, desc="text2sql", unit="question"):
        ordered = item.get("ordered", "order by" in item["query"].lower())
        for system in systems:
            start = time.perf_counter()
            if system in OTHERS:
                peer = (run_few_shot_prompt(item["question"], db, llm, selector) if system == BASELINE else
                        run_langchain_agent(item["question"], db_file, llm, selector if system == PEER_FEW_SHOT else None))
                rows, error = None, peer["error"]
                if peer["sql"]:
                    try:
                        rows = [list(r) for r in db.run(peer["sql"], max_rows=100000).rows]
                    except Exception as err:  # noqa: BLE001
                        error = str(err)[:300]
                record = {"sql": peer["sql"], "rows": rows, "attempts": peer["steps"], "timings": {}, "error": error,
                          "winner": "model" if rows else None}
            else:
                options = dict(ABLATION[system], max_attempts=args.max_attempts, max_tokens=args.max_tokens, similarity=args.similarity,
                               example_store=store)
                if system not in ("zero_shot", "schema_linking"):
                    options["few_shot"] = args.few_shot
                try:
                    out = answer_question(item["question"], url, llm, **options)
                    rows = out["result"]["rows"] if out["result"] else None
                    sources = [a["source"] for a in out["attempts"]]
                    winner = next((a["source"] for a in out["attempts"] if a["ok"]), None)
                    record = {"sql": out["sql"], "rows": rows, "attempts": out["attempt"], "timings": out["timings"],
                              "error": None, "winner": winner, "tried": sources,
                              "errors": [a["error_kind"] for a in out["attempts"]]}
                except Exception as err:  # noqa: BLE001 - a crash scores 0 and is reported
                    record = {"sql": None, "rows": None, "attempts": 0, "timings": {}, "error": f"{type(err).__name__}: {err}"[:300]}
            record.update(id=item["id"], question=item["question"], gold=item["query"],
                          correct=same_result(record["rows"], gold_rows[item["id"]], ordered),
                          executable=record["rows"] is not None, latency_s=round(time.perf_counter() - start, 3))
            records[system].append(record)
        report = summarize(records, args, skipped)
        json_path.write_text(json.dumps({"summary": report, "items": records}, indent=1, default=str), encoding="utf-8")
        md_path.write_text(markdown(report), encoding="utf-8")
    if not args.limit or args.limit >= 10:
        report["example_retrieval"] = retrieval_check(train, items, url, gold_rows)
        json_path.write_text(json.dumps({"summary": report, "items": records}, indent=1, default=str), encoding="utf-8")
        md_path.write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    print(f"Wrote {json_path} and {md_path}")
    return report


def _source(record: dict) -> str:
    return (record.get("winner") or "none").split(" ")[0]


def summarize(records: dict[str, list[dict]], args, skipped: list[str]) -> dict:
    systems = {}
    for system, rows in records.items():
        n = len(rows)
        latencies = [r["latency_s"] for r in rows]
        stages: dict[str, list[float]] = {}
        for r in rows:
            for stage, seconds in (r.get("timings") or {}).items():
                stages.setdefault(stage, []).append(seconds)
        systems[system] = {
            "n": n,
            "execution_accuracy": round(sum(r["correct"] for r in rows) / n, 4) if n else 0.0,
            "correct": sum(r["correct"] for r in rows),
            "correct_from_model": sum(r["correct"] and _source(r) == "model" for r in rows),
            "correct_from_example": sum(r["correct"] and _source(r) == "example" for r in rows),
            "executable_rate": round(sum(r["executable"] for r in rows) / n, 4) if n else 0.0,
            "attempts_histogram": dict(sorted(Counter(r["attempts"] for r in rows).items())),
            "winner_sources": dict(Counter(_source(r) for r in rows)),
            "error_kinds": dict(Counter(e for r in rows for e in r.get("errors", []) if e)),
            "crashes": sum(bool(r.get("error")) for r in rows),
            "latency_p50_s": round(percentile(latencies, 0.5), 3),
            "latency_p95_s": round(percentile(latencies, 0.95), 3),
            "stage_mean_s": {k: round(statistics.mean(v), 3) for k, v in stages.items()},
        }
    report = {"split": args.split, "model": args.model, "business": bool(args.business),
              "data": str(args.business or args.data), "skipped_gold_failures": skipped,
              "few_shot": args.few_shot, "similarity": args.similarity, "max_attempts": args.max_attempts,
              "max_tokens_per_step": args.max_tokens, "systems": systems, "paired": {}}
    if "full" in records:
        full = [r["correct"] for r in records["full"]]
        for other in ("examples_only", "model_only", PEER, PEER_FEW_SHOT):
            if other in records:
                report["paired"][f"full vs {other}"] = exact_mcnemar(full, [r["correct"] for r in records[other]])
    return report


def markdown(report: dict) -> str:
    lines = [f"# Text-to-SQL on {'the business questions' if report.get('business') else 'GeoQuery'} {report['split']} "
             f"({report['model']})", "",
             "| system | n | execution acc. | correct | right from model | right from example | executable | "
             "answered by | attempts (count: items) | p50 s | p95 s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in report["systems"].items():
        hist = ", ".join(f"{k}: {v}" for k, v in s["attempts_histogram"].items())
        win = ", ".join(f"{k}: {v}" for k, v in s["winner_sources"].items())
        lines.append(f"| {name} | {s['n']} | {100 * s['execution_accuracy']:.1f}% | {s['correct']} | {s['correct_from_model']} | "
                     f"{s['correct_from_example']} | {100 * s['executable_rate']:.1f}% | {win} | {hist} | "
                     f"{s['latency_p50_s']} | {s['latency_p95_s']} |")
    if report.get("paired"):
        lines += ["", "Paired exact McNemar tests (items only the first system got right / only the second / p):", ""]
        lines += [f"- {k}: {v['only_a']} / {v['only_b']} / p = {v['p']}" for k, v in report["paired"].items()]
    stages = ["list_tables", "link_schema", "retrieve_examples", "generate_sql", "check_sql", "total"]
    lines += ["", "Mean seconds per graph stage:", "", "| system | " + " | ".join(stages) + " |",
              "|---|" + "---|" * len(stages)]
    for name, s in report["systems"].items():
        if s["stage_mean_s"]:
            lines.append(f"| {name} | " + " | ".join(str(s["stage_mean_s"].get(k, 0.0)) for k in stages) + " |")
    if "example_retrieval" in report:
        lines += ["", "Best retrieved example, adapted to the question's values, alone (no model):", "",
                  "| similarity | execution acc. |", "|---|---|"]
        lines += [f"| {k} | {100 * v:.1f}% |" for k, v in report["example_retrieval"].items()]
    lines += ["", f"Skipped gold queries that fail on the SQLite file: {', '.join(report['skipped_gold_failures']) or 'none'}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
