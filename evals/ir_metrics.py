"""Ranking metrics and a BEIR-format loader, for retrieval benchmarks.

    corpus, queries, qrels = load_beir("../shared/data/cranfield", split="dev")
    ndcg_at_k(["d3", "d1"], {"d1": 2, "d3": 1}, k=10)

nDCG (Järvelin and Kekäläinen, 2002) uses a log2(rank + 1) discount and, by default, the grade
itself as the gain: that is what trec_eval's `ndcg_cut.10` computes, and so what BEIR (through
pytrec_eval) and the figures quoted in issue 3 report. `gain="exponential"` gives the 2^rel - 1
form (Burges et al., 2005) that some toolkits use; on graded data such as Cranfield (grades 1-4)
the two differ by a few points, so always say which one a number is.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Literal, Mapping, Sequence

Gain = Literal["linear", "exponential"]


def dcg(grades: Sequence[float], gain: Gain = "linear") -> float:
    """Discounted cumulative gain: sum of gain(grade) / log2(rank + 1).

    >>> round(dcg([3, 1]), 4), round(dcg([3, 1], gain="exponential"), 4)
    (3.6309, 7.6309)
    """
    if gain not in ("linear", "exponential"):
        raise ValueError(f"Unknown gain {gain!r}: use 'linear' (trec_eval, BEIR) or 'exponential' (2^rel - 1).")
    value = (lambda g: g) if gain == "linear" else (lambda g: 2 ** g - 1)
    return sum(value(g) / math.log2(i + 2) for i, g in enumerate(grades))


def ndcg_at_k(ranked_ids: Sequence[str], relevance: Mapping[str, int], k: int = 10, gain: Gain = "linear") -> float:
    """Normalised discounted cumulative gain of the first k ids.

    >>> round(ndcg_at_k(["a", "b"], {"b": 1}, k=10), 4)
    0.6309
    >>> round(ndcg_at_k(["a", "b"], {"a": 1, "b": 2}), 3), round(ndcg_at_k(["a", "b"], {"a": 1, "b": 2}, gain="exponential"), 3)
    (0.86, 0.797)
    """
    ideal = dcg(sorted(relevance.values(), reverse=True)[:k], gain)
    if ideal == 0:
        return 0.0
    return dcg([relevance.get(doc_id, 0) for doc_id in ranked_ids[:k]], gain) / ideal


def recall_at_k(ranked_ids: Sequence[str], relevance: Mapping[str, int], k: int = 100) -> float:
    relevant = {d for d, r in relevance.items() if r > 0}
    return len(relevant & set(ranked_ids[:k])) / len(relevant) if relevant else 0.0


def mrr_at_k(ranked_ids: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    for rank, doc_id in enumerate(ranked_ids[:k], start=1):
        if relevance.get(doc_id, 0) > 0:
            return 1.0 / rank
    return 0.0


def load_beir(folder: str | Path, split: str = "test"):
    """(corpus {id: {"title", "text"}}, queries {id: text}, qrels {query id: {doc id: grade}})
    from a BEIR folder: corpus.jsonl, queries.jsonl or queries.<split>.jsonl, qrels/<split>.tsv."""
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise FileNotFoundError(f"No {qrels_path}: is {folder} a BEIR folder, and does it have the '{split}' split?")
    corpus = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                corpus[str(row["_id"])] = {"title": row.get("title", ""), "text": row.get("text", "")}
    queries_path = folder / f"queries.{split}.jsonl"
    if not queries_path.is_file():
        queries_path = folder / "queries.jsonl"
    queries = {}
    with open(queries_path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                queries[str(row["_id"])] = row["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path, encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader)
        if header[0].isdigit():  # no header row
            reader = iter([header, *reader])
        for query_id, doc_id, grade in reader:
            qrels.setdefault(query_id, {})[doc_id] = int(grade)
    queries = {q: text for q, text in queries.items() if q in qrels}
    return corpus, queries, qrels


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank q-quantile (0 <= q <= 1) of `values`; 0.0 for none. One definition for
    every benchmark's p50/p95.

    >>> percentile([4.0, 1.0, 3.0, 2.0], 0.5), percentile([4.0, 1.0, 3.0, 2.0], 0.95), percentile([], 0.5)
    (2.0, 4.0, 0.0)
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1 if q > 0 else 0)]


def paired_tests(qrels: Mapping[str, Mapping[str, int]], rankings: Mapping[str, Mapping[str, Sequence[str]]],
                 baselines: Sequence[str], metric: str = "ndcg@10", seed: int = 42) -> dict[str, dict[str, dict]]:
    """Paired significance of each system against each baseline on per-query `metric`, with ranx:
    Fisher's randomisation test and Student's paired t-test (Smucker, Allan and Carterette, 2007,
    recommend the first for IR). `rankings`: system -> query id -> ranked doc ids; only queries
    every system ranked are compared. Returns {system: {baseline: {"fisher_p", "t_test_p", "delta"}}}.
    ranx's ndcg uses linear gains, as ndcg_at_k does."""
    from ranx import Qrels, Run, compare

    shared = set(qrels)
    for ranked in rankings.values():
        shared &= set(ranked)
    shared = sorted(shared)
    present = [b for b in baselines if b in rankings]
    if len(shared) < 2 or not present or len(rankings) < 2:
        return {}
    judged = Qrels({q: {d: int(g) for d, g in qrels[q].items()} for q in shared})
    runs = []
    for name, ranked in rankings.items():
        run = Run({q: {d: float(len(ranked[q]) - i) for i, d in enumerate(ranked[q])} or {"-": 0.0} for q in shared},
                  name=name)
        runs.append(run)
    tests: dict[str, dict[str, dict]] = {}
    reports = {}
    for stat_test in ("fisher", "student"):
        reports[stat_test] = compare(judged, runs=runs, metrics=[metric], stat_test=stat_test, max_p=0.05,
                                     random_seed=seed, make_comparable=True).to_dict()
    for name in rankings:
        for baseline in present:
            if baseline == name:
                continue
            fisher, student = reports["fisher"][name], reports["student"][name]
            tests.setdefault(name, {})[baseline] = {
                "fisher_p": float(fisher["comparisons"][baseline][metric]),
                "t_test_p": float(student["comparisons"][baseline][metric]),
                "delta": float(fisher["scores"][metric]) - float(reports["fisher"][baseline]["scores"][metric]),
                "queries": len(shared)}
    return tests
