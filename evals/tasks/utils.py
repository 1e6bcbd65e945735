"""Datasets for the harness tasks, read from local files only (lm-eval's `custom_dataset` hook).

lm-eval calls these with the TaskManager's metadata (`data_root`, set by `python -m
evals.harness --data-root`) and the task's `dataset_kwargs`. Nothing is fetched from a hub.

Splits, fixed here and never tuned on:
- GSM8K (`gsm8k/train.jsonl`, the public train split used as dev data): the first 50 problems
  are the few-shot pool, the rest (7,423) the evaluation set.
- PubMedQA PQA-L (`pubmedqa_pqal/`): the 500 PMIDs of the authors' `test_ground_truth.json` are
  the test set, the other 500 labelled items the few-shot pool.
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
