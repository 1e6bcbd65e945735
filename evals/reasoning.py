"""Chain-of-thought versus direct answering on logic puzzles, side by side in one run.

    python -m evals.reasoning                                   # bundled SmolLM2-135M, all puzzles
    python -m evals.reasoning --limit 10                        # quick
    python -m evals.reasoning --model "ollama:qwen2.5:7b" --out out/reasoning

Each puzzle of `--data` (default evals/data/logic_puzzles.jsonl: syllogisms, arithmetic word
problems, ordering puzzles, number facts, each with a short exact answer) goes through
`graphs.reasoning` twice on the same model, item by item: `direct` (JSON with only the answer)
and `cot` (JSON with `reasoning` first, then the answer). The answer field is constrained to the
puzzle's answer kind (yes/no, integer, or one of the named choices), so both modes always give a
scoreable answer. Reported: accuracy per mode and per category, the difference (cot - direct),
the items only one mode got right, chance level (random pick among the allowed answers), and
seconds per item with the ratio. Writes out/reasoning/reasoning-<model>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from graphs.reasoning.context import MODES, Context
from models.settings import PROJECT_ROOT

DEFAULT_DATA = PROJECT_ROOT / "evals" / "data" / "logic_puzzles.jsonl"


def load_puzzles(path: Path) -> list[dict]:
    if not path.is_file():
        raise SystemExit(f"{path} does not exist; pass --data pointing at a JSONL file of puzzles "
                         "({question, answer, answer_kind, choices?, category}).")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def normalise_answer(text: str) -> str:
    """Lowercase, no punctuation or articles; integers written as digits.

    >>> normalise_answer(" The Blue box."), normalise_answer("13.0"), normalise_answer("Yes!")
    ('blue box', '13', 'yes')
    """
    text = text.strip().casefold()
    if re.fullmatch(r"-?\d+(?:\.0+)?", text):
        return str(int(float(text)))
    text = re.sub(r"[^\w\s-]", "", text)
    return " ".join(w for w in text.split() if w not in ("the", "a", "an"))


def is_correct(predicted: str, expected: str) -> bool:
    """Exact match after `normalise_answer`; 'blue' also matches 'blue box'."""
    p, e = normalise_answer(predicted), normalise_answer(expected)
    return bool(p) and (p == e or p.split()[0] == e)


def chance(puzzle: dict) -> float:
    kind = puzzle["answer_kind"]
    return 0.5 if kind == "yes_no" else 1 / len(puzzle["choices"]) if kind == "choice" else 0.0


def run(puzzles: list[dict], model: str, reasoning_chars: int) -> list[dict]:
    from graphs.reasoning.graph import graph

    records = []
    for puzzle in tqdm(puzzles, desc="puzzles"):
        record = {"id": puzzle["id"], "category": puzzle["category"], "expected": puzzle["answer"]}
        for mode in MODES:
            started = time.perf_counter()
            state = graph.invoke({"messages": [("human", puzzle["question"])], "answer_kind": puzzle["answer_kind"],
                                  "choices": puzzle.get("choices", [])},
                                 context=Context(model=model, mode=mode, reasoning_chars=reasoning_chars))
            record[mode] = {"answer": state["answer"], "correct": is_correct(state["answer"], puzzle["answer"]),
                            "seconds": round(time.perf_counter() - started, 3), "reasoning": state["reasoning"],
                            "error": state["error"]}
        records.append(record)
    return records


def summarise(puzzles: list[dict], records: list[dict]) -> dict:
    by_category: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        by_category[r["category"]].append(i)
    rows = []
    for name, indices in [("all", list(range(len(records)))), *sorted(by_category.items())]:
        row = {"category": name, "n": len(indices),
               "chance": round(sum(chance(puzzles[i]) for i in indices) / len(indices), 3)}
        for mode in MODES:
            row[mode] = round(sum(records[i][mode]["correct"] for i in indices) / len(indices), 3)
        row["cot - direct"] = round(row["cot"] - row["direct"], 3)
        rows.append(row)
    seconds = {mode: sum(r[mode]["seconds"] for r in records) / len(records) for mode in MODES}
    return {
        "rows": rows,
        "only_cot_right": [r["id"] for r in records if r["cot"]["correct"] and not r["direct"]["correct"]],
        "only_direct_right": [r["id"] for r in records if r["direct"]["correct"] and not r["cot"]["correct"]],
        "errors": {mode: sum(bool(r[mode]["error"]) for r in records) for mode in MODES},
        "seconds_per_item": {mode: round(s, 3) for mode, s in seconds.items()},
        "cot_time_ratio": round(seconds["cot"] / max(seconds["direct"], 1e-9), 2),
    }


def markdown(report: dict) -> str:
    s = report["summary"]
    lines = [f"## Chain-of-thought vs direct on {report['items']} logic puzzles ({report['model']})", "",
             "| category | n | chance | direct | cot | cot - direct |", "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['category']} | {r['n']} | {r['chance']:.1%} | {r['direct']:.1%} | {r['cot']:.1%} | "
              f"{r['cot - direct'] * 100:+.1f} pts |" for r in s["rows"]]
    lines += ["", (f"Only cot right: {len(s['only_cot_right'])}; only direct right: {len(s['only_direct_right'])}; "
                  f"unusable replies: {s['errors']}."),
              (f"Seconds per item: direct {s['seconds_per_item']['direct']:.2f}, cot {s['seconds_per_item']['cot']:.2f} "
              f"(cot takes {s['cot_time_ratio']:.1f}x as long).")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", default="local", help="chat model spec (default: the bundled SmolLM2-135M)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N puzzles")
    parser.add_argument("--reasoning-chars", type=int, default=400, help="longest reasoning in cot mode")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "out" / "reasoning")
    args = parser.parse_args(argv)

    puzzles = load_puzzles(args.data)
    puzzles = puzzles[:args.limit] if args.limit else puzzles
    records = run(puzzles, args.model, args.reasoning_chars)
    report = {"model": args.model, "items": len(puzzles), "summary": summarise(puzzles, records), "records": records}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "reasoning-" + re.sub(r"[^\w.-]+", "_", args.model)
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    table = markdown(report)
    (args.out / f"{stem}.md").write_text(table, encoding="utf-8")
    print(table)
    print(f"Wrote {args.out / stem}.json and .md")
    return report


if __name__ == "__main__":
    main()
