"""Fine-tuning data sets as files: JSONL rows in TRL's prompt/completion chat format, a manifest
with the file's SHA-256 beside each, and the rule that keeps test items out of training.

    from training.task_data import write_dataset, read_dataset, check_no_test_items
    info = write_dataset(rows, ".hearth/finetune/data/sql.jsonl", source="geoquery train")
    info["sha256"]                     # also in sql.manifest.json, and logged with every SFT run

A row is `{"prompt": [{"role": "system", ...}, {"role": "user", ...}], "completion":
[{"role": "assistant", "content": "SELECT ..."}], "task": "sql", "source": "geoquery",
"question": "..."}`: TRL's SFTTrainer renders it with the model's chat template and puts the
loss on the completion (the assistant turn) only.

The test rule: the evaluation sets (the 106 home commands in evals/data, GeoQuery dev) are what
the lift is measured on, so a training row whose question is one of them (compared after
lower-casing and dropping punctuation) is refused with `TestItemInTrainingData`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

from models.settings import PROJECT_ROOT, data_home, shared_data

HOME_COMMANDS = PROJECT_ROOT / "evals" / "data" / "home_commands.jsonl"


def held_out_sql(database: str | Path) -> list[str]:
    """Gold SQL of the evaluation questions written for `database` (today: the sample business
    database's evals/data/sql_business.jsonl), so synthetic training pairs that return the same
    rows as a test question (a paraphrase of it) can be left out."""
    if Path(database).stem != "sample_business":
        return []
    path = HOME_COMMANDS.parent / "sql_business.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line)["sql"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def geoquery_folder() -> Path:
    """GeoQuery in the shared data sets ($HEARTH_DATA, else ../shared/data)."""
    return shared_data() / "geoquery"


class TestItemInTrainingData(ValueError):
    """Training rows that are evaluation items: the measured lift would be a memorised one."""

    __test__ = False  # not a pytest test class


def data_folder() -> Path:
    """Where built data sets go: $HEARTH_HOME/finetune/data (default .hearth/finetune/data)."""
    return data_home() / "finetune" / "data"


def normalize_question(text: str) -> str:
    """The form two questions are compared in: lower case, words only.

    >>> normalize_question("  Turn ON the living-room light, please! ")
    'turn on the living room light please'
    """
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def row_question(row: dict) -> str:
    """The request a row answers: its `question` field, else its last user message."""
    if row.get("question"):
        return str(row["question"])
    users = [m["content"] for m in row.get("prompt", []) if m.get("role") == "user"]
    return users[-1] if users else ""


XQUAD_TEST_ARTICLES = 4  # the last N articles of xquad.en.dev.json: the grounded suite's test, never trained on


def held_out_questions(home_commands: Path = HOME_COMMANDS, geoquery: Path | None = None) -> dict[str, str]:
    """normalized question -> where it is a test item: the home commands (both sets), the handbook QA and sample
    business database questions, the abstention questions, PubMedQA's test part, the XQuAD test articles and
    GeoQuery dev (the data sets present)."""
    held: dict[str, str] = {}
    for commands in (home_commands, *sorted(home_commands.parent.glob("home_commands_fresh*.jsonl"))):  # the blind sets too
        if commands.is_file():
            for line in commands.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    item = json.loads(line)
                    held[normalize_question(item["text"])] = f"{commands.name}:{item['id']}"
    for name in ("handbook_qa.jsonl", "handbook_qa_test.jsonl", "sql_business.jsonl", "abstention.jsonl"):
        qa = home_commands.parent / name
        if qa.is_file():
            for number, line in enumerate(qa.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    held[normalize_question(json.loads(line)["question"])] = f"{name}:{number}"
    pubmedqa = shared_data() / "pubmedqa_pqal"
    if (pubmedqa / "test_ground_truth.json").is_file() and (pubmedqa / "ori_pqal.json").is_file():
        test_ids = json.loads((pubmedqa / "test_ground_truth.json").read_text(encoding="utf-8"))
        items = json.loads((pubmedqa / "ori_pqal.json").read_text(encoding="utf-8"))
        for pmid in test_ids:
            if pmid in items:
                held[normalize_question(items[pmid]["QUESTION"])] = f"pubmedqa test:{pmid}"
    if (shared_data() / "xquad" / "xquad.en.dev.json").is_file():
        from training.grounded_data import xquad_articles

        for article in xquad_articles("test"):
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    held[normalize_question(qa["question"])] = f"xquad test:{qa['id']}"
    dev = (geoquery or geoquery_folder()) / "dev.jsonl"
    if dev.is_file():
        for line in dev.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                held[normalize_question(item["question"])] = f"geoquery dev:{item['id']}"
    return held


def check_no_test_items(rows: Iterable[dict], held_out: dict[str, str] | None = None) -> None:
    """Raise `TestItemInTrainingData` naming the rows whose question is an evaluation item."""
    held_out = held_out_questions() if held_out is None else held_out
    leaks = []
    for index, row in enumerate(rows):
        where = held_out.get(normalize_question(row_question(row)))
        if where:
            leaks.append(f"row {index} ({row_question(row)!r}) is test item {where}")
    if leaks:
        shown = "; ".join(leaks[:5]) + (f"; and {len(leaks) - 5} more" if len(leaks) > 5 else "")
        raise TestItemInTrainingData(
            f"{len(leaks)} training row(s) are evaluation items: {shown}. Remove them from the training data "
            "(or rebuild it with the training.sql_data / training.tool_data commands, which filter them): "
            "the fine-tune is measured on these items, so training on them would report a memorised lift.")


def task_counts(rows: Iterable[dict]) -> dict[str, int]:
    """How many rows of each task a data set holds (a row without one counts as "chat").

    >>> task_counts([{"task": "sql"}, {"task": "sql"}, {}])
    {'sql': 2, 'chat': 1}
    """
    return dict(Counter(row.get("task") or "chat" for row in rows))


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.stem + ".manifest.json")


def write_dataset(rows: list[dict], path: str | Path, **about) -> dict:
    """Write rows as JSONL (keys sorted, so the same rows give the same hash) after checking the
    test rule; a manifest with the SHA-256, the row count and `about` goes beside it."""
    check_no_test_items(rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    tasks: dict[str, int] = {}
    sources: dict[str, int] = {}
    for row in rows:
        tasks[row.get("task", "")] = tasks.get(row.get("task", ""), 0) + 1
        sources[row.get("source", "")] = sources.get(row.get("source", ""), 0) + 1
    info = {"path": str(path), "rows": len(rows), "sha256": file_sha256(path), "tasks": tasks, "sources": sources, **about}
    manifest_path(path).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


def read_dataset(path: str | Path, *, check: bool = True) -> list[dict]:
    """Rows of a JSONL data set; refuses one that holds test items (see `check_no_test_items`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No data set at {path}. Build one first, e.g. `python -m training.sql_data --out {path}`.")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]  # not splitlines: U+2028 may sit inside a JSON string
    for number, row in enumerate(rows, 1):
        if not isinstance(row.get("prompt"), list) or not isinstance(row.get("completion"), list):
            raise ValueError(f"{path}:{number} is not a prompt/completion chat row: each line needs 'prompt' "
                             "(a list of system/user messages) and 'completion' (a list with the assistant message).")
    if check:
        check_no_test_items(rows)
    return rows
