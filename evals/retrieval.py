"""Retrieval benchmark on any BEIR-format data set: our retrievers side by side with
LlamaIndex's hybrid stack, same bundled embeddings, same run.

    python -m evals.retrieval --data ../shared/data/cranfield --split dev
    python -m evals.retrieval --data ../shared/data/cranfield --split dev --skip-llamaindex --out out/retrieval

Reports nDCG@10 (graded), Recall@100 and MRR@10 per system, query latency p50/p95, index build
time, and ingestion throughput as a share of the raw embedding model's throughput. Writes
retrieval.json and retrieval.md to --out (default out/retrieval).
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
from evals.ir_metrics import load_beir, mrr_at_k, ndcg_at_k, recall_at_k
from rag.store import ScoredChunk


def document_text(doc: dict) -> str:
    title, text = doc.get("title", "").strip(), doc.get("text", "").strip()
    return text if not title or text.startswith(title) else f"{title}\n{text}"


def evaluate(name: str, search, queries: dict, qrels: dict) -> dict:
    """search(query text) -> ranked doc ids; metrics averaged over queries."""
    ndcg, recall, mrr, latency = [], [], [], []
    for query_id, text in tqdm(queries.items(), desc=name, file=sys.stderr, leave=False):
        started = time.perf_counter()
        ranked = search(text)
        latency.append(time.perf_counter() - started)
        ndcg.append(ndcg_at_k(ranked, qrels[query_id], 10))
        recall.append(recall_at_k(ranked, qrels[query_id], 100))
        mrr.append(mrr_at_k(ranked, qrels[query_id], 10))
    latency.sort()
    return {"system": name, "ndcg@10": statistics.mean(ndcg), "recall@100": statistics.mean(recall),
            "mrr@10": statistics.mean(mrr), "p50_ms": 1000 * latency[len(latency) // 2],
            "p95_ms": 1000 * latency[min(len(latency) - 1, int(0.95 * len(latency)))]}


def our_systems(corpus: dict, embeddings_spec: str) -> tuple[dict, dict]:
    from models import load_embeddings
    from models.embeddings import embedding_dimension
    from rag.retrievers import BM25Retriever, FusionRetriever
    from rag.store import QdrantStore

    ids = list(corpus)
    texts = [document_text(corpus[i]) for i in ids]
    chunks = [ScoredChunk(text=t, source=i, chunk_index=0, score=0.0) for i, t in zip(ids, texts)]
    embeddings = load_embeddings(embeddings_spec)
    embeddings.embed_documents(texts[:32])  # warm-up: load the model outside the timings

    started = time.perf_counter()
    embeddings.embed_documents(texts)
    raw_seconds = time.perf_counter() - started

    started = time.perf_counter()
    store = QdrantStore.open(":memory:", f"bench-{int(time.time())}", embedding_dimension(embeddings))
    store.upsert_chunks(chunks, embeddings.embed_documents(texts))
    ingest_seconds = time.perf_counter() - started

    started = time.perf_counter()
    bm25 = BM25Retriever(chunks)
    bm25_seconds = time.perf_counter() - started

    class Dense:
        def retrieve(self, query: str, k: int = 10):
            return store.search(embeddings.embed_query(query), k=k)

    dense = Dense()
    systems = {
        "bm25 (bm25s)": bm25,
        "dense (MiniLM + Qdrant)": dense,
        "hybrid RRF": FusionRetriever([bm25, dense], mode="reciprocal_rank", candidates=100),
        "hybrid relative score": FusionRetriever([bm25, dense], mode="relative_score", candidates=100),
    }
    build = {"documents": len(ids), "raw_embedding_s": raw_seconds, "ingest_s": ingest_seconds,
             "ingest_vs_raw_throughput": raw_seconds / ingest_seconds, "bm25_index_s": bm25_seconds}
    return systems, build


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
    lines = [f"Retrieval on `{data}` ({build['documents']} documents)", "",
             "| system | nDCG@10 | Recall@100 | MRR@10 | p50 ms | p95 ms |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['system']} | {r['ndcg@10']:.3f} | {r['recall@100']:.3f} | {r['mrr@10']:.3f} | "
                     f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} |")
    lines += ["", f"Ingestion (embed + Qdrant upsert) {build['ingest_s']:.1f} s vs raw embedding {build['raw_embedding_s']:.1f} s: "
              f"{build['ingest_vs_raw_throughput']:.2f} of raw throughput; BM25 index {build['bm25_index_s']:.2f} s."]
    if peer_build is not None:
        lines.append(f"LlamaIndex stack build (split, embed, index, BM25): {peer_build:.1f} s.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.retrieval", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a BEIR folder (corpus.jsonl, queries*.jsonl, qrels/)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--embeddings", default="local")
    parser.add_argument("--skip-llamaindex", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("out/retrieval"))
    args = parser.parse_args(argv)

    corpus, queries, qrels = load_beir(args.data, args.split)
    systems, build = our_systems(corpus, args.embeddings)
    rows = [evaluate(name, lambda q, r=r: [h.source for h in r.retrieve(q, k=100)], queries, qrels)
            for name, r in systems.items()]
    peer_build = None
    if not args.skip_llamaindex:
        try:
            search, peer_build = llamaindex_system(corpus)
            rows.append(evaluate("LlamaIndex hybrid (QueryFusionRetriever, RRF)", search, queries, qrels))
        except Exception as exc:  # noqa: BLE001 - the peer failing is a result to report, not a crash
            print(f"LlamaIndex stack could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "retrieval.json").write_text(json.dumps({"data": args.data, "split": args.split, "build": build,
                                                         "llamaindex_build_s": peer_build, "rows": rows}, indent=2))
    markdown = table(rows, build, peer_build, f"{args.data} ({args.split})")
    (args.out / "retrieval.md").write_text(markdown + "\n")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
