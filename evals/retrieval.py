"""Retrieval benchmark on any BEIR-format data set: our retrievers side by side with
LlamaIndex's hybrid stack, same bundled embeddings, same run.

    python -m evals.retrieval --data ../shared/data/cranfield --split dev
    python -m evals.retrieval --data ../shared/data/cranfield --split dev --skip-llamaindex --out out/retrieval
    python -m evals.retrieval --data ../shared/data/cranfield --split dev --query-encoder out/query_encoders/cranfield

Reports nDCG@10 (graded, linear gains as trec_eval/BEIR; the 2^rel - 1 form too), Recall@100 and
MRR@10 per system, query latency p50/p95 and its ratio to LlamaIndex's, index build time, and
ingestion throughput as a share of the raw embedding model's throughput. Writes retrieval.json,
retrieval.md and retrieval.png (nDCG@10 against latency) to --out (default out/retrieval).
`--limit 20` evaluates the first 20 queries.
`--query-encoder FOLDER` adds rows whose queries go through a static query encoder distilled from
the embedding model (`training.query_distill`; distilled from the corpus in the run, and timed,
when FOLDER holds none) while documents keep the model's vectors.

Every row carries a paired significance test (Fisher's randomisation test and Student's paired
t-test on per-query nDCG@10, scipy) against the best untrained pipeline and against LlamaIndex's
stack, so a difference of 0.02 says whether it is more than noise.

Trained rows, cross-validated (`--cv 5`): the labelled queries are dealt into 5 folds; for each
fold the models named by `--trained` are trained on the other 4 and score only this fold's queries
(each model's record of the queries it trained on is checked against the queries it scores):
`rerank` (cross-encoder, `training.reranker`), `encoder` (whole bi-encoder fine-tuned, corpus
re-embedded per fold, `training.embedding_finetune`), `both`, `query` (query side tuned against
the stored document vectors: nothing re-embedded), and `fusion` / `fusion-weights` (learned weights
over the pipeline's own signals, with / without the labelled queries as neighbours,
`training.fusion_ranker`; seconds to train). The table reports each row's
nDCG@10 per fold, mean and spread over folds, and the paired tests over all queries, each scored
by models that never saw it:

    python -m evals.retrieval --data ../shared/data/cranfield --split dev --cv 5 --trained query,rerank --train-minutes 2
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
import os
import statistics
import sys
import time
from pathlib import Path

from tqdm import tqdm

import models  # noqa: F401  (offline switches first)
from evals.ir_metrics import load_beir, mrr_at_k, ndcg_at_k, paired_tests, percentile, recall_at_k
from models.settings import shared_data
from rag.store import ScoredChunk

DEFAULT_DATA = shared_data() / "cranfield"
BEST_CANDIDATES = 100  # the best pipeline: hybrid RRF + dense feedback (graphs/rag_hybrid's default)
BEST_PIPELINE = "best pipeline: hybrid RRF + dense feedback"
PEER = "LlamaIndex hybrid (QueryFusionRetriever, RRF)"
RERANK_CANDIDATES = 50


def document_text(doc: dict) -> str:
    from training.retrieval_pairs import passage_text

    return passage_text(doc.get("title", ""), doc.get("text", ""))


def evaluate(name: str, search, queries: dict, qrels: dict, build_s: float | None = None) -> dict:
    """search(query text) -> ranked doc ids; metrics averaged over queries. The row keeps each
    query's ranking under "rankings" (for paired tests) and its latency under "latencies"."""
    rankings, latencies = {}, {}
    for query_id, text in tqdm(queries.items(), desc=name, file=sys.stderr, leave=False):
        started = time.perf_counter()
        rankings[query_id] = search(text)
        latencies[query_id] = time.perf_counter() - started
    return score_rankings(name, rankings, latencies, qrels, build_s)


def score_rankings(name: str, rankings: dict, latencies: dict, qrels: dict, build_s: float | None = None) -> dict:
    """A table row from per-query rankings: nDCG@10 (linear and exponential gains), Recall@100,
    MRR@10, latency p50/p95."""
    ids = list(rankings)
    ndcg = [ndcg_at_k(rankings[q], qrels[q], 10) for q in ids]
    seconds = [latencies[q] for q in ids]
    return {"system": name, "queries": len(ids), "ndcg@10": statistics.mean(ndcg),
            "ndcg@10_exp": statistics.mean(ndcg_at_k(rankings[q], qrels[q], 10, gain="exponential") for q in ids),
            "recall@100": statistics.mean(recall_at_k(rankings[q], qrels[q], 100) for q in ids),
            "mrr@10": statistics.mean(mrr_at_k(rankings[q], qrels[q], 10) for q in ids),
            "p50_ms": 1000 * percentile(seconds, 0.5), "p95_ms": 1000 * percentile(seconds, 0.95), "build_s": build_s,
            "per_query_ndcg@10": dict(zip(ids, ndcg)), "rankings": rankings}


def our_systems(corpus: dict, embeddings_spec: str, reranker_spec: str | None = None,
                query_encoder: str | None = None, data: str = "") -> tuple[dict, dict]:
    """{name: (retriever, index build seconds)} over one in-memory KnowledgeBase, the path the
    graphs use (`KnowledgeBase.retriever(mode, rerank=...)`), and the build figures."""
    from models.embeddings import embedding_dimension
    from rag.knowledge_base import KnowledgeBase
    from rag.retrievers import BM25Retriever, DenseRetriever, FusionRetriever

    ids = list(corpus)
    texts = [document_text(corpus[i]) for i in ids]
    chunks = [ScoredChunk(text=t, source=i, chunk_index=0, score=0.0) for i, t in zip(ids, texts)]
    kb = KnowledgeBase(collection=f"bench-{int(time.time())}", location=":memory:", embeddings=embeddings_spec,
                       query_cache_size=0)  # no query cache: every system embeds every query
    embeddings = kb.embeddings
    embeddings.embed_documents(texts[:32])  # warm-up: load the model outside the timings
    embedding_dimension(embeddings)

    started = time.perf_counter()
    vectors = embeddings.embed_documents(texts)
    raw_seconds = time.perf_counter() - started

    started = time.perf_counter()  # the same vectors: embedding the corpus once is minutes on a busy CPU
    kb.store.upsert_chunks(chunks, vectors)
    ingest_seconds = raw_seconds + time.perf_counter() - started

    started = time.perf_counter()
    bm25 = kb.bm25_index()  # with the in-memory vector matrix, read back from Qdrant
    bm25_seconds = time.perf_counter() - started
    started = time.perf_counter()
    rank_bm25 = BM25Retriever(chunks, backend="rank_bm25")
    rank_bm25_seconds = time.perf_counter() - started
    del bm25

    hybrid_build = ingest_seconds + bm25_seconds
    build: dict = {}
    systems = {
        "bm25 (bm25s)": (kb.retriever("bm25"), bm25_seconds),
        "bm25 (rank_bm25)": (rank_bm25, rank_bm25_seconds),
        # the same vectors searched by Qdrant local mode itself, for its latency
        "dense (MiniLM, Qdrant local-mode search)": (DenseRetriever(kb.embed_query, kb.store.search), ingest_seconds),
        "dense (MiniLM, KnowledgeBase search)": (kb.retriever("dense"), ingest_seconds),
        "hybrid RRF": (kb.retriever("hybrid", candidates=100), hybrid_build),
        "hybrid relative score": (FusionRetriever([kb.retriever("bm25"), kb.retriever("dense")], mode="relative_score",
                                                  candidates=100), hybrid_build),
        BEST_PIPELINE: (kb.retriever("hybrid", feedback=True, candidates=BEST_CANDIDATES),
                                                       hybrid_build),
    }
    if query_encoder:
        fast_kb, distill_seconds = _with_static_queries(kb, query_encoder, data, embeddings_spec)
        build["query_encoder"], build["query_encoder_distill_s"] = query_encoder, distill_seconds
        systems["dense (static query encoder)"] = (fast_kb.retriever("dense"), ingest_seconds + distill_seconds)
        systems["hybrid RRF (static query encoder)"] = (fast_kb.retriever("hybrid", candidates=100),
                                                        hybrid_build + distill_seconds)
        systems["best pipeline, static query encoder"] = (
            fast_kb.retriever("hybrid", feedback=True, candidates=BEST_CANDIDATES), hybrid_build + distill_seconds)
    build.update({"documents": len(ids), "raw_embedding_s": raw_seconds, "ingest_s": ingest_seconds,
             "ingest_vs_raw_throughput": raw_seconds / ingest_seconds, "bm25_index_s": bm25_seconds,
             "rank_bm25_index_s": rank_bm25_seconds})
    if reranker_spec:
        from rag.rerank import load_reranker

        try:
            reranker = load_reranker(reranker_spec)
            started = time.perf_counter()
            if hasattr(reranker, "warm"):  # embed the collection once, as at ingestion
                reranker.warm(texts)
            warm_seconds = time.perf_counter() - started
        except Exception as exc:  # noqa: BLE001 - a missing optional model is a row we cannot show, not a crash
            print(f"Reranker {reranker_spec!r} unavailable, rows skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
        else:
            build["reranker_index_s"] = warm_seconds
            systems[f"hybrid RRF + {reranker_spec} rerank (top {RERANK_CANDIDATES})"] = (
                kb.retriever("hybrid", rerank=reranker, candidates=RERANK_CANDIDATES), hybrid_build + warm_seconds)
            systems[f"hybrid RRF + dense feedback + {reranker_spec} rerank (top {RERANK_CANDIDATES})"] = (
                kb.retriever("hybrid", feedback=True, rerank=reranker, candidates=RERANK_CANDIDATES),
                hybrid_build + warm_seconds)
    return systems, build, kb


def _with_static_queries(kb, folder: str, data: str, embeddings_spec: str):
    """A view of `kb` (same stored vectors and BM25) whose queries go through the static query
    encoder at `folder`, distilled from the corpus first (timed) when the folder holds none."""
    import copy

    from models.embeddings import STUDENT_FILE, QueryDistilledEmbeddings
    from training.query_distill import DistillConfig, distill

    seconds = 0.0
    if not (Path(folder) / STUDENT_FILE).is_file():
        started = time.perf_counter()
        distill(DistillConfig(corpus=str(Path(data) / "corpus.jsonl"), out=folder, teacher=embeddings_spec))
        seconds = time.perf_counter() - started
    view = copy.copy(kb)
    view.__dict__["embeddings"] = QueryDistilledEmbeddings(teacher=kb.embeddings, student_folder=folder)
    view._query_vectors = {}
    return view, seconds


def llamaindex_system(corpus: dict):
    """LlamaIndex's own hybrid stack: VectorStoreIndex + BM25Retriever + QueryFusionRetriever
    (reciprocal rank, one query), on the same bundled MiniLM."""
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.retrievers.bm25 import BM25Retriever as LlamaBM25

    from models.bundled import minilm_folder

    Settings.llm = MockLLM()
    Settings.embed_model = HuggingFaceEmbedding(model_name=str(minilm_folder()), device="cpu")
    started = time.perf_counter()
    documents = [Document(text=document_text(doc), doc_id=doc_id, metadata={"doc_id": doc_id},
                          excluded_embed_metadata_keys=["doc_id"], excluded_llm_metadata_keys=["doc_id"])
                 for doc_id, doc in corpus.items()]
    nodes = SentenceSplitter(chunk_size=1024).get_nodes_from_documents(documents)
    index = VectorStoreIndex(nodes)
    vector = index.as_retriever(similarity_top_k=100)
    bm25 = LlamaBM25.from_defaults(nodes=nodes, similarity_top_k=100)
    fusion = QueryFusionRetriever([vector, bm25], similarity_top_k=100, num_queries=1, mode="reciprocal_rerank",
                                  use_async=False, llm=MockLLM())
    build_seconds = time.perf_counter() - started

    def search(query: str) -> list[str]:
        seen, ranked = set(), []
        for hit in fusion.retrieve(query):
            doc_id = hit.node.metadata["doc_id"]
            if doc_id not in seen:
                seen.add(doc_id)
                ranked.append(doc_id)
        return ranked

    return search, build_seconds


TRAINED_RERANK = "best pipeline + trained cross-encoder"
TRAINED_ENCODER = "best pipeline, fine-tuned bi-encoder"
TRAINED_BOTH = "best pipeline, fine-tuned bi-encoder + trained cross-encoder"
TRAINED_QUERY = "best pipeline, query encoder tuned (documents keep MiniLM vectors)"
TRAINED_FUSION = "best pipeline + learned fusion (weights + labelled neighbours)"
TRAINED_FUSION_WEIGHTS = "best pipeline + learned fusion (weights only)"
TRAINED_ROWS = {"rerank": TRAINED_RERANK, "encoder": TRAINED_ENCODER, "both": TRAINED_BOTH, "query": TRAINED_QUERY,
                "fusion": TRAINED_FUSION, "fusion-weights": TRAINED_FUSION_WEIGHTS}


@dataclass
class CVSettings:
    """What the cross-validated rows train and how much CPU they get (a busy 2-core machine shapes the defaults)."""

    folds: int = 5
    minutes: float = 3.0            # training budget per model per fold
    rows: tuple = ("rerank", "encoder")
    rerank_top: int = 20            # candidates the trained cross-encoder rescores
    reranker_layers: int = 3        # transformer layers kept in the cross-encoder (of MiniLM's 6)
    reranker_length: int = 128      # query + document tokens
    reranker_base: str = "local"    # where each fold's cross-encoder starts: the bundled MiniLM or hf:FOLDER
    first_stage_weight: float = 1.0  # the reranker's order fused with the first stage's by reciprocal rank
    query_epochs: int = 8           # query-side tuning is cheap: short texts against fixed document vectors
    seed: int = 13
    threads: int = 0


class TrainedOnQueryError(RuntimeError):
    """A trained model was about to be scored on a query it trained on."""


def check_held_out(model_folder: str | Path, query_ids) -> None:
    """Refuse to score `query_ids` with the model in `model_folder` if its training record
    (`reranker.json` / `finetune.json` / `fusion.json`, "trained_query_ids") names any of them."""
    folder = Path(model_folder)
    records = [folder / name for name in ("reranker.json", "finetune.json", "fusion.json") if (folder / name).is_file()]
    if not records:
        raise TrainedOnQueryError(f"{folder} has no training record: cannot prove it never saw the scored queries.")
    for record in records:
        seen = set(json.loads(record.read_text()).get("trained_query_ids", []))
        overlap = sorted(seen & set(query_ids))
        if overlap:
            raise TrainedOnQueryError(f"{folder} was trained on {len(overlap)} of the queries it would score "
                                      f"({', '.join(overlap[:5])}...): cross-validation must score held-out queries only.")


def cross_validate(pairs, folds: int, train_fold, score_fold, seed: int = 13) -> tuple[dict, list[list[str]]]:
    """Deal the labelled queries into `folds` parts; for each part, `train_fold(train_pairs, i)`
    returns the trained model folders, each checked (check_held_out) against the part's queries,
    then `score_fold(folders, query_ids)` returns {system: {query id: (ranked ids, seconds)}}.
    Returns every system's per-query results over all parts, and the parts."""
    from training.retrieval_pairs import query_folds

    parts = query_folds(pairs.queries, folds, seed=seed)
    results: dict[str, dict] = {}
    for index, held_out in enumerate(parts):
        training = [q for part in parts if part is not held_out for q in part]
        folders = train_fold(pairs.subset(training), index)
        for folder in folders.values():
            check_held_out(folder, held_out)
        for system, scored in score_fold(folders, held_out).items():
            if set(scored) - set(held_out):
                raise TrainedOnQueryError(f"{system} scored queries outside fold {index + 1}.")
            results.setdefault(system, {}).update(scored)
    return results, parts


def trained_systems(kb, pairs, settings: CVSettings, out: Path) -> tuple[dict, list[list[str]], dict]:
    """Cross-validated rankings of the trained rows: a reranker and/or a bi-encoder trained per fold
    on the other folds' queries (negatives mined by `kb`'s untrained hybrid first stage)."""
    from rag.knowledge_base import KnowledgeBase
    from rag.rerank import CrossEncoderReranker
    from training.embedding_finetune import FinetuneConfig, finetune_embeddings
    from training.fusion_ranker import FusionConfig, train_fusion
    from training.reranker import RerankerConfig, train_reranker

    first_stage = kb.retriever("hybrid", candidates=100)
    texts = pairs.documents
    need_reranker = {"rerank", "both"} & set(settings.rows)
    need_encoder = {"encoder", "both"} & set(settings.rows)
    need_query = "query" in settings.rows
    fusion_rows = {"fusion": True, "fusion-weights": False}  # row -> keeps the labelled queries as neighbours
    need_fusion = [row for row in fusion_rows if row in settings.rows]
    times: dict = {"reranker_train_s": [], "encoder_train_s": [], "reranker_steps": [], "encoder_steps": [],
                   "query_train_s": [], "query_steps": [], "reindex_s": [], "fusion_train_s": [], "fusion_c": [],
                   "settings": settings.__dict__ | {"rows": list(settings.rows)}}
    stored = {c.source: v for c, v in kb.store.iter_chunks_with_vectors()} if need_query else None

    current = {"fold": 0}

    def train_fold(training, index: int) -> dict:
        current["fold"] = index + 1
        fold, folders = out / "cv" / f"fold{index + 1}", {}
        common = {"data": "(cv fold)", "max_minutes": settings.minutes, "seed": settings.seed,
                  "threads": settings.threads, "mlruns": "off"}  # the standalone commands log to MLflow
        if need_reranker:
            folders["reranker"] = train_reranker(RerankerConfig(
                out=str(fold / "reranker"), base=settings.reranker_base, layers=settings.reranker_layers,
                max_length=settings.reranker_length,
                first_stage_weight=settings.first_stage_weight, **common), pairs=training, first_stage=first_stage)
        if need_encoder:
            folders["encoder"] = finetune_embeddings(FinetuneConfig(out=str(fold / "encoder"), **common),
                                                     pairs=training, first_stage=first_stage)
        if need_query:
            folders["query"] = finetune_embeddings(FinetuneConfig(out=str(fold / "query_encoder"), queries_only=True,
                                                                  epochs=settings.query_epochs, **common),
                                                   pairs=training, document_vectors=stored)
        for row in need_fusion:
            folders[row] = train_fusion(FusionConfig(data="(cv fold)", out=str(fold / row), neighbours=fusion_rows[row],
                                                     seed=settings.seed, mlruns="off"),
                                        pairs=training, knowledge_base=kb, show_bar=False)
            meta = json.loads((folders[row] / "fusion.json").read_text())
            times["fusion_train_s"].append(meta["train_seconds"])
            times["fusion_c"].append(meta["c"])
        for key, name in (("reranker", "reranker.json"), ("encoder", "finetune.json"), ("query", "finetune.json")):
            if key in folders:
                meta = json.loads((folders[key] / name).read_text())
                times[f"{key}_train_s"].append(meta["train_seconds"])
                times[f"{key}_steps"].append(meta["steps"])
        return folders

    def score_fold(folders: dict, held_out: list[str]) -> dict:
        systems = {}
        if "reranker" in folders:
            reranker = CrossEncoderReranker(folders["reranker"])
            systems[TRAINED_RERANK] = kb.retriever("hybrid", feedback=True, rerank=reranker, candidates=settings.rerank_top)
        if "encoder" in folders:
            started = time.perf_counter()
            tuned = KnowledgeBase(collection=f"cv-{time.time_ns()}", location=":memory:",
                                  embeddings=f"hf:{folders['encoder']}", query_cache_size=0)
            ids = list(texts)
            tuned.store.upsert_chunks([ScoredChunk(text=texts[i], source=i, chunk_index=0, score=0.0) for i in ids],
                                      tuned.embeddings.embed_documents([texts[i] for i in ids]))
            times["reindex_s"].append(round(time.perf_counter() - started, 1))
            if "encoder" in settings.rows:
                systems[TRAINED_ENCODER] = tuned.retriever("hybrid", feedback=True, candidates=BEST_CANDIDATES)
            if "both" in settings.rows:
                systems[TRAINED_BOTH] = tuned.retriever("hybrid", feedback=True, rerank=reranker,
                                                        candidates=settings.rerank_top)
        if "query" in folders:
            import copy

            from training.embedding_finetune import QueryTunedEmbeddings

            view = copy.copy(kb)  # the same stored vectors and BM25; queries through the tuned encoder
            view.__dict__["embeddings"] = QueryTunedEmbeddings(kb.embeddings, folders["query"])
            view._query_vectors = {}
            systems[TRAINED_QUERY] = view.retriever("hybrid", feedback=True, candidates=BEST_CANDIDATES)
        for row in need_fusion:
            systems[TRAINED_ROWS[row]] = kb.retriever("hybrid", feedback=True, rerank=f"fusion:{folders[row]}",
                                                      candidates=BEST_CANDIDATES)
        scored = {}
        for name, retriever in systems.items():
            scored[name] = {}
            for qid in tqdm(held_out, desc=name, file=sys.stderr, leave=False):
                began = time.perf_counter()
                ranked = [h.source for h in retriever.retrieve(pairs.queries[qid], k=100)]
                scored[name][qid] = (ranked, time.perf_counter() - began)
        fold = out / "cv" / f"fold{current['fold']}"
        fold.mkdir(parents=True, exist_ok=True)  # kept per fold, so a long run that is stopped still shows its folds
        (fold / "scored.json").write_text(json.dumps({name: {q: {"ndcg@10": ndcg_at_k(r, pairs.qrels[q], 10),
                                                                "ranked": r[:20]} for q, (r, _) in by_query.items()}
                                                      for name, by_query in scored.items()}))
        return scored

    results, parts = cross_validate(pairs, settings.folds, train_fold, score_fold, seed=settings.seed)
    return results, parts, times


def fold_summary(row: dict, parts: list[list[str]]) -> dict:
    """nDCG@10 per fold (each fold's queries), their mean and standard deviation."""
    per_query = row["per_query_ndcg@10"]
    per_fold = [statistics.mean(per_query[q] for q in part if q in per_query) for part in parts]
    return {"folds": per_fold, "mean": statistics.mean(per_fold), "std": statistics.stdev(per_fold) if len(per_fold) > 1 else 0.0}


def cv_table(rows: list[dict], parts: list[list[str]], tests: dict, times: dict) -> str:
    heads = " | ".join(f"fold {i + 1}" for i in range(len(parts)))
    lines = [f"{len(parts)}-fold cross-validation over {sum(len(p) for p in parts)} labelled queries "
             f"(fold sizes {', '.join(str(len(p)) for p in parts)}). Trained rows: models trained on the other "
             f"folds, scored on this fold only. nDCG@10 (linear gains); p-values are paired over all queries "
             f"(Fisher randomisation / Student t) against the best untrained pipeline and against LlamaIndex.", "",
             f"| system | {heads} | mean | std | all queries | Δ vs best | p vs best (Fisher / t) | p vs LlamaIndex (Fisher / t) | p50 ms |",
             "|---|" + "---:|" * (len(parts) + 8)]
    for row in rows:
        summary = row["cv"]
        folds = " | ".join(f"{v:.3f}" for v in summary["folds"])
        vs = tests.get(row["system"], {})

        def p(name):
            t = vs.get(name)
            return f"{t['fisher_p']:.3g} / {t['t_test_p']:.3g}" if t else "-"

        delta = f"{vs[BEST_PIPELINE]['delta']:+.3f}" if BEST_PIPELINE in vs else "-"
        lines.append(f"| {row['system']} | {folds} | {summary['mean']:.3f} | {summary['std']:.3f} | {row['ndcg@10']:.3f} | "
                     f"{delta} | {p(BEST_PIPELINE)} | {p(PEER)} | {row['p50_ms']:.1f} |")
    settings = times.get("settings", {})
    lines += ["", f"Training per fold, budget {settings.get('minutes', 0):g} min per model: "
              f"reranker {', '.join(f'{s:.0f}' for s in times['reranker_train_s']) or '-'} s "
              f"({', '.join(str(s) for s in times['reranker_steps']) or '-'} steps from {settings.get('reranker_base')}; "
              f"{settings.get('reranker_layers')} of 6 MiniLM layers, {settings.get('reranker_length')} tokens, rescoring the top "
              f"{settings.get('rerank_top')}, fused with the first stage at weight {settings.get('first_stage_weight')}); "
              f"bi-encoder {', '.join(f'{s:.0f}' for s in times['encoder_train_s']) or '-'} s "
              f"({', '.join(str(s) for s in times['encoder_steps']) or '-'} steps); re-embedding the corpus with the "
              f"fine-tuned model {', '.join(f'{s:.0f}' for s in times['reindex_s']) or '-'} s; query-side tuning "
              f"{', '.join(f'{s:.0f}' for s in times.get('query_train_s', [])) or '-'} s "
              f"({', '.join(str(s) for s in times.get('query_steps', [])) or '-'} steps, "
              f"up to {settings.get('query_epochs')} epochs); learned fusion "
              f"{', '.join(f'{s:.0f}' for s in times.get('fusion_train_s', [])) or '-'} s "
              f"(C chosen by inner CV on each fold's training queries: {', '.join(str(c) for c in times.get('fusion_c', [])) or '-'})."]
    return "\n".join(lines)


def table(rows: list[dict], build: dict, peer_build: float | None, data: str) -> str:
    peer = next((r for r in rows if r["system"].startswith("LlamaIndex")), None)
    lines = [f"Retrieval on `{data}` ({build['documents']} documents). nDCG@10 with linear gains (trec_eval / BEIR); "
             "exp = 2^rel - 1 gains. Latency per query (k = 100), ratio = p50 / LlamaIndex p50 in the same run.", "",
             "p = paired Fisher randomisation test on per-query nDCG@10 (ranx) against the best pipeline / LlamaIndex.", "",
             "| system | nDCG@10 | nDCG@10 exp | Recall@100 | MRR@10 | p vs best | p vs LlamaIndex | p50 ms | p95 ms | "
             "p50 vs LlamaIndex | build s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = f"{r['p50_ms'] / peer['p50_ms']:.2f}" if peer and peer["p50_ms"] > 0 else "-"
        built = f"{r['build_s']:.1f}" if r.get("build_s") is not None else "-"
        tests = r.get("significance", {})
        p_best, p_peer = (f"{tests[b]['fisher_p']:.3g}" if b in tests else "-" for b in (BEST_PIPELINE, PEER))
        lines.append(f"| {r['system']} | {r['ndcg@10']:.3f} | {r['ndcg@10_exp']:.3f} | {r['recall@100']:.3f} | "
                     f"{r['mrr@10']:.3f} | {p_best} | {p_peer} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {ratio} | {built} |")
    lines += ["", f"Ingestion (raw embedding + Qdrant upsert) {build['ingest_s']:.1f} s vs raw embedding {build['raw_embedding_s']:.1f} s: "
              f"{build['ingest_vs_raw_throughput']:.2f} of raw throughput; BM25 index {build['bm25_index_s']:.2f} s "
              f"(rank_bm25 {build['rank_bm25_index_s']:.2f} s)."]
    if build.get("query_encoder"):
        lines.append(f"Static query encoder `{build['query_encoder']}`: distilled in this run in "
                     f"{build['query_encoder_distill_s']:.1f} s (0 = reused)." )
    if "reranker_index_s" in build:
        lines.append(f"Reranker document vectors (second model over the collection): {build['reranker_index_s']:.1f} s.")
    if peer_build is not None:
        lines.append(f"LlamaIndex stack build (split, embed, index, BM25): {peer_build:.1f} s.")
    if "load_average" in build:
        lines.append(f"Machine load average at start / end: {build['load_average']}.")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """nDCG@10 against median query latency (log scale), one labelled point per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for row in rows:
        peer = row["system"].startswith("LlamaIndex")
        ax.scatter(max(row["p50_ms"], 0.01), row["ndcg@10"], s=60, marker="s" if peer else "o",
                   color="tab:red" if peer else "tab:blue")
        ax.annotate(row["system"], (max(row["p50_ms"], 0.01), row["ndcg@10"]), fontsize=7,
                    xytext=(5, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("median query latency, ms (log scale)")
    ax.set_ylabel("nDCG@10")
    ax.set_title("Retrieval quality against query latency (same run, same embeddings)")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.retrieval", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help="a BEIR folder (corpus.jsonl, queries*.jsonl, qrels/); default ../shared/data/cranfield")
    parser.add_argument("--split", default="dev", help="the qrels split to score (default dev: Cranfield ships dev only)")
    parser.add_argument("--embeddings", default="local")
    parser.add_argument("--reranker", default="", help="add hybrid + rerank rows with this reranker spec "
                        "(e5-small, cross-encoder:FOLDER, embeddings:SPEC)")
    parser.add_argument("--query-encoder", default="", help="add rows whose queries use the static query encoder in "
                        "this folder (distilled from the corpus first, timed, if the folder has none)")
    parser.add_argument("--cv", type=int, default=0, help="add trained rows, cross-validated over this many folds of "
                        "the labelled queries (a reranker and a bi-encoder trained per fold)")
    parser.add_argument("--train-minutes", type=float, default=CVSettings.minutes,
                        help="--cv: training budget per model per fold")
    parser.add_argument("--trained", default=",".join(CVSettings.rows),
                        help="--cv: trained rows, any of rerank,encoder,both,query,fusion,fusion-weights (query = "
                        "query-side tuning, no re-index; fusion = learned weights over the pipeline's own signals)")
    parser.add_argument("--rerank-top", type=int, default=CVSettings.rerank_top,
                        help="--cv: candidates the trained cross-encoder rescores")
    parser.add_argument("--reranker-layers", type=int, default=CVSettings.reranker_layers,
                        help="--cv: MiniLM layers kept in the cross-encoder (1-6; fewer = faster)")
    parser.add_argument("--reranker-base", default=CVSettings.reranker_base,
                        help="--cv: where each fold's cross-encoder starts: 'local' (the bundled MiniLM) or hf:FOLDER "
                        "(e.g. one trained on other labelled pairs)")
    parser.add_argument("--first-stage-weight", type=float, default=CVSettings.first_stage_weight,
                        help="--cv: weight of the first stage's order fused with the reranker's (0 = reranker only)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads for training (0 = torch's default)")
    parser.add_argument("--seed", type=int, default=13, help="--cv: how queries are dealt into folds, and training seeds")
    parser.add_argument("--limit", type=int, default=0, help="evaluate only the first N queries (quick runs)")
    parser.add_argument("--skip-llamaindex", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("out/retrieval"))
    args = parser.parse_args(argv)

    try:
        corpus, queries, qrels = load_beir(args.data, args.split)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.limit:
        queries = dict(list(queries.items())[:args.limit])
    load_start = _load_average()
    systems, build, kb = our_systems(corpus, args.embeddings, args.reranker or None, args.query_encoder or None,
                                     args.data)
    rows = [evaluate(name, lambda q, r=r: [h.source for h in r.retrieve(q, k=100)], queries, qrels, build_s)
            for name, (r, build_s) in systems.items()]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rankings-untrained.json").write_text(json.dumps({r["system"]: r["rankings"] for r in rows}))
    parts, times = None, {}
    if args.cv:
        from training.retrieval_pairs import LabelledPairs

        pairs = LabelledPairs({i: document_text(doc) for i, doc in corpus.items()}, queries,
                              {q: qrels[q] for q in queries}, source="beir")
        args.out.mkdir(parents=True, exist_ok=True)
        rows_wanted = tuple(r.strip() for r in args.trained.split(",") if r.strip())
        unknown = set(rows_wanted) - set(TRAINED_ROWS)
        if unknown:
            print(f"error: unknown --trained {sorted(unknown)}: use any of {', '.join(TRAINED_ROWS)}.", file=sys.stderr)
            return 2
        settings = CVSettings(folds=args.cv, minutes=args.train_minutes, rows=rows_wanted, rerank_top=args.rerank_top,
                              reranker_layers=args.reranker_layers, reranker_base=args.reranker_base,
                              first_stage_weight=args.first_stage_weight,
                              seed=args.seed, threads=args.threads)
        results, parts, times = trained_systems(kb, pairs, settings, args.out)
        for name, scored in results.items():
            rows.append(score_rankings(name, {q: r for q, (r, _) in scored.items()},
                                       {q: s for q, (_, s) in scored.items()}, qrels))
    peer_build = None
    if not args.skip_llamaindex:
        try:
            search, peer_build = llamaindex_system(corpus)
            rows.append(evaluate(PEER, search, queries, qrels, peer_build))
        except Exception as exc:  # noqa: BLE001 - the peer failing is a result to report, not a crash
            print(f"LlamaIndex stack could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
    if parts:
        for row in rows:
            row["cv"] = fold_summary(row, parts)
    tests = paired_tests({r["system"]: r["per_query_ndcg@10"] for r in rows}, [BEST_PIPELINE, PEER])
    for row in rows:
        row["significance"] = tests.get(row["system"], {})
    build["load_average"] = f"{load_start} / {_load_average()}"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "retrieval.json").write_text(json.dumps(
        {"data": args.data, "split": args.split, "build": build, "llamaindex_build_s": peer_build,
         "folds": parts, "training": times, "rows": [{k: v for k, v in r.items() if k != "rankings"} for r in rows]},
        indent=2))
    markdown = table(rows, build, peer_build, f"{args.data} ({args.split})")
    if parts:
        markdown += "\n\n" + cv_table(rows, parts, tests, times)
    (args.out / "retrieval.md").write_text(markdown + "\n")
    plot(rows, args.out / "retrieval.png")
    print(markdown)
    return 0


def _load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
