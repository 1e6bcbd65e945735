"""Answer accuracy of the RAG graph on the sample handbook: does the answer state the fact,
and does it cite (or at least retrieve) the right file?

    python -m evals.handbook_qa                                 # bundled model, default settings
    python -m evals.handbook_qa --model ollama:qwen2.5:7b --evidence 0 --out out/handbook_qa

Writes handbook_qa.json and handbook_qa.md to --out (default out/handbook_qa).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

import models  # noqa: F401

QUESTIONS = Path(__file__).with_name("data") / "handbook_qa.jsonl"


def run(model: str, evidence_settings: list[int], questions_path: Path, top_k: int) -> list[dict]:
    from graphs.rag.context import Context
    from graphs.rag.graph import compile_rag_graph
    from rag.answering import open_knowledge_base as knowledge_base

    index = tempfile.mkdtemp(prefix="handbook-qa-")
    kb = knowledge_base("handbook", index, "local")
    from rag.knowledge_base import ensure_sample_handbook

    ensure_sample_handbook(kb)
    items = [json.loads(line) for line in questions_path.read_text().splitlines() if line.strip()]
    graph = compile_rag_graph()
    rows = []
    for evidence in evidence_settings:
        context = Context(model=model, index_location=index, top_k=top_k, evidence_sentences=evidence)
        for item in tqdm(items, desc=f"evidence={evidence}", file=sys.stderr):
            started = time.perf_counter()
            state = graph.invoke({"messages": [("human", item["question"])]}, context=context)
            answer = state["messages"][-1].additional_kwargs.get("answer_text", "")
            cited = [Path(c["source"]).name for c in state["citations"] if c["cited"]]
            retrieved = [Path(c["source"]).name for c in state["citations"]]
            rows.append({"evidence_sentences": evidence, "question": item["question"], "answer": answer,
                         "correct": any(e.lower() in answer.lower() for e in item["expected"]),
                         "cited_right_file": item["source"] in cited,
                         "retrieved_right_file": item["source"] in retrieved,
                         "seconds": round(time.perf_counter() - started, 2)})
    return rows


def table(rows: list[dict], model: str) -> str:
    lines = [f"Handbook QA with `{model}`", "", "| evidence sentences | answers with the fact | cited right file | "
             "retrieved right file | mean s |", "|---|---|---|---|---|"]
    for setting in sorted({r["evidence_sentences"] for r in rows}):
        part = [r for r in rows if r["evidence_sentences"] == setting]
        n = len(part)
        label = "whole chunks" if setting == 0 else str(setting)
        lines.append(f"| {label} | {sum(r['correct'] for r in part)}/{n} | {sum(r['cited_right_file'] for r in part)}/{n} | "
                     f"{sum(r['retrieved_right_file'] for r in part)}/{n} | {sum(r['seconds'] for r in part) / n:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.handbook_qa", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local?temperature=0&max_tokens=96")
    parser.add_argument("--evidence", type=int, nargs="+", default=[0, 2, 3],
                        help="evidence sentence settings to compare (0 = whole chunks)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--top-k", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("out/handbook_qa"))
    args = parser.parse_args(argv)
    rows = run(args.model, args.evidence, args.questions, args.top_k)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "handbook_qa.json").write_text(json.dumps({"model": args.model, "rows": rows}, indent=2))
    markdown = table(rows, args.model)
    (args.out / "handbook_qa.md").write_text(markdown + "\n")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
