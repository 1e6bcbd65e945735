"""Do retrieval models trained on one collection hurt the others? Hit rates on the sample handbook
and on PubMedQA, the best untrained pipeline beside each trained ranker or encoder, same run.

    python -m evals.retrieval_domains --reranker fusion:out/rankers/cranfield --reranker cross-encoder:out/rerankers/cranfield \
        --embeddings hf:out/embeddings/cranfield-tuned
    python -m evals.retrieval_domains --pubmed-queries 100 --out out/retrieval_domains   # quicker

Two collections nobody trained on:
- the sample handbook (`data/handbook`, chunked as the RAG graphs chunk it): every question of
  `evals/data/handbook_qa*.jsonl` that names the file holding its answer; a hit when a chunk of that
  file is among the top k (k = 4, the RAG graphs' default);
- PubMedQA (`--pubmed`, 1,000 abstracts in sentence chunks, as `apps.search` indexes them): the
  first `--pubmed-queries` papers' questions (the question is the paper's title, which is not in the
  indexed text); a hit when a chunk of that paper is among the top k.

Every system is the best pipeline (BM25 + dense, reciprocal rank, dense feedback) with one change:
`--reranker SPEC` reorders its candidates (`fusion:FOLDER`, `cross-encoder:FOLDER`, ...),
`--embeddings SPEC` re-embeds the collection with another encoder. Reports hit@k and MRR@10 per
collection, with an exact McNemar test on per-question hits against the untrained pipeline.
Writes retrieval_domains.json and retrieval_domains.md to --out (default out/retrieval_domains).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from tqdm import tqdm

import models  # noqa: F401  (offline switches first)
from models.settings import shared_data

DATA = Path(__file__).with_name("data")
HANDBOOK_QUESTIONS = (DATA / "handbook_qa.jsonl", DATA / "handbook_qa_test.jsonl")
UNTRAINED = "best pipeline (untrained)"
CANDIDATES = 100


def handbook_questions() -> list[tuple[str, str]]:
    """(question, file name holding the answer) for every handbook question that names one."""
    found = []
    for path in HANDBOOK_QUESTIONS:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                if item.get("source"):
                    found.append((item["question"], item["source"]))
    return found


def _empty_index(name: str, embeddings: str):
    """A fresh in-memory collection with the query cache off."""
    from rag.knowledge_base import KnowledgeBase

    return KnowledgeBase(collection=f"domains-{name}-{time.time_ns()}", location=":memory:", embeddings=embeddings,
                         query_cache_size=0)


def handbook_index(embeddings: str):
    from rag.knowledge_base import SAMPLE_HANDBOOK

    kb = _empty_index("handbook", embeddings)
    kb.ingest([SAMPLE_HANDBOOK])
    return kb


def pubmed_index(embeddings: str, records):
    from rag.pubmed import index_pubmedqa

    kb = _empty_index("pubmed", embeddings)
    index_pubmedqa(kb, records)
    return kb


def hit_rows(kb, questions: list[tuple[str, str]], rerank: str | None, k: int, matches) -> dict:
    """Per question: hit (a matching chunk in the top k), reciprocal rank in the top 10, seconds."""
    retriever = kb.retriever("hybrid", feedback=True, rerank=rerank, candidates=CANDIDATES)
    rows = []
    for question, target in tqdm(questions, desc=rerank or "untrained", file=sys.stderr, leave=False):
        started = time.perf_counter()
        hits = retriever.retrieve(question, k=10)
        seconds = time.perf_counter() - started
        ranks = [i for i, chunk in enumerate(hits, start=1) if matches(chunk, target)]
        rows.append({"question": question, "hit": bool(ranks and ranks[0] <= k),
                     "rr": 1.0 / ranks[0] if ranks else 0.0, "seconds": seconds})
    return {"hit@k": statistics.mean(r["hit"] for r in rows), "mrr@10": statistics.mean(r["rr"] for r in rows),
            "p50_ms": 1000 * statistics.median(r["seconds"] for r in rows), "items": rows}


def measure(rerankers: list[str], encoders: list[str], pubmed: Path | None, pubmed_queries: int, k: int) -> dict:
    """{collection: {system: row}} for the handbook and (unless `pubmed` is None) PubMedQA."""
    from rag.pubmed import SOURCE_PREFIX, load_pubmedqa

    results = {"handbook": _systems(handbook_index, handbook_questions(), lambda c, name: Path(c.source).name == name,
                                    rerankers, encoders, k)}
    if pubmed is not None:
        records = load_pubmedqa(pubmed)
        results["pubmedqa"] = _systems(lambda embeddings: pubmed_index(embeddings, records),
                                       [(r.question, r.pmid) for r in records[:pubmed_queries]],
                                       lambda c, pmid: c.source == SOURCE_PREFIX + pmid, rerankers, encoders, k)
    return results


def _systems(build, questions, matches, rerankers, encoders, k) -> dict:
    from training.significance import exact_mcnemar

    kb = build("local")
    rows = {UNTRAINED: hit_rows(kb, questions, None, k, matches)}
    for spec in rerankers:
        rows[f"+ {spec}"] = hit_rows(kb, questions, spec, k, matches)
    for spec in encoders:
        rows[f"collection embedded with {spec}"] = hit_rows(build(spec), questions, None, k, matches)
    base = [r["hit"] for r in rows[UNTRAINED]["items"]]
    for name, row in rows.items():
        if name != UNTRAINED:
            row["vs_untrained"] = exact_mcnemar([r["hit"] for r in row["items"]], base)
    return rows


def table(results: dict, k: int) -> str:
    from evals.finetune import p_value

    lines = [f"Hit@{k} (a chunk of the right file or paper among the top {k}) and MRR@10; p: exact McNemar on "
             "per-question hits against the untrained pipeline.", "",
             f"| collection | system | questions | hit@{k} | MRR@10 | better / worse | p | p50 ms |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for collection, rows in results.items():
        for name, row in rows.items():
            test = row.get("vs_untrained")
            paired = f"{test['only_a']} / {test['only_b']}" if test else "-"
            lines.append(f"| {collection} | {name} | {len(row['items'])} | {row['hit@k']:.3f} | {row['mrr@10']:.3f} | "
                         f"{paired} | {p_value(test['p']) if test else '-'} | {row['p50_ms']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.retrieval_domains", description=__doc__.splitlines()[0])
    parser.add_argument("--reranker", action="append", default=[],
                        help="a trained ranker to add (fusion:FOLDER, cross-encoder:FOLDER, ...); repeat for several")
    parser.add_argument("--embeddings", action="append", default=[],
                        help="an encoder spec to re-embed the collections with (hf:FOLDER); repeat for several")
    parser.add_argument("--pubmed", default=str(shared_data() / "pubmedqa_pqal"),
                        help="PubMedQA folder (ori_pqal.json); 'none' skips it")
    parser.add_argument("--pubmed-queries", type=int, default=300, help="questions of the first N papers")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("out/retrieval_domains"))
    args = parser.parse_args(argv)
    pubmed = None if args.pubmed == "none" else Path(args.pubmed)
    try:
        results = measure(args.reranker, args.embeddings, pubmed, args.pubmed_queries, args.k)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "retrieval_domains.json").write_text(json.dumps(
        {"k": args.k, "rerankers": args.reranker, "embeddings": args.embeddings, "results": results}, indent=1))
    markdown = table(results, args.k)
    (args.out / "retrieval_domains.md").write_text(markdown + "\n")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
