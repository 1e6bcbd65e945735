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

import math
from typing import Mapping, Sequence

# the BEIR reader and nDCG live with the other pair formats (training picks settings by nDCG too)
from training.retrieval_pairs import Gain, dcg, load_beir, ndcg_at_k  # noqa: F401

def recall_at_k(ranked_ids: Sequence[str], relevance: Mapping[str, int], k: int = 100) -> float:
    relevant = {d for d, r in relevance.items() if r > 0}
    return len(relevant & set(ranked_ids[:k])) / len(relevant) if relevant else 0.0


def mrr_at_k(ranked_ids: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    for rank, doc_id in enumerate(ranked_ids[:k], start=1):
        if relevance.get(doc_id, 0) > 0:
            return 1.0 / rank
    return 0.0


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


def paired_tests(per_query: Mapping[str, Mapping[str, float]], baselines: Sequence[str], resamples: int = 10_000,
                 seed: int = 42) -> dict[str, dict[str, dict]]:
    """Paired significance of each system against each baseline on a per-query metric
    (`per_query`: system -> query id -> score, e.g. nDCG@10), over the queries both scored:
    Fisher's randomisation test (the signs of the per-query differences flipped at random;
    Smucker, Allan and Carterette, CIKM 2007, recommend it for IR) and Student's paired t-test,
    both from scipy. Returns {system: {baseline: {"fisher_p", "t_test_p", "delta", "queries"}}}.

    (ranx offers the same tests, but its numba kernels took over 10 minutes to compile on our
    shared 2-core machine, longer than a unit test may run; scipy needs no compilation.)
    """
    import numpy as np
    from scipy import stats

    tests: dict[str, dict[str, dict]] = {}
    for name, scores in per_query.items():
        for baseline in baselines:
            if baseline == name or baseline not in per_query:
                continue
            shared = sorted(set(scores) & set(per_query[baseline]))
            if len(shared) < 2:
                continue
            ours = np.asarray([scores[q] for q in shared], dtype=float)
            theirs = np.asarray([per_query[baseline][q] for q in shared], dtype=float)
            differences = ours - theirs
            if not differences.any():
                fisher, student = 1.0, 1.0
            else:
                fisher = stats.permutation_test((ours, theirs), lambda x, y, axis: np.mean(x - y, axis=axis),
                                                permutation_type="samples", n_resamples=resamples, vectorized=True,
                                                alternative="two-sided", random_state=seed).pvalue
                student = stats.ttest_rel(ours, theirs).pvalue
            tests.setdefault(name, {})[baseline] = {"fisher_p": float(fisher), "t_test_p": float(student),
                                                    "delta": float(differences.mean()), "queries": len(shared)}
    return tests
