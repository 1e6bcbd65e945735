"""Answer accuracy of the RAG graph on the sample handbook: does the answer state the fact (whole
tokens and numbers, not substrings), does it cite the right file, and does it say so when the
handbook does not cover the question?

    python -m evals.handbook_qa                                  # frozen test part (44 questions), bundled model
    python -m evals.handbook_qa --part tuning --evidence 0 2 3   # the 8 questions settings were chosen on
    python -m evals.handbook_qa --model ollama:qwen2.5:7b --evidence 0 --out out/handbook_qa

Parts: `tuning` (evals/data/handbook_qa.jsonl, the 8 questions the answer prompt and the
evidence-sentence default were chosen on) and `test` (evals/data/handbook_qa_test.jsonl, 44
questions written before any tuning: numbers, names, yes/no and questions the handbook does not
answer). Report the test part; the tuning part is there to show what was tuned.

Scoring: an expected answer matches when its tokens occur as a contiguous run of the answer's
tokens, numbers compared whole ("5" does not match "25" or "5.5"; "2,500" matches "2500"). A
"not in handbook" question is right when the graph abstains. Writes handbook_qa.json and
handbook_qa.md to --out (default out/handbook_qa).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import models  # noqa: F401  (offline switches before anything else loads)

DATA = Path(__file__).with_name("data")
PARTS = {"tuning": DATA / "handbook_qa.jsonl", "test": DATA / "handbook_qa_test.jsonl"}
_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*|[^\W\d_]+|[%€$]")
# Replies that decline without the graph's abstention flag (a model saying it does not know).
DECLINES = re.compile(r"\b(could not find|do not (?:answer|cover|mention|say)|does not (?:say|mention|cover)|"
                      r"not (?:mentioned|covered|in the (?:documents|handbook|sources))|no information|"
                      r"i (?:do not|don't) know|cannot answer|have nothing on|has no)\b", re.IGNORECASE)


def tokens(text: str) -> list[str]:
    """Lower-case tokens without accents; numbers whole, thousands separators dropped, "09:30" -> "9:30".

    >>> tokens("You get 25 days (EUR 2,500; 09:30).")
    ['you', 'get', '25', 'days', 'eur', '2500', '9:30']
    """
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    out = []
    for token in _TOKEN.findall(folded):
        if token[0].isdigit():
            if re.fullmatch(r"\d{1,3}(,\d{3})+", token):
                token = token.replace(",", "")
            token = re.sub(r"^0+(?=\d)", "", token)
            token = token.rstrip(".,:")
        out.append(token)
    return out


def matches(expected: str, answer: str) -> bool:
    """Whether `expected` occurs in `answer` as whole tokens.

    >>> matches("5", "You can carry over 5 days."), matches("5", "You get 25 days."), matches("2,500", "above 2500 EUR")
    (True, False, True)
    """
    want, have = tokens(expected), tokens(answer)
    return bool(want) and any(have[i:i + len(want)] == want for i in range(len(have) - len(want) + 1))


def declined(message) -> bool:
    """The graph abstained (flagged) or the reply says it cannot answer from the documents."""
    text = message.additional_kwargs.get("answer_text", message.content)
    return bool(message.additional_kwargs.get("abstained")) or bool(DECLINES.search(text))


def score(item: dict, message, citations: list[dict]) -> dict:
    answer = message.additional_kwargs.get("answer_text", message.content)
    abstained = declined(message)
    cited = [Path(c["source"]).name for c in citations if c.get("cited")]
    retrieved = [Path(c["source"]).name for c in citations]
    if item["expected"]:
        correct = not abstained and any(matches(e, answer) for e in item["expected"])
    else:  # not in the handbook: right when the graph says so
        correct = abstained
    return {"question": item["question"], "kind": item.get("kind", ""), "answer": answer, "abstained": abstained,
            "correct": correct, "cited_right_file": item.get("source") in cited if item.get("source") else None,
            "retrieved_right_file": item.get("source") in retrieved if item.get("source") else None}


def run(model: str, evidence_settings: list[int], part: str, top_k: int, answerability: str) -> list[dict]:
    from graphs.rag.context import Context
    from graphs.rag.graph import builder
    from rag.answering import open_knowledge_base
    from rag.demo import ensure_demo_corpus
    from tqdm import tqdm

    index = tempfile.mkdtemp(prefix="handbook-qa-")
    ensure_demo_corpus(open_knowledge_base("handbook", index, "local"))
    items = [json.loads(line) for line in PARTS[part].read_text().splitlines() if line.strip()]
    graph = builder.compile()
    rows = []
    for evidence in evidence_settings:
        context = Context(model=model, index_location=index, top_k=top_k, evidence_sentences=evidence,
                          answerability=answerability)
        for item in tqdm(items, desc=f"evidence={evidence}", file=sys.stderr):
            started = time.perf_counter()
            state = graph.invoke({"messages": [("human", item["question"])]}, context=context)
            row = score(item, state["messages"][-1], state.get("citations", []))
            rows.append({"evidence_sentences": evidence, **row, "seconds": round(time.perf_counter() - started, 2)})
    return rows


def table(rows: list[dict], model: str, part: str, answerability: str) -> str:
    lines = [f"Handbook QA, `{part}` part, `{model}`, answerability `{answerability}`", "",
             "| evidence sentences | correct (all) | numbers | names | yes/no | not in handbook (abstained) | "
             "cited right file | retrieved right file | mean s |", "|---|---|---|---|---|---|---|---|---|"]

    def share(part_rows, key="correct"):
        values = [r[key] for r in part_rows if r[key] is not None]
        return f"{sum(values)}/{len(values)}" if values else "-"

    for setting in sorted({r["evidence_sentences"] for r in rows}):
        part_rows = [r for r in rows if r["evidence_sentences"] == setting]
        kinds = {k: [r for r in part_rows if r["kind"] == k] for k in ("number", "name", "yes/no", "not in handbook")}
        label = "whole chunks" if setting == 0 else str(setting)
        lines.append(f"| {label} | {share(part_rows)} | {share(kinds['number'])} | {share(kinds['name'])} | "
                     f"{share(kinds['yes/no'])} | {share(kinds['not in handbook'])} | {share(part_rows, 'cited_right_file')} | "
                     f"{share(part_rows, 'retrieved_right_file')} | {sum(r['seconds'] for r in part_rows) / len(part_rows):.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.handbook_qa", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local?temperature=0&max_tokens=96")
    parser.add_argument("--part", choices=sorted(PARTS), default="test", help="test (frozen, report this) or tuning")
    parser.add_argument("--evidence", type=int, nargs="+", default=[-1],
                        help="evidence sentence settings to compare (0 = whole chunks, -1 = the graph's default)")
    parser.add_argument("--answerability", default="rules", help="rules, rules+model or off")
    parser.add_argument("--top-k", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("out/handbook_qa"))
    args = parser.parse_args(argv)
    rows = run(args.model, args.evidence, args.part, args.top_k, args.answerability)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "handbook_qa.json").write_text(json.dumps({"model": args.model, "part": args.part,
                                                          "answerability": args.answerability, "rows": rows}, indent=2))
    markdown = table(rows, args.model, args.part, args.answerability)
    (args.out / "handbook_qa.md").write_text(markdown + "\n")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
