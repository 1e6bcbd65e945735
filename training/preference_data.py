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


# Safe requests that sound unsafe, written for this project (2026-12-04) in the kinds of prompt that
# over-refusal studies name (words with a harmless second sense, figures of speech, harmless targets,
# games and fiction, definitions, history, public and fictional people, safety advice), plus a few
# plain requests. Not taken from XSTest, which measures over-refusal: `safe_prompt_pairs` refuses any
# that is a near copy of an XSTest prompt. DPO's on-policy pairs on these never prefer a refusal.
SAFE_LOOKALIKE_PROMPTS = (
    # a harmless second sense
    "How do I kill a zombie process on Linux?", "What's the quickest way to terminate every background job in my shell?",
    "How can I execute a Python script from a cron job?", "How do I shoot a portrait photo against a bright window?",
    "What's the best way to blow up an air mattress without a pump?", "How do I strip old paint off a wooden chair?",
    "How can I crack an egg with one hand?", "How do I hack together a quick prototype at a hackathon?",
    "What's the easiest way to butcher a whole chicken into parts?", "How do I attack the problem of slow database queries?",
    "How do I smash my tennis serve harder?", "How do I choke a small petrol engine to start it in the cold?",
    "How do I wipe a hard drive before selling my laptop?", "How do I bleed the brakes on my bicycle?",
    "How do I fire an employee respectfully?", "How can I beat my uncle at chess?",
    "How do I knock down a non-load-bearing wall between two rooms?", "How should I destroy old letters that carry my bank details?",
    "How do I break into the software industry without a degree?", "How can I steal the show at my school talent contest?",
    # figures of speech
    "My presentation has to kill tomorrow. Any tips?", "How do I slay my job interview on Friday?",
    "I want to crush my marathon goal this year. How should I train?", "How do I bury the hatchet with my brother?",
    "How can I blow the judges away at a baking contest?", "My code is a ticking bomb; how do I refactor it safely?",
    "How do I tackle a mountain of laundry after a holiday?", "How do I shoot down a bad idea in a meeting politely?",
    "How do I make a chocolate cake that is to die for?", "I have a five-hour layover in Frankfurt; how can I kill the time?",
    # harmless targets
    "How do I get rid of fruit flies in my kitchen?", "What's the most humane way to deal with mice in my attic?",
    "How do I kill weeds between paving stones without chemicals?", "How do I kill bacteria on a wooden chopping board?",
    "What's the best way to exterminate bed bugs from a mattress?", "How can I remove a wasp nest under my roof safely?",
    "How do I kill the mould in my bathroom grout?",
    # games, sport and fiction
    "In Minecraft, how do I defeat the Ender Dragon?", "What's a good strategy for the assassination contracts in the Hitman games?",
    "How do I write a convincing villain for my mystery novel?", "In chess, how do I checkmate with a king and a rook?",
    "How do boxers train to throw a knockout punch?", "At a murder mystery party, what clues should the killer leave?",
    "What weapons did knights use in medieval battles?", "How do I win a pillow fight against my kids?",
    # definitions
    "A character in my crime novel is charged with laundering money; what does that charge actually mean?",
    "My bank warned me about identity theft. What is it, in plain words?", "What makes an email a phishing email?",
    "The news said a warehouse fire was arson. What makes a fire count as arson?",
    "What is a Ponzi scheme?", "What is a computer virus?", "What is insider trading?", "What does the word extortion mean?",
    # history
    "Why did the Western Roman Empire fall?", "What happened during the Chernobyl disaster?", "What caused the First World War?",
    "What was the Cuban Missile Crisis?", "Why was the Berlin Wall built?", "What happened at the Salem witch trials?",
    # public and fictional people
    "Where did Albert Einstein work after he left Germany?", "What was Marie Curie's nationality?",
    "What is the official residence of the British prime minister?", "Where does Sherlock Holmes live in the stories?",
    "What is Batman's secret identity?", "What is Spider-Man's real name?",
    # safety advice
    "What should I do if someone near me has a seizure?", "How do I store cleaning chemicals safely away from children?",
    "Which household cleaning products should never be mixed?", "What are the signs of carbon monoxide poisoning?",
    "How do I report a scam phone call?", "How do I protect my online accounts from hackers?",
    # plain requests
    "Can you give me a recipe for banana bread?", "How do I change a flat tyre?", "How do vaccines train the immune system?",
    "Write a short poem about autumn.", "How do I negotiate a higher salary?", "What's a good beginner workout routine?",
)


def near_copy(a: str, b: str, cutoff: float = 0.8) -> bool:
    """Are two prompts the same text up to case, punctuation and small edits (difflib ratio ≥ `cutoff`)?

    >>> near_copy("How do I kill a Python process?", "how do i kill a python process"), near_copy("What is arson?", "What is a Ponzi scheme?")
    (True, False)
    """
    from difflib import SequenceMatcher

    norm = lambda t: " ".join(re.sub(r"[^a-z0-9 ]", " ", t.lower()).split())
    return SequenceMatcher(None, norm(a), norm(b)).ratio() >= cutoff


def xstest_path(path: str | Path | None = None) -> Path:
    """XSTest's prompt file: `path`, else xstest/xstest_prompts.csv in the shared data folder."""
    return Path(path or shared_data() / "xstest" / "xstest_prompts.csv")


def xstest_rows(path: str | Path | None = None) -> list[dict]:
    """XSTest's rows (id, prompt, type, label, ...) as dicts, from `xstest_path(path)`."""
    import csv

    path = xstest_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: XSTest lives in ../shared/data/xstest (set HEARTH_DATA)")
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def safe_prompt_pairs(prompts: tuple[str, ...] | list[str] = SAFE_LOOKALIKE_PROMPTS,
                      xstest: str | Path | None = None) -> list[dict]:
    """Prompt-only rows ({prompt, key, prompt_key, safe: True}) for on-policy DPO, after checking that none
    is a near copy of an XSTest prompt (the over-refusal test); one that is raises with the fix."""
    tests = [row["prompt"] for row in xstest_rows(xstest)] if xstest_path(xstest).is_file() else []
    for prompt in prompts:
        copied = next((t for t in tests if near_copy(prompt, t)), None)
        if copied is not None:
            raise ValueError(f"safe prompt {prompt!r} is a near copy of the XSTest prompt {copied!r}, which measures "
                             "over-refusal: reword it or leave it out of the training prompts")
    return [{"prompt": [{"role": "user", "content": prompt}], "key": f"safe-{_digest(prompt)}",
             "prompt_key": f"safe-{_digest(prompt)}", "safe": True} for prompt in prompts]


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
