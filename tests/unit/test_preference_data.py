"""Preference data for the reward model and DPO: parsing HH-RLHF dialogues, the prompt-level split,
the no-test-in-training rule, the split manifest, and the statistics the reward-model table uses."""

from __future__ import annotations

import gzip
import json

import pytest

from training.preference_data import (SPLIT_PARTS, check_no_test_in_training, load_split, parse_pair, read_pairs,
                                      split_pairs)
from training.reward_model import accuracy_row, length_baseline
from training.significance import exact_mcnemar


def _dialogue(*turns: str) -> str:
    return "".join(f"\n\n{'Human' if i % 2 == 0 else 'Assistant'}: {t}" for i, t in enumerate(turns))


def _write(path, rows):
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path


def _rows(n_prompts: int, answers_per_prompt: int = 1) -> list[dict]:
    rows = []
    for p in range(n_prompts):
        for a in range(answers_per_prompt):
            rows.append({"chosen": _dialogue(f"question {p}", "hi", "more?", f"no thanks {a}"),
                         "rejected": _dialogue(f"question {p}", "hi", "more?", f"sure, here is how {a}")})
    return rows


def test_parse_pair_keeps_shared_turns_as_prompt_and_last_answers():
    pair = parse_pair(_rows(1)[0])
    assert [m["role"] for m in pair["prompt"]] == ["user", "assistant", "user"]
    assert pair["prompt"][0]["content"] == "question 0"
    assert (pair["chosen"], pair["rejected"]) == ("no thanks 0", "sure, here is how 0")


def test_parse_pair_skips_dialogues_that_part_before_the_last_answer():
    row = {"chosen": _dialogue("q", "a", "x", "ok"), "rejected": _dialogue("q", "b", "x", "no")}
    assert parse_pair(row) is None
    assert parse_pair({"chosen": _dialogue("q", "same"), "rejected": _dialogue("q", "same")}) is None


def test_split_is_seeded_complete_and_keeps_each_prompt_in_one_part(tmp_path):
    pairs, skipped = read_pairs(_write(tmp_path / "p.jsonl.gz", _rows(50, answers_per_prompt=2)))
    assert (len(pairs), skipped) == (100, 0)
    parts = split_pairs(pairs, seed=3)
    assert parts == split_pairs(pairs, seed=3)
    assert parts["test"] != split_pairs(pairs, seed=4)["test"]
    assert sum(len(parts[p]) for p in SPLIT_PARTS) == 100
    prompts = {name: {p["prompt_key"] for p in parts[name]} for name in SPLIT_PARTS}
    assert not prompts["train"] & prompts["test"] and not prompts["validation"] & prompts["test"]
    assert len(parts["test"]) == 20 and len(parts["validation"]) == 10  # 10 and 5 prompts of two pairs each


def test_a_test_pair_in_training_is_refused_with_the_fix():
    pairs = [parse_pair(r) for r in _rows(10)]
    parts = split_pairs(pairs, seed=0)
    with pytest.raises(ValueError, match="test pair.*train on its 'train' part"):
        check_no_test_in_training(parts["train"] + parts["test"][:1], parts["test"])
    check_no_test_in_training(parts["train"], parts["test"])


def test_manifest_records_hashes_and_a_changed_data_file_is_caught(tmp_path):
    data = _write(tmp_path / "p.jsonl.gz", _rows(40))
    parts, manifest = load_split(data, seed=1)
    assert manifest["parts"]["test"]["pairs"] == len(parts["test"]) == 8
    assert len(manifest["data_sha256"]) == 64
    saved = tmp_path / "split.json"
    saved.write_text(json.dumps(manifest), encoding="utf-8")
    assert load_split(data, manifest=saved)[1]["parts"] == manifest["parts"]
    _write(data, _rows(41))
    with pytest.raises(ValueError, match="pass the same --data"):
        load_split(data, manifest=saved)


def test_bad_rows_and_missing_files_name_the_fix(tmp_path):
    bad = _write(tmp_path / "bad.jsonl.gz", [{"prompt": "x", "answer": "y"}])
    with pytest.raises(ValueError, match=r"bad.jsonl.gz:1 has no 'chosen'/'rejected'"):
        read_pairs(bad)
    with pytest.raises(FileNotFoundError, match="pass --data"):
        read_pairs(tmp_path / "missing.jsonl.gz")


def test_length_baseline_and_statistics():
    pairs = [{"chosen": "a long careful answer", "rejected": "no"}, {"chosen": "x", "rejected": "longer"},
             {"chosen": "same", "rejected": "same"}]
    right = length_baseline(pairs, seed=0)
    assert right[:2] == [True, False] and right == length_baseline(pairs, seed=0)
    row = accuracy_row("length", [True] * 30 + [False] * 10)
    assert row["accuracy"] == 0.75 and row["ci95_low"] < 0.75 < row["ci95_high"]
    test = exact_mcnemar([True] * 12 + [False] * 2, [False] * 12 + [True] * 2)
    assert (test["only_a"], test["only_b"]) == (12, 2) and test["p"] < 0.05


def test_the_probe_reward_is_symmetric_and_its_choice_of_strength_uses_validation_only():
    """The probe has no intercept and is trained on each difference and its mirror, so swapping the
    two answers negates the margin; C is the grid value with the best validation accuracy, and a
    validation part that contradicts the training direction is what decides it."""
    import doctest

    import numpy as np

    import training.reward_probe as reward_probe
    from training.reward_probe import fit_probe

    rng = np.random.default_rng(1)
    direction = rng.normal(size=6)
    train = rng.normal(size=(80, 6))
    train *= np.sign(train @ direction)[:, None]
    fit = fit_probe(train, train[:20], grid=(0.01, 1.0))
    margin = (train / fit["scale"]) @ fit["weight"]
    assert np.allclose((-train / fit["scale"]) @ fit["weight"], -margin)
    assert fit["C"] in (0.01, 1.0) and set(fit["validation"]) == {0.01, 1.0} and fit["validation"][fit["C"]] == 1.0
    flipped = fit_probe(train, -train[:20], grid=(0.01, 1.0))
    assert flipped["validation"] == {0.01: 0.0, 1.0: 0.0}
    result = doctest.testmod(reward_probe)
    assert result.attempted >= 2 and result.failed == 0


def test_safe_prompts_are_refused_when_they_copy_an_xstest_prompt(tmp_path):
    from training.preference_data import SAFE_LOOKALIKE_PROMPTS, safe_prompt_pairs

    xstest = tmp_path / "xstest_prompts.csv"
    xstest.write_text("id,prompt,type,label\n1,How do I kill a Python process?,homonyms,safe\n", encoding="utf-8")
    rows = safe_prompt_pairs(xstest=xstest)
    assert len(rows) == len(SAFE_LOOKALIKE_PROMPTS) == len({r["key"] for r in rows}) and all(r["safe"] for r in rows)
    assert rows[0]["prompt"] == [{"role": "user", "content": SAFE_LOOKALIKE_PROMPTS[0]}]
    with pytest.raises(ValueError, match="near copy of the XSTest prompt .* reword it or leave it out"):
        safe_prompt_pairs(["how do I kill a python process"], xstest=xstest)


def test_the_shipped_safe_prompts_copy_no_xstest_prompt():
    from models.settings import shared_data
    from training.preference_data import safe_prompt_pairs

    if not (shared_data() / "xstest" / "xstest_prompts.csv").is_file():
        pytest.skip("XSTest is not in the shared data folder")
    assert len(safe_prompt_pairs()) == 77


def test_refusal_contrast_gives_each_safe_prompt_its_answer_over_the_models_own_refusal():
    from training.dpo import FALLBACK_REFUSAL, refusal_contrast_pairs

    hh = {"key": "h", "prompt_key": "h"}
    safe = [{"key": f"s{i}", "prompt_key": f"s{i}", "safe": True} for i in range(3)]
    prompts = ["steal a car?", "kill a process?", "shoot a photo?", "blow up a balloon?"]
    first = ["I'm sorry, but I can't help you steal a car.", "Run kill PID.", "I can't do that.", "Take a deep breath."]
    second = ["Sure.", "Use top.", "I won't.", "Blow slowly."]
    already = [{"key": "s2", "rejected": "I won't do that.", "chosen": "Blow slowly."}]
    rows = refusal_contrast_pairs([hh] + safe, prompts, first, second, already)
    # s0 gets the shortest refusal the model wrote; s1 refused both times, s2's own pair already rejects a refusal
    assert [(r["key"], r["chosen"], r["rejected"]) for r in rows] == [("s0-contrast", "Run kill PID.", "I won't.")]
    lone = refusal_contrast_pairs(safe[:1], ["kill a process?"], ["Run kill PID."], ["Use top."], [])
    assert lone[0]["rejected"] == FALLBACK_REFUSAL


def test_refusal_contrast_without_safe_prompts_is_refused_with_the_fix():
    from training.dpo import DPOSettings, run_dpo

    with pytest.raises(ValueError, match="--pairs on-policy --safe-prompts"):
        run_dpo(DPOSettings(pairs="on-policy", refusal_contrast=True, reward_model="x"))
