"""Train a learned-fusion ranker (`rag.learned_fusion`): logistic-regression weights over the hybrid
pipeline's own signals, learnt from labelled queries. Seconds to train, a few milliseconds a query.

    python -m training.fusion_ranker --data ../shared/data/cranfield --split dev --out out/rankers/cranfield
    HEARTH_RERANKER=fusion:out/rankers/cranfield python -m apps.ask --mode rag_hybrid "..."
    python -m evals.retrieval --data ../shared/data/cranfield --split dev --cv 5 --trained fusion

`--data` takes what `training.reranker` takes (a BEIR folder, a pairs JSONL; see
`training.retrieval_pairs`). For every labelled query the first stage the graphs use (BM25 + dense,
reciprocal rank, one round of dense feedback; 100 candidates) returns candidates; each gets the
feature row of `rag.learned_fusion.FEATURES`, labelled relevant when its grade is above 0. A
standardised logistic regression (scikit-learn) learns one weight per feature. Its regularisation
strength C is chosen by an inner cross-validation over the training queries only (nDCG@10 of the
reordered candidates), so choosing it never looks at a query the model is later scored on.

With `--neighbours` (the default) the model also keeps the labelled queries themselves: a new query
similar to a labelled one lifts the documents judged for it. While training, each query's own
judgements are left out of its neighbour feature (it must learn how far to trust a neighbour, not
to copy its own label).

Writes `fusion.json` (weights, chosen C, inner-CV scores, trained query ids, data fingerprint, time),
`weights.png` (the learnt weight of each feature), and an MLflow run (`--mlruns off` for none).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

import models  # noqa: F401  (offline switches before any hub library loads)
from rag.learned_fusion import FEATURES, MODEL_FILE, NEIGHBOUR_FEATURES, CandidateFeatures, FusionModel, Neighbours, text_key
from training.retrieval_pairs import LabelledPairs, in_memory_index, load_pairs, ndcg_at_k, query_folds

REPO_ROOT = Path(__file__).resolve().parents[1]
C_GRID = (0.003, 0.01, 0.03, 0.1)
MIN_QUERIES = 3


@dataclass
class FusionConfig:
    data: str
    split: str = "dev"
    out: str = ""                 # default out/rankers/<data name>
    embeddings: str = "local"
    candidates: int = 100         # first-stage hits per list, and the candidates reordered
    neighbours: bool = True       # keep the labelled queries as a feature
    inner_folds: int = 4          # inner cross-validation that picks C
    seed: int = 13
    mlruns: str = ""              # MLflow store folder; default $HEARTH_HOME/mlflow; "off" = no logging

    def resolved_out(self) -> Path:
        if self.out:
            return Path(self.out)
        source = Path(self.data)
        return REPO_ROOT / "out" / "rankers" / (source.stem if source.is_file() else source.name)


def first_stage(knowledge_base, candidates: int):
    """The pipeline a fusion model reorders: hybrid + dense feedback, as `rag_hybrid` runs by default."""
    return knowledge_base.retriever("hybrid", feedback=True, candidates=candidates)


def labelled_rows(pairs: LabelledPairs, knowledge_base, candidates: int, neighbours: Neighbours | None,
                  show_bar: bool = True) -> dict:
    """{query id: (feature rows, relevant 0/1 per candidate, candidate doc ids, the query's judgements)}."""
    import numpy as np

    features = CandidateFeatures(knowledge_base)
    retriever = first_stage(knowledge_base, candidates)
    by_key = {text_key(text): doc_id for doc_id, text in pairs.documents.items()}
    order = {q: i for i, q in enumerate(pairs.queries)}
    rows = {}
    for qid, text in tqdm(pairs.queries.items(), desc="features", unit="query", file=sys.stderr, disable=not show_bar):
        hits = retriever.retrieve(text, k=candidates)
        if not hits:
            continue
        matrix = features.rows(text, hits, neighbours, skip=order[qid] if neighbours is not None else None)
        judged = pairs.qrels.get(qid, {})
        ids = [by_key.get(text_key(h.text), h.source) for h in hits]
        labels = np.asarray([judged.get(d, 0) > 0 for d in ids], dtype=int)
        rows[qid] = (matrix, labels, ids, judged)
    return rows


def fit(rows: dict, query_ids: list[str], c: float):
    """A standardised logistic regression on these queries' rows: (mean, scale, weights, bias)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x = np.vstack([rows[q][0] for q in query_ids])
    y = np.concatenate([rows[q][1] for q in query_ids])
    if y.min() == y.max():
        raise ValueError("The first stage found no relevant document (or only relevant ones) for the labelled "
                         "queries: a fusion ranker needs both among the candidates.")
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    model = LogisticRegression(C=c, max_iter=5000).fit((x - scaler.mean_) / scale, y)
    return scaler.mean_.tolist(), scale.tolist(), model.coef_[0].tolist(), float(model.intercept_[0])


def reordered_ndcg(rows: dict, query_ids: list[str], mean, scale, weights, bias) -> float:
    """Mean nDCG@10 of these queries' candidates reordered by the weights (all their judgements count)."""
    import numpy as np

    values = []
    for qid in query_ids:
        matrix, _, ids, judged = rows[qid]
        scores = ((matrix - np.asarray(mean)) / np.asarray(scale)) @ np.asarray(weights) + bias
        values.append(ndcg_at_k([ids[i] for i in np.argsort(-scores, kind="stable")], judged, 10))
    return statistics.mean(values) if values else 0.0


def choose_c(rows: dict, folds: int, seed: int) -> tuple[float, dict]:
    """C with the best mean nDCG@10 over an inner cross-validation of the training queries."""
    ids = [q for q in rows if rows[q][1].any()]
    folds = max(2, min(folds, len(ids) // 2))
    parts = query_folds(ids, folds, seed=seed)
    scores = {}
    for c in C_GRID:
        per_part = []
        for held in parts:
            train = [q for q in ids if q not in set(held)]
            per_part.append(reordered_ndcg(rows, held, *fit(rows, train, c)))
        scores[c] = statistics.mean(per_part)
    best = max(C_GRID, key=lambda c: (scores[c], -c))
    return best, {str(c): round(s, 4) for c, s in scores.items()}


def train_fusion(config: FusionConfig, pairs: LabelledPairs | None = None, knowledge_base=None,
                 show_bar: bool = True) -> Path:
    """Train and save a fusion ranker; returns its folder. `knowledge_base` (holding `pairs`'
    documents, one chunk each) defaults to an in-memory index of them."""
    started = time.perf_counter()
    pairs = pairs if pairs is not None else load_pairs(config.data, config.split)
    knowledge_base = knowledge_base if knowledge_base is not None else in_memory_index(pairs.documents, config.embeddings)
    labelled = [q for q in pairs.queries if any(g > 0 for g in pairs.qrels.get(q, {}).values())]
    if len(labelled) < MIN_QUERIES:
        raise ValueError(f"{len(labelled)} labelled queries: a fusion ranker needs at least {MIN_QUERIES} (queries with "
                         "a relevant document) to learn its weights and choose how strongly to regularise them.")
    pairs = pairs.subset(labelled)
    neighbours = None
    if config.neighbours:
        features = CandidateFeatures(knowledge_base)
        neighbours = Neighbours([features.query_vector(pairs.queries[q]).tolist() for q in pairs.queries],
                                [{text_key(pairs.documents[d]): g for d, g in pairs.qrels[q].items()
                                  if g > 0 and d in pairs.documents} for q in pairs.queries])
    rows = labelled_rows(pairs, knowledge_base, config.candidates, neighbours, show_bar)
    c, inner = choose_c(rows, config.inner_folds, config.seed)
    mean, scale, weights, bias = fit(rows, [q for q in rows], c)
    names = list(FEATURES) + (list(NEIGHBOUR_FEATURES) if neighbours is not None else [])
    seconds = time.perf_counter() - started
    record = {"config": asdict(config), "c": c, "inner_cv_ndcg@10": inner, "data_source": pairs.source,
              "data_fingerprint": pairs.fingerprint(), "trained_query_ids": sorted(rows),
              "candidates": config.candidates, "train_seconds": round(seconds, 1), "steps": 1,
              "train_ndcg@10": round(reordered_ndcg(rows, list(rows), mean, scale, weights, bias), 4),
              "first_stage_ndcg@10": round(statistics.mean(ndcg_at_k(rows[q][2], rows[q][3], 10) for q in rows), 4)}
    out = config.resolved_out()
    model = FusionModel(names, mean, scale, weights, bias, neighbours, record)
    model.save(out)
    plot_weights(names, weights, out / "weights.png")
    _log_run(config, record, out)
    return out


def plot_weights(names: list[str], weights: list[float], path: Path) -> None:
    """One horizontal bar per feature: its weight on standardised values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.28 * len(names) + 1.2))
    ax.barh(names, weights, color=["tab:blue" if w >= 0 else "tab:red" for w in weights])
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("weight (per standard deviation of the feature)")
    ax.set_title("learned fusion: what each signal adds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _log_run(config: FusionConfig, record: dict, out: Path) -> None:
    if config.mlruns == "off":
        return
    import os

    from training.tracking import LiveRun

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    params = {**{k: v for k, v in asdict(config).items() if v not in ("", None)}, "c": record["c"],
              "data_fingerprint": record["data_fingerprint"], "output": str(out)}
    run = LiveRun("hearth-fusion-ranker", out.name, params=params, store=config.mlruns or None)
    for key in ("train_ndcg@10", "first_stage_ndcg@10", "train_seconds"):
        run.log_metric(key.replace("@", "_at_"), record[key], 0)
    for path in (out / MODEL_FILE, out / "weights.png"):
        run.client.log_artifact(run.run_id, str(path))
    run.finish()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.fusion_ranker", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="BEIR folder or pairs JSONL (labelled queries)")
    parser.add_argument("--split", default=FusionConfig.split)
    parser.add_argument("--out", default="", help="output folder (default out/rankers/<data name>)")
    parser.add_argument("--embeddings", default=FusionConfig.embeddings)
    parser.add_argument("--candidates", type=int, default=FusionConfig.candidates)
    parser.add_argument("--no-neighbours", dest="neighbours", action="store_false",
                        help="weights only: do not keep the labelled queries as a feature")
    parser.add_argument("--inner-folds", type=int, default=FusionConfig.inner_folds)
    parser.add_argument("--seed", type=int, default=FusionConfig.seed)
    parser.add_argument("--mlruns", default=FusionConfig.mlruns)
    config = FusionConfig(**vars(parser.parse_args(argv)))
    try:
        out = train_fusion(config)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    record = json.loads((out / MODEL_FILE).read_text())
    print(f"Fusion ranker saved to {out} (C = {record['c']}, {len(record['trained_query_ids'])} queries, "
          f"{record['train_seconds']:.0f} s; nDCG@10 on its training queries {record['first_stage_ndcg@10']:.3f} -> "
          f"{record['train_ndcg@10']:.3f}). Use it with HEARTH_RERANKER=fusion:{out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
