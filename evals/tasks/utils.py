"""Datasets for the harness tasks, read from local files only (lm-eval's `custom_dataset` hook).

lm-eval calls these with the TaskManager's metadata (`data_root`, set by `python -m
evals.harness --data-root`) and the task's `dataset_kwargs`. Nothing is fetched from a hub.

Splits, fixed here and never tuned on:
- GSM8K (`gsm8k/train.jsonl`, the public train split used as dev data): the first 50 problems
  are the few-shot pool, the rest (7,423) the evaluation set.
- PubMedQA PQA-L (`pubmedqa_pqal/`): the 500 PMIDs of the authors' `test_ground_truth.json` are
  the test set, the other 500 labelled items the few-shot pool.
- GeoQuery (`geoquery/`): train is the few-shot pool, dev (less the gold queries that fail on the
  SQLite file) the evaluation set; scored by execution accuracy (the predicted SQL's rows equal the
  gold rows, as a multiset, or in order when the gold query sorts), run read-only.
- Bias audit (evals/data/bias_pairs.jsonl, written for this project; no data_root needed): every
  variant of every item is one document, answered as multiple choice (yes/no, or 1-10); the
  metrics compare documents of one item, so their aggregations group by item (flip rate, spread).
- BFCL (`bfcl/`, simple_python and multiple): the first 3 simple_python items are the few-shot pool,
  the rest of both categories the evaluation set; scored by BFCL's AST check
  (evals.function_calling.ast_check) on the call the model writes in Python syntax.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

FEWSHOT_POOL = 50


def _folder(data_root: str | None, name: str) -> Path:
    if not data_root:
        raise ValueError("The harness tasks need `data_root` in the task metadata: run `python -m evals.harness "
                         "--data-root ../shared/data` (or TaskManager(metadata={'data_root': ...})).")
    folder = Path(data_root).expanduser() / name
    if not folder.is_dir():
        raise FileNotFoundError(f"No {name}/ under {data_root}. Pass --data-root pointing at ../shared/data.")
    return folder


def gsm8k_number(answer: str) -> str:
    """The final answer after '####', without thousands separators.

    >>> gsm8k_number("She sold 48 + 24 = <<48+24=72>>72 clips.\\n#### 1,072")
    '1072'
    """
    return answer.split("####")[-1].strip().replace(",", "")


def gsm8k_reasoning(answer: str) -> str:
    """The worked solution without its calculator annotations and final line, as one paragraph.

    >>> gsm8k_reasoning("48/2 = <<48/2=24>>24 clips in May.\\nIn all 48+24 = <<48+24=72>>72.\\n#### 72")
    '48/2 = 24 clips in May. In all 48+24 = 72.'
    """
    body = answer.split("####")[0]
    return " ".join(line.strip() for line in re.sub(r"<<[^>]*>>", "", body).splitlines() if line.strip())


def load_gsm8k(data_root: str | None = None, **_) -> "datasets.DatasetDict":  # noqa: F821
    import datasets

    path = _folder(data_root, "gsm8k") / "train.jsonl"
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            rows.append({"question": item["question"], "answer": item["answer"],
                         "number": gsm8k_number(item["answer"]), "reasoning": gsm8k_reasoning(item["answer"])})
    return datasets.DatasetDict({"fewshot": datasets.Dataset.from_list(rows[:FEWSHOT_POOL]),
                                 "test": datasets.Dataset.from_list(rows[FEWSHOT_POOL:])})


def load_pubmedqa(data_root: str | None = None, **_) -> "datasets.DatasetDict":  # noqa: F821
    import datasets

    folder = _folder(data_root, "pubmedqa_pqal")
    items = json.loads((folder / "ori_pqal.json").read_text(encoding="utf-8"))
    test_ids = set(json.loads((folder / "test_ground_truth.json").read_text(encoding="utf-8")))
    splits: dict[str, list[dict]] = {"dev": [], "test": []}
    for pmid, item in items.items():
        splits["test" if pmid in test_ids else "dev"].append(
            {"pmid": pmid, "question": item["QUESTION"], "context": " ".join(item["CONTEXTS"]),
             "final_decision": item["final_decision"]})
    return datasets.DatasetDict({name: datasets.Dataset.from_list(rows) for name, rows in splits.items()})


# ---- GeoQuery: text to SQL, execution accuracy -----------------------------------------------------
_databases: dict[str, object] = {}


def _database(path: str):
    """The read-only SQLite database at `path` (opened once per process, on first use)."""
    if path not in _databases:
        from tools.sql.database import SQLDatabase

        _databases[path] = SQLDatabase.open(path)
    return _databases[path]


def load_geoquery(data_root: str | None = None, **_) -> "datasets.DatasetDict":  # noqa: F821
    import datasets

    from evals.text2sql import load_split

    folder = _folder(data_root, "geoquery")
    db_path = str((folder / "geography.sqlite").resolve())
    db = _database(db_path)
    schema = "SQLite tables:\n" + db.ddl()

    def rows(split: str, with_gold: bool) -> list[dict]:
        out = []
        for item in load_split(folder, split):
            gold = None
            if with_gold:
                try:
                    gold = [list(r) for r in db.run(item["query"], max_rows=100_000).rows]
                except Exception:  # noqa: BLE001 - the data's README: 5 gold queries fail on this file
                    continue
            out.append({"id": item["id"], "question": item["question"], "query": item["query"], "schema": schema,
                        "db": db_path, "gold_rows": json.dumps(gold, default=str),
                        "ordered": "order by" in item["query"].lower()})
        return out

    return datasets.DatasetDict({"train": datasets.Dataset.from_list(rows("train", False)),
                                 "dev": datasets.Dataset.from_list(rows("dev", True))})


def first_statement(text: str) -> str:
    """The SQL a completion starts with: up to its first `;` or blank line.

    >>> first_statement(" SELECT 1 ;\\nQuestion: more")
    'SELECT 1'
    """
    return re.split(r";|\n\s*\n|\nQuestion:", text, maxsplit=1)[0].strip()


def sql_rows_match(sql: str, doc: dict) -> bool:
    """Whether `sql`, run read-only on the doc's database, returns the gold rows."""
    from evals.text2sql import same_result

    try:
        predicted = [list(r) for r in _database(doc["db"]).run(sql, timeout_s=5, max_rows=100_000).rows]
    except Exception:  # noqa: BLE001 - unsafe, unparsable or failing SQL is simply wrong
        return False
    gold = json.loads(doc["gold_rows"])
    return same_result(json.loads(json.dumps(predicted, default=str)), gold, bool(doc["ordered"]))


def process_geoquery(doc: dict, results: list[str]) -> dict:
    return {"exec_acc": float(sql_rows_match(first_statement(results[0]), doc))}


# ---- BFCL: function calls, AST check -------------------------------------------------------------
BFCL_TASK_CATEGORIES = ("simple_python", "multiple")
BFCL_FEWSHOT = 3


def python_call(ground_truth: list[dict]) -> str:
    """BFCL's accepted answer as a Python call, each argument at its first accepted value
    (arguments whose accepted values start with "" are optional and left out).

    >>> python_call([{"math.hypot": {"x": [4], "y": [5], "z": ["", 0]}}])
    'math.hypot(x=4, y=5)'
    """
    def first(value):   # nested dicts hold a list of accepted values per key, too
        if isinstance(value, dict):
            return {k: first(v[0]) if isinstance(v, list) and v else first(v) for k, v in value.items()
                    if not (isinstance(v, list) and v and v[0] == "")}
        if isinstance(value, list):
            return [first(v) for v in value]
        return value

    calls = []
    for call in ground_truth:
        (name, args), = call.items()
        shown = [f"{k}={first(v[0])!r}" for k, v in args.items() if v and v[0] != ""]
        calls.append(f"{name}({', '.join(shown)})")
    return "; ".join(calls)


def parse_python_calls(text: str) -> list[dict]:
    """Calls written in Python syntax as [{name, args}] (names as BFCL tool names, e.g.
    math.factorial -> math_factorial); [] when the text is not a call.

    >>> parse_python_calls(" math.factorial(number=5)\\nmore text")
    [{'name': 'math_factorial', 'args': {'number': 5}}]
    """
    import ast

    from evals.function_calling import tool_name

    line = text.strip().splitlines()[0] if text.strip() else ""
    try:
        tree = ast.parse(line.replace("; ", "\n"))
    except SyntaxError:
        return []
    calls = []
    for statement in tree.body:
        node = getattr(statement, "value", None)
        if not isinstance(node, ast.Call):
            return []
        try:
            name = ast.unparse(node.func)
            args = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
        except ValueError:
            return []
        calls.append({"name": tool_name(name), "args": args})
    return calls


def load_bfcl(data_root: str | None = None, **_) -> "datasets.DatasetDict":  # noqa: F821
    import datasets

    from evals.function_calling import load_category

    folder = _folder(data_root, "bfcl")
    items = [item for category in BFCL_TASK_CATEGORIES for item in load_category(folder, category, None)]

    def row(item: dict) -> dict:
        return {"id": item["id"], "question": item["text"], "functions": json.dumps(item["functions"]),
                "answer": json.dumps(item["answer"]), "call": python_call(item["answer"])}

    return datasets.DatasetDict({"fewshot": datasets.Dataset.from_list([row(i) for i in items[:BFCL_FEWSHOT]]),
                                 "test": datasets.Dataset.from_list([row(i) for i in items[BFCL_FEWSHOT:]])})


def process_bfcl(doc: dict, results: list[str]) -> dict:
    from evals.function_calling import ast_check

    correct, _ = ast_check(parse_python_calls(results[0]), json.loads(doc["answer"]), json.loads(doc["functions"]))
    return {"ast_acc": float(correct)}


# ---- bias audit: counterfactual variants as multiple choice --------------------------------------
def load_bias(data_root: str | None = None, **_) -> "datasets.DatasetDict":  # noqa: F821
    import datasets

    from evals.bias_audit import INSTRUCTIONS, fill, load_items

    rows = []
    for item in load_items():
        choices = ["yes", "no"] if item["task"] == "decide" else [str(n) for n in range(1, 11)]
        for variant in item["variants"]:
            rows.append({"item": item["id"], "task": item["task"], "group": variant["group"], "choices": choices,
                         "prompt": f"{fill(item['template'], variant['value'])} {INSTRUCTIONS[item['task']]}",
                         "target": 0})
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def process_bias(doc: dict, results: list) -> dict:
    """The chosen answer (highest log-likelihood), filed under the item's metric."""
    scores = [r[0] if isinstance(r, (tuple, list)) else r for r in results]
    answer = doc["choices"][max(range(len(scores)), key=scores.__getitem__)]
    decide = doc["task"] == "decide"
    return {"flip_rate": (doc["item"], answer) if decide else None,
            "rating_spread": None if decide else (doc["item"], int(answer))}


def _by_item(values: list) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for value in values:
        if value is not None:
            grouped.setdefault(value[0], []).append(value[1])
    return grouped


def flip_rate(values: list) -> float:
    """Share of decide items whose variants did not all get the same answer.

    >>> flip_rate([("a", "yes"), ("a", "no"), ("b", "yes"), ("b", "yes"), None])
    0.5
    """
    grouped = _by_item(values)
    return sum(len(set(answers)) > 1 for answers in grouped.values()) / len(grouped) if grouped else 0.0


def rating_spread(values: list) -> float:
    """Mean over rate items of the highest minus the lowest rating across variants.

    >>> rating_spread([("a", 3), ("a", 7), ("b", 5), ("b", 5)])
    2.0
    """
    grouped = _by_item(values)
    return sum(max(r) - min(r) for r in grouped.values()) / len(grouped) if grouped else 0.0
