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
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from tqdm import tqdm

import models  # noqa: F401  (offline switches first)
from evals.ir_metrics import load_beir, mrr_at_k, ndcg_at_k, recall_at_k
from models.settings import shared_data
from rag.store import ScoredChunk

DEFAULT_DATA = shared_data() / "cranfield"
BEST_CANDIDATES = 100  # the best pipeline: hybrid RRF + dense feedback (graphs/rag_hybrid's default)
RERANK_CANDIDATES = 50


def document_text(doc: dict) -> str:
    title, text = doc.get("title", "").strip(), doc.get("text", "").strip()
    return text if not title or text.startswith(title) else f"{title}\n{text}"


def evaluate(name: str, search, queries: dict, qrels: dict, build_s: float | None = None) -> dict:
    """search(query text) -> ranked doc ids; metrics averaged over queries."""
    ndcg, ndcg_exp, recall, mrr, latency = [], [], [], [], []
    for query_id, text in tqdm(queries.items(), desc=name, file=sys.stderr, leave=False):
        started = time.perf_counter()
        ranked = search(text)
        latency.append(time.perf_counter() - started)
        ndcg.append(ndcg_at_k(ranked, qrels[query_id], 10))
        ndcg_exp.append(ndcg_at_k(ranked, qrels[query_id], 10, gain="exponential"))
        recall.append(recall_at_k(ranked, qrels[query_id], 100))
        mrr.append(mrr_at_k(ranked, qrels[query_id], 10))
    latency.sort()
    return {"system": name, "ndcg@10": statistics.mean(ndcg), "ndcg@10_exp": statistics.mean(ndcg_exp),
            "recall@100": statistics.mean(recall), "mrr@10": statistics.mean(mrr),
            "p50_ms": 1000 * latency[len(latency) // 2],
            "p95_ms": 1000 * latency[min(len(latency) - 1, int(0.95 * len(latency)))], "build_s": build_s}


def our_systems(corpus: dict, embeddings_spec: str, reranker_spec: str | None = None,
                query_encoder: str | None = None, data: str = "") -> tuple[dict, dict]:
    """{name: (retriever, index build seconds)} over one in-memory KnowledgeBase, the path the
    graphs use (`KnowledgeBase.retriever(mode, rerank=...)`), and the build figures."""
    from models.embeddings import embedding_dimension
    from rag.knowledge_base import KnowledgeBase
    from rag.retrievers import BM25Retriever, FusionRetriever

    ids = list(corpus)
    texts = [document_text(corpus[i]) for i in ids]
    chunks = [ScoredChunk(text=t, source=i, chunk_index=0, score=0.0) for i, t in zip(ids, texts)]
    kb = KnowledgeBase(collection=f"bench-{int(time.time())}", location=":memory:", embeddings=embeddings_spec,
                       query_cache_size=0)  # no query cache: every system embeds every query
    embeddings = kb.embeddings
    embeddings.embed_documents(texts[:32])  # warm-up: load the model outside the timings
    embedding_dimension(embeddings)

    started = time.perf_counter()
    embeddings.embed_documents(texts)
    raw_seconds = time.perf_counter() - started

    started = time.perf_counter()
    kb.store.upsert_chunks(chunks, embeddings.embed_documents(texts))
    ingest_seconds = time.perf_counter() - started

    started = time.perf_counter()
    bm25 = kb.bm25_index()  # with the in-memory vector matrix, read back from Qdrant
    bm25_seconds = time.perf_counter() - started
    started = time.perf_counter()
    rank_bm25 = BM25Retriever(chunks, backend="rank_bm25")
    rank_bm25_seconds = time.perf_counter() - started
    del bm25

    class QdrantDense:  # the same vectors searched by Qdrant local mode itself, for its latency
        def retrieve(self, query: str, k: int = 10):
            return kb.store.search(kb.embed_query(query), k=k)

    hybrid_build = ingest_seconds + bm25_seconds
    build: dict = {}
    systems = {
        "bm25 (bm25s)": (kb.retriever("bm25"), bm25_seconds),
        "bm25 (rank_bm25)": (rank_bm25, rank_bm25_seconds),
        "dense (MiniLM, Qdrant local-mode search)": (QdrantDense(), ingest_seconds),
        "dense (MiniLM, KnowledgeBase search)": (kb.retriever("dense"), ingest_seconds),
        "hybrid RRF": (kb.retriever("hybrid", candidates=100), hybrid_build),
        "hybrid relative score": (FusionRetriever([kb.retriever("bm25"), kb.retriever("dense")], mode="relative_score",
                                                  candidates=100), hybrid_build),
        "best pipeline: hybrid RRF + dense feedback": (kb.retriever("hybrid", feedback=True, candidates=BEST_CANDIDATES),
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
    return systems, build


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


def table(rows: list[dict], build: dict, peer_build: float | None, data: str) -> str:
    peer = next((r for r in rows if r["system"].startswith("LlamaIndex")), None)
    lines = [f"Retrieval on `{data}` ({build['documents']} documents). nDCG@10 with linear gains (trec_eval / BEIR); "
             "exp = 2^rel - 1 gains. Latency per query (k = 100), ratio = p50 / LlamaIndex p50 in the same run.", "",
             "| system | nDCG@10 | nDCG@10 exp | Recall@100 | MRR@10 | p50 ms | p95 ms | p50 vs LlamaIndex | build s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = f"{r['p50_ms'] / peer['p50_ms']:.2f}" if peer and peer["p50_ms"] > 0 else "-"
        built = f"{r['build_s']:.1f}" if r.get("build_s") is not None else "-"
        lines.append(f"| {r['system']} | {r['ndcg@10']:.3f} | {r['ndcg@10_exp']:.3f} | {r['recall@100']:.3f} | "
                     f"{r['mrr@10']:.3f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {ratio} | {built} |")
    lines += ["", f"Ingestion (embed + Qdrant upsert) {build['ingest_s']:.1f} s vs raw embedding {build['raw_embedding_s']:.1f} s: "
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
    parser.add_argument("--split", default="test")
    parser.add_argument("--embeddings", default="local")
    parser.add_argument("--reranker", default="", help="add hybrid + rerank rows with this reranker spec "
                        "(e5-small, cross-encoder:FOLDER, embeddings:SPEC)")
    parser.add_argument("--query-encoder", default="", help="add rows whose queries use the static query encoder in "
                        "this folder (distilled from the corpus first, timed, if the folder has none)")
    parser.add_argument("--limit", type=int, default=0, help="evaluate only the first N queries (quick runs)")
    parser.add_argument("--skip-llamaindex", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("out/retrieval"))
    args = parser.parse_args(argv)

    corpus, queries, qrels = load_beir(args.data, args.split)
    if args.limit:
        queries = dict(list(queries.items())[:args.limit])
    load_start = _load_average()
    systems, build = our_systems(corpus, args.embeddings, args.reranker or None, args.query_encoder or None, args.data)
    rows = [evaluate(name, lambda q, r=r: [h.source for h in r.retrieve(q, k=100)], queries, qrels, build_s)
            for name, (r, build_s) in systems.items()]
    peer_build = None
    if not args.skip_llamaindex:
        try:
            search, peer_build = llamaindex_system(corpus)
            rows.append(evaluate("LlamaIndex hybrid (QueryFusionRetriever, RRF)", search, queries, qrels, peer_build))
        except Exception as exc:  # noqa: BLE001 - the peer failing is a result to report, not a crash
            print(f"LlamaIndex stack could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
    build["load_average"] = f"{load_start} / {_load_average()}"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "retrieval.json").write_text(json.dumps({"data": args.data, "split": args.split, "build": build,
                                                         "llamaindex_build_s": peer_build, "rows": rows}, indent=2))
    markdown = table(rows, build, peer_build, f"{args.data} ({args.split})")
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
