"""Base vs fine-tuned model, side by side in one run, on data no training saw.

    python -m evals.finetune --tuned registry:hearth-sql@production
    python -m evals.finetune --base local --tuned gguf:.hearth/finetune/runs/sql-main/export/sql-main-Q8_0.gguf --limit 20
    python -m evals.finetune --suites geoquery_dev,home_commands --no-agent-row --tuned sql=gguf:SQL.gguf --tuned tools=gguf:TOOLS.gguf --tuned ties=gguf:MERGED/merged-F16.gguf

Suites (each model gets the same items, in the same order):
- `geoquery_dev`: GeoQuery dev (49 questions; never in training: `training.task_data` refuses it).
  The model alone writes the SQL from the prompt the text-to-SQL graph uses with no stored
  examples (linked schema + the question's values), greedy and unconstrained; execution accuracy
  = the result equals the gold result (as a multiset; as a list when the gold orders). Beside it,
  with no model at all: the best retrieved GeoQuery-train example adapted to the question's values
  (the graph's stored-example shortcut, `evals.text2sql.retrieval_check`), the best of its
  similarity variants.
- `home_commands`: the 106 hand-written home commands (evals/data; never trained on), the model
  alone with every home tool bound (no sentence matcher), AST-correct calls, and how many requests
  that needed no call were acted on anyway (`evals.function_calling.run_home`); beside it the
  sentence matcher alone (no model) and the home agent's default (matcher, then the model), and
  an exact McNemar test of fine-tuned against base on the model-alone items.
- `grounded`: the RAG answer step's prompt (numbered facts + question) over the four XQuAD English
  articles no grounded data trains on (`training.grounded_data.xquad_items`): for a question whose
  facts hold the answer, is the answer span stated (whole tokens, after SQuAD's normalisation:
  articles and punctuation dropped) and its fact cited `[n]`; for the
  same question shown its paragraph without the answer's sentence, does the model say the facts do
  not answer it. Beside it, with no model: the fact sharing most words with the question, quoted
  with its number (it never abstains).
- `handbook`: the RAG graph end to end on the handbook QA test part (`evals.handbook_qa`, 44
  questions: retrieval, answerability rules, then the model on `--evidence` sentences): the fact
  stated, the right file cited, abstained when the handbook does not answer.
- `forgetting`: perplexity on general text no model here trained on (Alice's Adventures in
  Wonderland, ../shared/data/alice_wonderland), as llama.cpp measures it (`evals.lm_metrics`).

Writes out/finetune/<name>.json and .md. Give GGUF specs (`gguf:`, `registry:`, `local`) for
perplexity; the other suites take any model spec.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import time
from pathlib import Path

from models.settings import PROJECT_ROOT

SUITES = ("geoquery_dev", "home_commands", "grounded", "handbook", "forgetting")


def _shared_data() -> Path:
    from models.settings import shared_data

    return shared_data()


def gguf_path(spec: str) -> Path | None:
    """The GGUF file behind a spec (local, gguf:, registry:), or None for other providers."""
    from models.bundled import smollm2_gguf_path
    from models.spec import resolve_model_spec

    resolved = resolve_model_spec(spec)
    if resolved.provider == "local":
        return smollm2_gguf_path()
    return Path(resolved.name) if resolved.provider == "gguf" else None


def _run_sql(db_file: Path, sql: str) -> list | None:
    try:
        with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=5) as db:
            return db.execute(sql).fetchmany(5000)
    except Exception:  # noqa: BLE001 - SQL that does not run scores 0
        return None


def geoquery_model_only(spec: str, folder: Path, limit: int | None) -> dict:
    """Execution accuracy of the model's own SQL on GeoQuery dev (no examples, no repair)."""
    from langchain_core.messages import HumanMessage, SystemMessage
    from tqdm import tqdm

    from evals.text2sql import load_split, same_result
    from graphs.text2sql.graph import extract_sql
    from models import load_chat_model
    from training.sql_data import _value_index, render_sql_prompt, sqlite_schema

    db_file = folder / "geography.sqlite"
    items = load_split(folder, "dev")[: limit or None]
    schema, index = sqlite_schema(db_file), _value_index(db_file)
    model = load_chat_model(spec)
    right = ran = 0
    records = []
    for item in tqdm(items, desc=f"geoquery dev {spec}", file=sys.stderr):
        gold = _run_sql(db_file, item["query"])
        if gold is None:
            continue  # the 5 gold queries that fail on this SQLite file are skipped, as in evals.text2sql
        messages = render_sql_prompt(item["question"], schema, index.match(item["question"]))
        start = time.perf_counter()
        reply = model.invoke([SystemMessage(messages[0]["content"]), HumanMessage(messages[1]["content"])], max_tokens=160)
        sql = extract_sql(reply.content if isinstance(reply.content, str) else str(reply.content))
        rows = _run_sql(db_file, sql)
        ok = same_result(rows, gold, "order by" in item["query"].lower())
        right += ok
        ran += rows is not None
        records.append({"id": item["id"], "question": item["question"], "sql": sql, "correct": ok,
                        "executable": rows is not None, "seconds": round(time.perf_counter() - start, 2)})
    n = len(records)
    return {"accuracy": round(right / max(n, 1), 4), "executable": round(ran / max(n, 1), 4), "n": n, "records": records}


def geoquery_stored_examples(folder: Path, limit: int | None) -> dict:
    """No model: the best retrieved train example, adapted to the question's values."""
    from evals.text2sql import load_split, retrieval_check

    items = [i for i in load_split(folder, "dev")[: limit or None] if _run_sql(folder / "geography.sqlite", i["query"]) is not None]
    gold = {i["id"]: _run_sql(folder / "geography.sqlite", i["query"]) for i in items}
    per_item: dict = {}
    variants = retrieval_check(load_split(folder, "train"), items, str(folder / "geography.sqlite"), gold, per_item)
    best = max(variants, key=variants.get)
    return {"accuracy": variants[best], "variant": best, "variants": variants, "n": len(items), "items": per_item[best]}


def paired_against_stored(model_result: dict, stored: dict) -> dict | None:
    """Exact McNemar test of a model's own SQL against the best stored example, item by item."""
    from training.significance import exact_mcnemar

    if "items" not in stored:
        return None
    ids = [r["id"] for r in model_result["records"] if r["id"] in stored["items"]]
    by_id = {r["id"]: r["correct"] for r in model_result["records"]}
    return exact_mcnemar([bool(by_id[i]) for i in ids], [stored["items"][i] for i in ids])


def home_model_only(spec: str, limit: int | None, system: str = "model", commands: Path | None = None,
                    shortlist: int = 4, state_seed: int | None = None) -> dict:
    """AST-correct calls on the home commands for one system of `evals.function_calling.run_home`:
    `model` (the model alone, every home tool bound, no matcher), `matcher` (the sentence matcher
    alone, no model) or `matcher+model` (the home agent's default), and how many requests that
    needed no call (small talk, questions) were acted on anyway. `items` keeps each command's
    result for paired tests."""
    from evals.function_calling import HOME_COMMANDS, load_home_commands, run_home

    commands = commands or HOME_COMMANDS
    needs_call = {i["id"]: bool(i["calls"]) for i in load_home_commands(commands)}
    records = run_home(spec, limit, [system], commands, shortlist, state_seed)
    acted = sum(1 for r in records if r["called"] and not needs_call.get(r["id"], True))
    return {"accuracy": round(sum(r["correct"] for r in records) / max(len(records), 1), 4), "n": len(records),
            "acted_without_need": acted, "no_call_items": sum(1 for r in records if not needs_call.get(r["id"], True)),
            "items": {r["id"]: bool(r["correct"]) for r in records}}


def grounded_test_items(limit: int | None = None) -> list[dict]:
    """The grounded suite's items: XQuAD test articles, one uncovered twin per two questions."""
    from training.grounded_data import xquad_articles, xquad_items

    return xquad_items(xquad_articles("test"), seed=1, uncovered_every=2)[: limit or None]


def p_value(p: float) -> str:
    """A p-value as the tables print it.

    >>> p_value(0.0), p_value(0.0213)
    ('p < 0.001', 'p = 0.0213')
    """
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


def squad_normalize(text: str) -> str:
    """SQuAD's answer normalisation (its official evaluation script): articles and punctuation dropped.

    >>> squad_normalize('A type of "blood poisoning".')
    'type of blood poisoning'
    """
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return " ".join(w for w in text.split() if w not in ("a", "an", "the"))


def grounded_score(item: dict, reply: str) -> dict:
    """Stated (the span as whole tokens), cited (its fact's `[n]`), abstained (says the facts do not answer).

    >>> item = {"id": "q", "answer": "308", "cite": 2}
    >>> [grounded_score(item, r)["right"] for r in ("308 [2]", "308 [1]", "about 300 [2]")]
    [True, False, False]
    >>> grounded_score({"id": "a", "answer": "a combination of anthrax", "cite": 3}, "combination of anthrax [3]")["right"]
    True
    >>> grounded_score({"id": "u", "answer": None, "cite": None}, "The facts do not answer that question.")["right"]
    True
    """
    from evals.handbook_qa import DECLINES, matches

    abstained = bool(DECLINES.search(reply))
    if item["cite"] is None:
        return {"id": item["id"], "answerable": False, "abstained": abstained, "right": abstained}
    stated = matches(squad_normalize(item["answer"]), squad_normalize(reply))
    cited = f"[{item['cite']}]" in reply
    return {"id": item["id"], "answerable": True, "abstained": abstained, "stated": stated, "cited": cited,
            "right": stated and cited and not abstained}


def grounded_summary(records: list[dict]) -> dict:
    answerable = [r for r in records if r["answerable"]]
    uncovered = [r for r in records if not r["answerable"]]

    def share(rows, key):
        return round(sum(bool(r[key]) for r in rows) / max(len(rows), 1), 4)

    return {"stated_and_cited": share(answerable, "right"), "stated": share(answerable, "stated"),
            "wrongly_abstained": share(answerable, "abstained"), "abstained_uncovered": share(uncovered, "abstained"),
            "answerable": len(answerable), "uncovered": len(uncovered), "n": len(records),
            "items": {r["id"]: bool(r["right"]) for r in records}, "records": records}


def grounded_model(spec: str, limit: int | None) -> dict:
    """The model alone on the grounded items, greedy, in the RAG answer step's prompt."""
    from langchain_core.messages import HumanMessage, SystemMessage
    from tqdm import tqdm

    from models import load_chat_model
    from training.grounded_data import grounded_row

    model = load_chat_model(spec)
    records = []
    for item in tqdm(grounded_test_items(limit), desc=f"grounded {spec}", file=sys.stderr):
        prompt = grounded_row(item["question"], item["facts"], "", "xquad", item["id"])["prompt"]
        reply = model.invoke([SystemMessage(prompt[0]["content"]), HumanMessage(prompt[1]["content"])], max_tokens=64)
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        records.append({**grounded_score(item, text), "reply": text.strip()})
    return grounded_summary(records)


def grounded_no_model(limit: int | None) -> dict:
    """No model: the fact sharing most content words with the question, quoted with its number."""
    from training.grounded_data import overlap

    records = []
    for item in grounded_test_items(limit):
        best = max(range(len(item["facts"])), key=lambda i: overlap(item["question"], item["facts"][i]))
        reply = f"{item['facts'][best]} [{best + 1}]"
        records.append({**grounded_score(item, reply), "reply": reply})
    return grounded_summary(records)


def handbook_graph(spec: str, evidence: int) -> dict:
    """The RAG graph on the handbook QA test part with this model (`evals.handbook_qa.run`)."""
    from evals.handbook_qa import run

    rows = run(spec, [evidence], "test", 4, "rules")
    answerable = [r for r in rows if r["kind"] != "not in handbook"]
    return {"correct": round(sum(r["correct"] for r in rows) / max(len(rows), 1), 4), "n": len(rows),
            "stated": sum(r["correct"] for r in answerable), "answerable": len(answerable),
            "cited_right_file": sum(bool(r["cited_right_file"]) for r in rows),
            "stated_and_cited": sum(bool(r["correct"] and r["cited_right_file"]) for r in answerable),
            "items": {r["question"]: bool(r["correct"]) for r in rows}, "rows": rows}


def forgetting(spec: str, text_file: Path, max_windows: int) -> dict:
    from evals.lm_metrics import perplexity_and_kl

    path = gguf_path(spec)
    if path is None:
        return {"skipped": f"{spec} is not a GGUF model"}
    text = text_file.read_text(encoding="utf-8", errors="replace")
    text = text[len(text) // 3:]  # past the Gutenberg front matter
    return perplexity_and_kl(path, text, n_ctx=512, max_windows=max_windows)


def cached(suite: str, spec: str, limit: int | None, compute, refresh: bool = False,
           folder: Path = PROJECT_ROOT / "out" / "finetune") -> dict:
    """A suite's result for one model, reused from FOLDER/cache when the same spec, limit and
    model file (size and mtime) were measured before: the base model is measured once."""
    import hashlib

    path = gguf_path(spec) if spec.split(":", 1)[0] in ("local", "gguf", "registry") else None
    stamp = f"{path}:{path.stat().st_size}:{path.stat().st_mtime_ns}" if path and path.is_file() else spec
    key = hashlib.sha256(f"{suite}|{spec}|{limit}|{stamp}".encode()).hexdigest()[:16]
    file = folder / "cache" / f"{suite}-{key}.json"
    if file.is_file() and not refresh:
        return json.loads(file.read_text(encoding="utf-8"))
    result = compute()
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(result, default=str), encoding="utf-8")
    return result


def tuned_specs(entries: list[str]) -> dict[str, str]:
    """Labels for the `--tuned` models: LABEL=SPEC keeps its label; one bare spec is "fine-tuned".

    >>> tuned_specs(["gguf:a.gguf"])
    {'fine-tuned': 'gguf:a.gguf'}
    >>> tuned_specs(["sql=gguf:a.gguf", "ties=hf:out/merged"])
    {'sql': 'gguf:a.gguf', 'ties': 'hf:out/merged'}
    """
    specs = {}
    for number, entry in enumerate(entries, 1):
        label, _, spec = entry.partition("=") if "=" in entry.split(":", 1)[0] else ("", "", entry)
        specs[label or ("fine-tuned" if len(entries) == 1 else f"fine-tuned-{number}")] = spec
    return specs


def markdown(report: dict) -> str:
    models = report["models"]
    lines = [f"# Fine-tune evaluation ({report['date']})", "", "| suite | " + " | ".join(models) + " |",
             "|---|" + "---:|" * len(models)]
    suites = report["results"]

    def row(label: str, cell) -> None:  # one table row: a cell per model
        lines.append(f"| {label} | " + " | ".join(cell(m) for m in models) + " |")

    def paired(tests: dict, m: str) -> str:  # an exact McNemar test against another row, or "-"
        test = tests.get(m)
        return f"{test['only_a']} / {test['only_b']}, {p_value(test['p'])}" if test else "-"

    if "geoquery_dev" in suites:
        geo = suites["geoquery_dev"]
        row("GeoQuery dev, model's own SQL (exec. acc.)", lambda m: f"{geo[m]['accuracy']:.1%} ({geo[m]['n']})")
        row("GeoQuery dev, executable SQL", lambda m: f"{geo[m]['executable']:.1%}")
    if "geoquery_stored" in suites:
        stored = suites["geoquery_stored"]
        row(f"GeoQuery dev, best stored example alone (no model; {stored['variant']})", lambda m: f"{stored['accuracy']:.1%}")
    if "geoquery_paired" in suites:
        row("GeoQuery dev, model vs stored example (only model right / only example right, exact McNemar)",
            lambda m: paired(suites["geoquery_paired"], m))
    if "home_commands" in suites:
        home = suites["home_commands"]
        name = Path(report.get("home_commands") or "home_commands.jsonl").name
        row(f"Home commands ({name}), model alone (AST-correct)", lambda m: f"{home[m]['accuracy']:.1%} ({home[m]['n']})")
        row("Home commands, acted on a request needing no call", lambda m: str(home[m]["acted_without_need"]))
    if "home_matcher" in suites:
        row("Home commands, sentence matcher alone (no model)", lambda m: f"{suites['home_matcher']['accuracy']:.1%}")
    if "home_agent" in suites:
        shortlist = report.get("shortlist", 4)
        shown = "every tool" if shortlist <= 0 else f"the {shortlist} closest tools"
        routing = ", a clearly matching tool forced" if report.get("routing") else ""
        row(f"Home commands, the agent (matcher, then model shown {shown}{routing})",
            lambda m: f"{suites['home_agent'][m]['accuracy']:.1%}")
    if suites.get("home_paired"):
        row("Home commands, model alone: only this model right / only base right (exact McNemar)",
            lambda m: paired(suites["home_paired"], m))
    if "grounded" in suites:
        g = suites["grounded"]
        row("grounded (XQuAD test articles): answer stated and cited, model alone",
            lambda m: f"{g[m]['stated_and_cited']:.1%} ({g[m]['answerable']})")
        row("grounded: answer span stated", lambda m: f"{g[m]['stated']:.1%}")
        row("grounded: abstained when the facts do not answer", lambda m: f"{g[m]['abstained_uncovered']:.1%} ({g[m]['uncovered']})")
        row("grounded: wrongly abstained on answerable", lambda m: f"{g[m]['wrongly_abstained']:.1%}")
        if "grounded_no_model" in suites:
            quoted = suites["grounded_no_model"]
            row("grounded, no model (best-overlap fact quoted): stated and cited / abstained",
                lambda m: f"{quoted['stated_and_cited']:.1%} / {quoted['abstained_uncovered']:.0%}")
        if suites.get("grounded_paired"):
            row("grounded: only this model right / only base right (exact McNemar)", lambda m: paired(suites["grounded_paired"], m))
    if "handbook" in suites:
        h = suites["handbook"]
        row("handbook QA test, RAG graph: correct (all)", lambda m: f"{h[m]['correct']:.1%} ({h[m]['n']})")
        row("handbook QA test: fact stated / stated and right file cited (answerable)",
            lambda m: f"{h[m]['stated']} / {h[m]['stated_and_cited']} of {h[m]['answerable']}")
    if "forgetting" in suites:
        row("Perplexity, Alice in Wonderland (forgetting)", lambda m: str(suites["forgetting"][m].get("perplexity", "-")))
    lines += ["", "Models: " + "; ".join(f"{k} = `{v}`" for k, v in report["specs"].items()),
              f"Wall time: {report['seconds']} s on a shared 2-core CPU.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="local", help="the starting model's spec (default: the bundled model)")
    parser.add_argument("--tuned", action="append", default=None,
                        help="a fine-tuned model's spec (registry:NAME@ALIAS, gguf:PATH, hf:PATH), or LABEL=SPEC; repeat it "
                        "for several models side by side (single-task fine-tunes and their merges); "
                        "omitted: the base alone (cached for the next run)")
    parser.add_argument("--suites", default=",".join(SUITES), help=f"comma-separated, of {', '.join(SUITES)}")
    parser.add_argument("--geoquery", default=None, help="GeoQuery folder (default ../shared/data/geoquery)")
    parser.add_argument("--text", default=None, help="general text for perplexity (default ../shared/data/alice_wonderland/*.txt)")
    parser.add_argument("--home-commands", type=Path, default=PROJECT_ROOT / "evals" / "data" / "home_commands.jsonl",
                        help="the home command set (evals/data/home_commands_fresh.jsonl: 80 blind commands in users' words)")
    parser.add_argument("--no-agent-row", action="store_true",
                        help="home commands: leave out the agent's-default row (the slow one, about 5 s a command), "
                        "e.g. when comparing merges")
    parser.add_argument("--shortlist", type=int, default=4,
                        help="home commands, agent's-default row: tools shown to the model (the agent's HEARTH_TOOL_SHORTLIST, "
                        "default 4; 0 = every tool, the prompt a tool-call fine-tune learnt)")
    parser.add_argument("--routing", action="store_true",
                        help="home commands, agent's-default row: with the agent's tool routing too (a tool that clearly "
                        "matches the request is forced and the model only fills in its arguments), as the home agent runs")
    parser.add_argument("--house-states", type=int, default=None, metavar="SEED",
                        help="home commands: the house with device states flipped at random (this seed), so the device "
                        "list in the prompt differs from the one the tool data was rendered with")
    parser.add_argument("--evidence", type=int, default=2,
                        help="handbook suite: evidence sentences shown to every model (2: the graph's setting for the "
                        "bundled model; 0 = whole chunks)")
    parser.add_argument("--limit", type=int, default=0, help="items per suite (0 = all)")
    parser.add_argument("--windows", type=int, default=6, help="512-token windows for perplexity")
    parser.add_argument("--name", default="sql", help="report name (NAME.json, NAME.md under --out)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "out" / "finetune",
                        help="folder for the report and the per-model cache (default out/finetune)")
    args = parser.parse_args(argv)
    suites = [s.strip() for s in args.suites.split(",") if s.strip()]
    unknown = set(suites) - set(SUITES)
    if unknown:
        parser.error(f"unknown suite(s) {sorted(unknown)}: use some of {', '.join(SUITES)}")
    geoquery = Path(args.geoquery) if args.geoquery else _shared_data() / "geoquery"
    text = Path(args.text) if args.text else next(iter(sorted((_shared_data() / "alice_wonderland").glob("*.txt"))), None)
    specs = {"base": args.base, **tuned_specs(args.tuned or [])}
    start = time.perf_counter()
    results: dict = {}
    limit = args.limit or None
    if "geoquery_dev" in suites:
        results["geoquery_dev"] = {name: cached("geoquery_dev", spec, limit, lambda s=spec: geoquery_model_only(s, geoquery, limit),
                                                     folder=args.out)
                                   for name, spec in specs.items()}
        results["geoquery_stored"] = cached("geoquery_stored", "no-model+items", limit,
                                               lambda: geoquery_stored_examples(geoquery, limit), folder=args.out)
        results["geoquery_paired"] = {name: paired_against_stored(results["geoquery_dev"][name], results["geoquery_stored"])
                                      for name in specs}
    if "home_commands" in suites:
        commands = args.home_commands
        tag = "" if commands.name == "home_commands.jsonl" else "-" + commands.stem  # cache key per command set
        tag += "" if args.house_states is None else f"-states{args.house_states}"

        def home(system: str, spec: str) -> dict:
            return home_model_only(spec, limit, system, commands, args.shortlist, args.house_states)

        results["home_commands"] = {name: cached("home_commands" + tag, spec, limit, lambda s=spec: home("model", s),
                                                 folder=args.out)
                                    for name, spec in specs.items()}
        results["home_matcher"] = cached("home_matcher" + tag, "no-model", limit, lambda: home("matcher", "local"),
                                         folder=args.out)
        if not args.no_agent_row:
            agent = "home_agent" + tag + ("" if args.shortlist == 4 else f"-shortlist{args.shortlist}") + \
                ("-routing" if args.routing else "")
            system = "agent" if args.routing else "matcher+model"
            results["home_agent"] = {name: cached(agent, spec, limit, lambda s=spec: home(system, s), folder=args.out)
                                     for name, spec in specs.items()}
        from training.significance import exact_mcnemar

        home = results["home_commands"]
        ids = sorted(home["base"].get("items", {}))
        results["home_paired"] = {name: exact_mcnemar([home[name]["items"][i] for i in ids], [home["base"]["items"][i] for i in ids])
                                  for name in specs if name != "base" and ids and "items" in home[name]}
    if "grounded" in suites:
        from training.significance import exact_mcnemar

        results["grounded"] = {name: cached("grounded", spec, limit, lambda s=spec: grounded_model(s, limit), folder=args.out)
                               for name, spec in specs.items()}
        results["grounded_no_model"] = cached("grounded_no_model", "no-model", limit, lambda: grounded_no_model(limit),
                                              folder=args.out)
        grounded = results["grounded"]
        ids = sorted(grounded["base"]["items"])
        results["grounded_paired"] = {name: exact_mcnemar([grounded[name]["items"][i] for i in ids],
                                                    [grounded["base"]["items"][i] for i in ids])
                                      for name in specs if name != "base"}
    if "handbook" in suites:
        results["handbook"] = {name: cached(f"handbook-e{args.evidence}", spec, None,
                                            lambda s=spec: handbook_graph(s, args.evidence), folder=args.out)
                               for name, spec in specs.items()}
    if "forgetting" in suites and text is not None:
        results["forgetting"] = {name: cached("forgetting", spec, args.windows, lambda s=spec: forgetting(s, text, args.windows),
                                                   folder=args.out)
                                 for name, spec in specs.items()}
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "models": list(specs), "specs": specs, "results": results,
              "home_commands": str(args.home_commands) if "home_commands" in suites else None, "shortlist": args.shortlist,
              "house_states": args.house_states, "routing": args.routing,
              "seconds": round(time.perf_counter() - start, 1)}
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    (out / f"{args.name}.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return report


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
