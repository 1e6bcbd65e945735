"""Execution accuracy of the text-to-SQL graph on GeoQuery: an ablation and the LangChain SQL agent, side by side.

    python -m evals.text2sql --data ../shared/data/geoquery --split dev
    python -m evals.text2sql --data ../shared/data/geoquery --split dev --model "gguf:/models/qwen.gguf" --limit 20

Systems, each on the same model and the same read-only database, item by item (so a partial
run compares all systems on the same questions; items are shuffled with --seed first):

- zero_shot        the whole DDL, no examples, one attempt
- schema_linking   + only the linked tables and the question's cell values (+ grammar strings)
- few_shot         + the most similar train questions with their SQL adapted to the question's values
- full             + self-correction: sqlglot repairs, adapted examples scored by execution,
                     errors fed back and regenerated up to --max-attempts (the graph's default)
- langchain_agent  the peer: LangChain's agent (`langchain.agents.create_agent`, the successor of
                   LangGraph's prebuilt ReAct agent) with langchain_community's SQLDatabaseToolkit
                   tools (list tables, schema, query checker, query), its reply capped at
                   --peer-tokens tokens per step so a step cannot run to 512 tokens

Execution accuracy: the predicted result equals the gold result as a multiset of rows (as a list
when the gold query has ORDER BY). Gold queries that fail on the SQLite file are skipped. Also
reported: executable rate, attempts histogram, latency p50/p95, mean time per graph stage, and
(model-free) how often the best retrieved example's adapted SQL alone is right, for TF-IDF and
MiniLM similarity. Writes out/text2sql/<split>-<model>.json and .md.
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

from models.settings import PROJECT_ROOT, shared_data

DEFAULT_DATA = shared_data() / "geoquery"
ABLATION = {
    "zero_shot": dict(few_shot=0, schema_linking=False, self_correction=False),
    "schema_linking": dict(few_shot=0, schema_linking=True, self_correction=False),
    "few_shot": dict(schema_linking=True, self_correction=False),
    "full": dict(schema_linking=True, self_correction=True),
}
PEER = "langchain_agent"
PEER_PROMPT = ("You answer questions about a SQLite database with your tools. First list the tables, then read the "
               "schema of the relevant ones, then run one SQL query with sql_db_query and answer from its result. "
               "Only SELECT statements; never change the data.")


def load_split(folder: Path, split: str) -> list[dict]:
    """GeoQuery items; double-quoted strings in the gold SQL become SQL string literals."""
    path = folder / f"{split}.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path} does not exist. Pass --data pointing at the geoquery folder (with {split}.jsonl).")
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for item in items:
        item["query"] = re.sub(r'"([^"]*)"', r"'\1'", item["query"]).strip().rstrip(";").strip()
    return items


def same_result(predicted: list | None, gold: list, ordered: bool) -> bool:
    if predicted is None:
        return False
    predicted = [tuple(r) for r in predicted]
    gold = [tuple(r) for r in gold]
    return predicted == gold if ordered else Counter(predicted) == Counter(gold)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_langchain_agent(question: str, db_file: Path, model: str, max_steps: int) -> dict:
    """The peer: the SQL a LangGraph ReAct agent with the SQLDatabaseToolkit ran last (None if none)."""
    from langchain_community.agent_toolkits import SQLDatabaseToolkit
    from langchain_community.utilities import SQLDatabase as LangChainSQLDatabase
    from langchain.agents import create_agent
    from langgraph.errors import GraphRecursionError

    from models import load_chat_model

    llm = load_chat_model(model)
    database = LangChainSQLDatabase.from_uri(f"sqlite:///file:{db_file}?mode=ro&uri=true")
    agent = create_agent(llm, SQLDatabaseToolkit(db=database, llm=llm).get_tools(), system_prompt=PEER_PROMPT)
    last_sql, steps = None, 0
    try:
        for update in agent.stream({"messages": [("user", question)]}, {"recursion_limit": 2 * max_steps + 1},
                                   stream_mode="values"):
            message = update["messages"][-1]
            for call in getattr(message, "tool_calls", None) or []:
                steps += 1
                if call["name"] == "sql_db_query" and call["args"].get("query"):
                    last_sql = call["args"]["query"]
    except GraphRecursionError:
        pass
    except Exception as err:  # noqa: BLE001 - a failing peer scores 0 on the item, the run goes on
        return {"sql": last_sql, "steps": steps, "error": f"{type(err).__name__}: {err}"[:300]}
    return {"sql": last_sql, "steps": steps, "error": None}


def retrieval_check(train: list[dict], items: list[dict], url: str, gold_rows: dict) -> dict:
    """Model-free: accuracy of the best example's adapted SQL, per similarity (and with/without masking values)."""
    from graphs.text2sql.examples import ExampleStore
    from graphs.text2sql.graph import database_profile, open_database
    from graphs.text2sql.repair import adapt_example, plain_style

    db, index = open_database(url), database_profile(url)[2]
    out = {}
    for similarity in ("tfidf", "embeddings"):
        for masked in (False, True):
            store = ExampleStore(similarity=similarity, normalize=index.mask if masked else None)
            store.extend((q["question"], q["query"]) for q in train)
            right = 0
            for item in items:
                (example, _), = store.get_similar_question_sql(item["question"], k=1)
                try:
                    rows = db.run(adapt_example(plain_style(example.sql, db.dialect), index.match(item["question"]), db.dialect)).rows
                except Exception:  # noqa: BLE001
                    rows = None
                right += same_result(rows, gold_rows[item["id"]], "order by" in item["query"].lower())
            out[f"{similarity}{'+masked' if masked else ''}"] = round(right / max(len(items), 1), 4)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="GeoQuery folder (train/dev jsonl, geography.sqlite)")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--model", default="local", help="model spec for every system")
    parser.add_argument("--limit", type=int, default=0, help="score only the first N items after shuffling (0 = all)")
    parser.add_argument("--seed", type=int, default=0, help="item order (a partial run is then a random sample)")
    parser.add_argument("--systems", default=",".join([*ABLATION, PEER]), help="comma-separated subset")
    parser.add_argument("--max-attempts", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=120, help="token budget of one generated query")
    parser.add_argument("--few-shot", type=int, default=3)
    parser.add_argument("--similarity", default="embeddings", choices=("tfidf", "embeddings"))
    parser.add_argument("--peer-steps", type=int, default=4, help="model steps the LangChain agent may take")
    parser.add_argument("--peer-tokens", type=int, default=160, help="max tokens per agent step (added to the spec)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "out" / "text2sql")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    from graphs.text2sql.examples import ExampleStore
    from graphs.text2sql.graph import answer_question, database_profile, open_database

    db_file = (args.data / "geography.sqlite").resolve()
    if not db_file.is_file():
        raise SystemExit(f"{db_file} does not exist. Pass --data pointing at the geoquery folder.")
    url = str(db_file)
    db = open_database(url)
    train, items = load_split(args.data, "train"), load_split(args.data, args.split)
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
    unknown = [s for s in systems if s not in ABLATION and s != PEER]
    if unknown:
        raise SystemExit(f"Unknown systems {unknown}; choose from {[*ABLATION, PEER]}.")

    peer_model = args.model if "max_tokens=" in args.model else \
        f"{args.model}{'&' if '?' in args.model else '?'}max_tokens={args.peer_tokens}"
    store = ExampleStore(similarity=args.similarity, normalize=database_profile(url)[2].mask)
    store.extend((q["question"], q["query"]) for q in train)
    records: dict[str, list[dict]] = {s: [] for s in systems}
    slug = re.sub(r"[^A-Za-z0-9]+", "-", args.model).strip("-")[:60]
    args.out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = args.out / f"{args.split}-{slug}.json", args.out / f"{args.split}-{slug}.md"
    report = {}
    for item in tqdm(items, desc="text2sql", unit="question"):
        ordered = "order by" in item["query"].lower()
        for system in systems:
            start = time.perf_counter()
            if system == PEER:
                peer = run_langchain_agent(item["question"], db_file, peer_model, args.peer_steps)
                rows, error = None, peer["error"]
                if peer["sql"]:
                    try:
                        rows = [list(r) for r in db.run(peer["sql"], max_rows=100000).rows]
                    except Exception as err:  # noqa: BLE001
                        error = str(err)[:300]
                record = {"sql": peer["sql"], "rows": rows, "attempts": peer["steps"], "timings": {}, "error": error}
            else:
                options = dict(ABLATION[system], max_attempts=args.max_attempts, max_tokens=args.max_tokens, similarity=args.similarity,
                               example_store=store)
                if system not in ("zero_shot", "schema_linking"):
                    options["few_shot"] = args.few_shot
                try:
                    out = answer_question(item["question"], url, args.model, **options)
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
            "executable_rate": round(sum(r["executable"] for r in rows) / n, 4) if n else 0.0,
            "attempts_histogram": dict(sorted(Counter(r["attempts"] for r in rows).items())),
            "winner_sources": dict(Counter((r.get("winner") or "none").split(" ")[0] for r in rows)),
            "error_kinds": dict(Counter(e for r in rows for e in r.get("errors", []) if e)),
            "latency_p50_s": round(percentile(latencies, 0.5), 3),
            "latency_p95_s": round(percentile(latencies, 0.95), 3),
            "stage_mean_s": {k: round(statistics.mean(v), 3) for k, v in stages.items()},
        }
    report = {"split": args.split, "model": args.model, "data": str(args.data), "skipped_gold_failures": skipped,
              "few_shot": args.few_shot, "similarity": args.similarity, "max_attempts": args.max_attempts,
              "peer_steps": args.peer_steps, "peer_tokens": args.peer_tokens, "systems": systems}
    if PEER in systems and "full" in systems:
        report["full_minus_peer_points"] = round(100 * (systems["full"]["execution_accuracy"] - systems[PEER]["execution_accuracy"]), 1)
        peer_latency = systems[PEER]["latency_p50_s"] or 1e-9
        report["full_over_peer_latency_p50"] = round(systems["full"]["latency_p50_s"] / peer_latency, 3)
    return report


def markdown(report: dict) -> str:
    lines = [f"# Text-to-SQL on GeoQuery {report['split']} ({report['model']})", "",
             "| system | n | execution acc. | correct | executable | attempts (count: items) | answered by | p50 s | p95 s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, s in report["systems"].items():
        hist = ", ".join(f"{k}: {v}" for k, v in s["attempts_histogram"].items())
        win = ", ".join(f"{k}: {v}" for k, v in s["winner_sources"].items())
        lines.append(f"| {name} | {s['n']} | {100 * s['execution_accuracy']:.1f}% | {s['correct']} | "
                     f"{100 * s['executable_rate']:.1f}% | {hist} | {win} | {s['latency_p50_s']} | {s['latency_p95_s']} |")
    if "full_minus_peer_points" in report:
        lines += ["", f"full - {PEER}: {report['full_minus_peer_points']} points; p50 latency ratio full/peer: "
                      f"{report['full_over_peer_latency_p50']}"]
    lines += ["", "Mean seconds per graph stage:", "", "| system | " + " | ".join(
        ["list_tables", "link_schema", "retrieve_examples", "generate_sql", "check_sql", "total"]) + " |",
              "|---|---|---|---|---|---|---|"]
    for name, s in report["systems"].items():
        if s["stage_mean_s"]:
            lines.append(f"| {name} | " + " | ".join(str(s["stage_mean_s"].get(k, 0.0)) for k in
                                                     ["list_tables", "link_schema", "retrieve_examples", "generate_sql", "check_sql", "total"]) + " |")
    if "example_retrieval" in report:
        lines += ["", "Best retrieved example, adapted to the question's values, alone (no model):", "",
                  "| similarity | execution acc. |", "|---|---|"]
        lines += [f"| {k} | {100 * v:.1f}% |" for k, v in report["example_retrieval"].items()]
    lines += ["", f"Skipped gold queries that fail on the SQLite file: {', '.join(report['skipped_gold_failures']) or 'none'}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
