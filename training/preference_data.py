"""Preference pairs (HH-RLHF harmless) for the reward model and DPO: parsing, a seeded split, its manifest.

    python -m training.preference_data                       # split ../shared/data/hh_rlhf_harmless_test, print the manifest
    python -m training.preference_data --data FILE.jsonl.gz --seed 0

Each HH-RLHF row is two whole dialogues (`chosen`, `rejected`) that share every turn but the last
assistant answer. `parse_pair` turns a row into the shared `prompt` (chat messages) and the two final
answers. The split is by prompt, not by row: rows with the same prompt always land in the same part,
so a test prompt is never seen in training under another answer. `split_pairs` is seeded and
deterministic; `split_manifest` records the data file's SHA-256, the seed, and per part the count
and a hash of its pair keys, and `check_no_test_in_training` refuses a training set that holds any
test pair or test prompt (the reward model and DPO both call it before training).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
from pathlib import Path

from models.settings import shared_data

TURN = re.compile(r"\n\n(Human|Assistant): ")
SPLIT_PARTS = ("train", "validation", "test")


def default_data() -> Path:
    return shared_data() / "hh_rlhf_harmless_test" / "harmless-base-test.jsonl.gz"


def parse_dialogue(text: str) -> list[dict]:
    """HH-RLHF's "\\n\\nHuman: ...\\n\\nAssistant: ..." text as chat messages.

    >>> parse_dialogue("\\n\\nHuman: hi\\n\\nAssistant: hello\\n\\nHuman: bye\\n\\nAssistant: ok")
    [{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'hello'}, {'role': 'user', 'content': 'bye'}, {'role': 'assistant', 'content': 'ok'}]
    """
    parts = TURN.split(text)
    messages = []
    for speaker, content in zip(parts[1::2], parts[2::2]):
        messages.append({"role": "user" if speaker == "Human" else "assistant", "content": content.strip()})
    return messages


def parse_pair(row: dict) -> dict | None:
    """{prompt: messages, chosen: str, rejected: str, key, prompt_key} or None when the two dialogues do
    not end in an assistant answer after the same turns (a handful of HH rows), or the answers are equal.

    >>> pair = parse_pair({"chosen": "\\n\\nHuman: q\\n\\nAssistant: no", "rejected": "\\n\\nHuman: q\\n\\nAssistant: sure"})
    >>> pair["prompt"], pair["chosen"], pair["rejected"]
    ([{'role': 'user', 'content': 'q'}], 'no', 'sure')
    """
    chosen, rejected = parse_dialogue(row["chosen"]), parse_dialogue(row["rejected"])
    if not chosen or not rejected or chosen[-1]["role"] != "assistant" or rejected[-1]["role"] != "assistant":
        return None
    if chosen[:-1] != rejected[:-1] or not chosen[:-1] or chosen[-1]["content"] == rejected[-1]["content"]:
        return None
    prompt = chosen[:-1]
    prompt_key = _digest(json.dumps(prompt, sort_keys=True))
    key = _digest(json.dumps([prompt, chosen[-1]["content"], rejected[-1]["content"]], sort_keys=True))
    return {"prompt": prompt, "chosen": chosen[-1]["content"], "rejected": rejected[-1]["content"],
            "key": key, "prompt_key": prompt_key}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_pairs(path: str | Path | None = None) -> tuple[list[dict], int]:
    """(parsed pairs, rows skipped) from a JSONL (optionally .gz) of {chosen, rejected} dialogues."""
    path = Path(path or default_data())
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: pass --data with an HH-RLHF style JSONL(.gz) of chosen/rejected "
                                f"dialogues (the bundled one is {default_data()})")
    opener = gzip.open if path.suffix == ".gz" else open
    pairs, skipped = [], 0
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if "chosen" not in row or "rejected" not in row:
                raise ValueError(f"{path}:{number} has no 'chosen'/'rejected' fields: each line must be one "
                                 "preference pair as two dialogues ({'chosen': ..., 'rejected': ...})")
            pair = parse_pair(row)
            if pair is None:
                skipped += 1
            else:
                pairs.append(pair)
    return pairs, skipped


def split_pairs(pairs: list[dict], seed: int = 0, validation: float = 0.1, test: float = 0.2) -> dict[str, list[dict]]:
    """{train, validation, test}: prompts shuffled with `seed`, then cut by the fractions; all pairs of
    one prompt go to the same part.

    >>> rows = [{"key": str(i), "prompt_key": str(i // 2)} for i in range(20)]
    >>> parts = split_pairs(rows, seed=1, validation=0.1, test=0.2)
    >>> [len(parts[p]) for p in SPLIT_PARTS]
    [14, 2, 4]
    """
    if not 0 <= validation < 1 or not 0 < test < 1 or validation + test >= 1:
        raise ValueError("validation and test fractions must be in [0, 1) with test > 0 and their sum below 1")
    prompts = sorted({p["prompt_key"] for p in pairs})
    random.Random(seed).shuffle(prompts)
    n_test = max(1, round(len(prompts) * test))
    n_val = round(len(prompts) * validation)
    part_of = {key: "test" for key in prompts[:n_test]}
    part_of.update({key: "validation" for key in prompts[n_test:n_test + n_val]})
    parts: dict[str, list[dict]] = {name: [] for name in SPLIT_PARTS}
    for pair in pairs:
        parts[part_of.get(pair["prompt_key"], "train")].append(pair)
    return parts


def check_no_test_in_training(train: list[dict], test: list[dict]) -> None:
    """Raise if any test pair or test prompt is in the training pairs.

    >>> check_no_test_in_training([{"key": "a", "prompt_key": "p"}], [{"key": "b", "prompt_key": "p"}])
    Traceback (most recent call last):
    ...
    ValueError: 1 training pair(s) share a prompt with the test part (first key a): build the split with training.preference_data.split_pairs (it splits by prompt), or drop those pairs from training
    """
    test_keys = {p["key"] for p in test}
    test_prompts = {p["prompt_key"] for p in test}
    leaked = [p for p in train if p["key"] in test_keys]
    if leaked:
        raise ValueError(f"{len(leaked)} test pair(s) are in the training pairs (first key {leaked[0]['key']}): "
                         "split with training.preference_data.split_pairs and train on its 'train' part only")
    shared = [p for p in train if p["prompt_key"] in test_prompts]
    if shared:
        raise ValueError(f"{len(shared)} training pair(s) share a prompt with the test part (first key {shared[0]['key']}): "
                         "build the split with training.preference_data.split_pairs (it splits by prompt), "
                         "or drop those pairs from training")


def split_manifest(data: str | Path, parts: dict[str, list[dict]], seed: int, skipped: int) -> dict:
    """What reproduces and identifies the split: data hash, seed, and per part the count and key hash."""
    return {"data": str(data), "data_sha256": file_sha256(data), "seed": seed, "rows_skipped": skipped,
            "parts": {name: {"pairs": len(rows), "prompts": len({r["prompt_key"] for r in rows}),
                             "keys_sha256": _digest(",".join(sorted(r["key"] for r in rows)))}
                      for name, rows in parts.items()}}


def train_part(parts: dict[str, list[dict]], limit: int | None = None) -> list[dict]:
    """The train pairs a run uses (the first `limit`, or all), checked against the test part."""
    train = parts["train"][:limit] if limit else parts["train"]
    check_no_test_in_training(train, parts["test"])
    return train


def load_split(data: str | Path | None = None, seed: int = 0, validation: float = 0.1, test: float = 0.2,
               manifest: str | Path | None = None) -> tuple[dict[str, list[dict]], dict]:
    """(parts, manifest) for the preference data; with `manifest` (an earlier split's JSON), the split
    is rebuilt from its seed and must match it, or a clear error says what differs."""
    data = Path(data or default_data())
    if manifest is not None:
        saved = json.loads(Path(manifest).read_text(encoding="utf-8"))
        seed = saved["seed"]
    pairs, skipped = read_pairs(data)
    parts = split_pairs(pairs, seed=seed, validation=validation, test=test)
    check_no_test_in_training(parts["train"] + parts["validation"], parts["test"])
    made = split_manifest(data, parts, seed, skipped)
    if manifest is not None:
        for name in SPLIT_PARTS:
            if saved["parts"][name]["keys_sha256"] != made["parts"][name]["keys_sha256"]:
                raise ValueError(f"the {name} part differs from {manifest} (data {made['data_sha256'][:12]} vs "
                                 f"{saved['data_sha256'][:12]}): pass the same --data and fractions the manifest was made with")
    return parts, made


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="HH-RLHF style JSONL(.gz) (default: the shared harmless test file)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    _, manifest = load_split(args.data, seed=args.seed)
    print(json.dumps(manifest, indent=2))
    return manifest


if __name__ == "__main__":
    main()
